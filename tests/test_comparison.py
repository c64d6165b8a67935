"""Chapter 11's comparison: checkpoint protocols, equal budgets, the ranking, verdicts, resume."""
import json

import pytest

from gancomp_lite.errors import BudgetError, GancompError
from gancomp_lite.experiments import comparison as C
from gancomp_lite.experiments import results


def test_the_three_checkpoint_protocols_pick_what_they_say():
    curve = {"step": [10, 20, 30, 40], "l1": [0.30, 0.20, 0.25, 0.22],
             "held_out_l1": [0.31, 0.27, 0.24, 0.26]}
    p = C.protocols(curve)
    assert p["last"] == 0.22                                   # the book's rule
    assert p["best-on-test"] == 0.20 and p["best_step"] == 20  # the released code's rule
    assert p["held-out"] == 0.25 and p["held_out_step"] == 30  # chosen on held-out, judged on test
    assert p["best-on-test"] <= min(p["last"], p["held-out"])
    with pytest.raises(GancompError, match="as many"):
        C.protocols({"step": [1, 2], "l1": [0.1, 0.2], "held_out_l1": [0.1]})


def _rows(values: dict, budget: int = 7):
    """values: method -> per-seed L1 (last = the curve's end, best-on-test a little lower)."""
    rows = []
    for m, vals in values.items():
        for seed, v in enumerate(vals):
            rows.append({"method": m, "arm": m, "budget_ngf": budget, "seed": seed, "l1": v,
                         "gmacs_256": 0.36, "mparams": 0.1, "protocol_last": v,
                         "protocol_best-on-test": v - 0.01, "protocol_held-out": v - 0.002})
    return rows


def test_verdicts_follow_the_rule_gated_by_the_trivial_translators():
    trivial = {"identity": 0.27, "mean target": 0.215}
    rows = _rows({"scratch": [0.120, 0.122, 0.121], "gan-compression": [0.100, 0.101, 0.099],
                  "once-for-all": [0.100, 0.110, 0.090], "cat": [0.140, 0.141, 0.139],
                  "omgd": [0.300, 0.290, 0.310], "crd": [0.090, 0.091, 0.089]})
    v = C.verdicts(rows, trivial, seeds=3)
    assert set(v) == set(C.CLAIMS)
    assert v["gc_beats_scratch@ngf7"]["verdict"] == "confirmed"
    assert v["cat_beats_gc@ngf7"]["verdict"] == "not confirmed"     # built to be worse
    assert v["ofa_beats_gc@ngf7"]["verdict"] == "inconclusive"      # a tie
    # omgd is worse than the mean target image: claims on it are not judged
    assert v["omgd_beats_gc@ngf7"]["verdict"] == results.NOT_JUDGED
    assert v["crd_beats_omgd@ngf7"]["verdict"] == results.NOT_JUDGED
    # the other budget has no runs yet
    assert v["gc_beats_scratch@ngf10"]["verdict"] == "inconclusive"
    assert "not finished" in v["gc_beats_scratch@ngf10"]["reason"]
    # one seed short is unfinished, not judged
    short = [r for r in rows if not (r["method"] == "scratch" and r["seed"] == 2)]
    assert "not finished" in C.verdicts(short, trivial, seeds=3)["gc_beats_scratch@ngf7"]["reason"]


def test_the_ranking_orders_by_the_protocol_and_marks_ties():
    rows = _rows({"a": [0.10, 0.101, 0.099], "b": [0.15, 0.151, 0.149], "c": [0.16, 0.14, 0.15]})
    for r in rows:
        r["method"] = r["arm"] = {"a": "crd", "b": "omgd", "c": "cat"}[r["method"]]
    ranked = C.ranking(rows)[7]
    assert [x["method"] for x in ranked] == ["crd", "omgd", "cat"]
    assert [x["vs_next"] for x in ranked] == ["ahead", "tie", None]
    assert C.ranking(rows, "best-on-test")[7][0]["mean"] == pytest.approx(0.09)
    with pytest.raises(GancompError, match="protocol"):
        C.ranking(rows, "best")
    infl = {(i["method"], i["budget_ngf"]): i for i in C.inflation(rows)}
    assert infl["crd", 7]["inflation"] == pytest.approx(0.01)
    assert infl["crd", 7]["best_vs_last"] == "lower"


def test_the_search_can_be_held_to_a_band_below_the_budget():
    from gancomp_lite.compression.ofa import evolution_search, search_space, subnet_macs

    sp = search_space("channels-48-ci")
    cost = lambda c: subnet_macs(c, 256, C.CONVENTION)  # noqa: E731
    budget = C.budget_of(7)
    found = evolution_search(sp, budget, lambda c: -cost(c) if cost(c) < 0.97 * budget else 0.0,
                             cost, population=8, generations=2, floor=0.95 * budget)
    assert 0.95 * budget <= found.best_macs <= budget
    with pytest.raises(BudgetError, match="between"):
        evolution_search(sp, budget, lambda c: 0.0, cost, population=4, generations=1,
                         floor=budget + 1, max_redraws=20)


def test_every_method_trains_a_student_at_its_budget(tiny_run):
    rows = tiny_run
    assert {r["method"] for r in rows} == set(C.METHODS)
    for r in rows:
        assert 1 - C.BUDGET_TOLERANCE <= r["budget_fraction"] <= 1, r["method"]
        assert r["macs_convention"] == C.CONVENTION and r["cost_seconds"] > 0
        assert r["curve"]["step"][-1] == r["steps"] - (0 if r["method"] != "once-for-all" else 2)
        assert r["protocol_last"] == pytest.approx(r["l1"], abs=1e-6)   # the last is the final net
        assert r["best_ms"] > 0 and r["best_runtime"] in r["latency_ms"]
    ofa = next(r for r in rows if r["method"] == "once-for-all")
    assert ofa["cost_seconds"] > ofa["supernet_seconds"] + ofa["search_seconds"]
    cat = next(r for r in rows if r["method"] == "cat")
    assert cat["cost_seconds"] == pytest.approx(cat["prune_seconds"] + cat["train_seconds"])
    omgd, crd = (next(r for r in rows if r["method"] == m) for m in ("omgd", "crd"))
    assert omgd["shared_with"] == ["crd"] and omgd["online_teacher_l1"] == crd["online_teacher_l1"]


def _shapes_only_latency(G, threads=1, repeats=5, size=256):
    """A stand-in for :func:`comparison.latency` where a test is not about latency: the
    ONNX export it needs takes seconds per network (the real one is tested below)."""
    return {"latency_ms": {"eager": 1.0}, "best_runtime": "eager", "best_ms": 1.0,
            "latency_threads": threads, "latency_size": size}


def test_latency_times_the_student_on_each_runtime_and_names_the_fastest():
    from gancomp_lite.models import build_generator

    r = C.latency(build_generator("mobile_resnet", ngf=4), repeats=1, size=16)
    assert set(r["latency_ms"]) == {"eager", "onnxruntime"} and all(v > 0 for v in r["latency_ms"].values())
    assert r["best_ms"] == min(r["latency_ms"].values()) == r["latency_ms"][r["best_runtime"]]
    assert (r["latency_threads"], r["latency_size"]) == (1, 16)


@pytest.fixture(scope="module")
def tiny_run():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(C, "latency", _shapes_only_latency)
        return C.run(seeds=(0,), steps=2, n_eval=8, n_held=8, points=2, budget_ngfs=(7,),
                     population=4, generations=1, finetune_steps=2, latency_repeats=1,
                     latency_size=32, progress=False)


def test_a_resumed_comparison_keeps_its_finished_runs(tmp_path, monkeypatch, capsys):
    import gancomp_lite.provenance as prov
    from gancomp_lite.cli import main

    monkeypatch.setattr(prov, "require_clean", lambda *a, **k: "0" * 40)   # a clean commit
    monkeypatch.setattr(C, "latency", _shapes_only_latency)
    out = tmp_path / "cmp.json"
    args = ["sweep-comparison", "--methods", "scratch", "--seeds", "0", "--steps", "1",
            "--n", "8", "--curve-points", "1", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    whole = results.load(out)
    assert whole["command"].count("--methods scratch ") == 1
    assert set(whole["claims"]) == set(C.CLAIMS) and whole["baselines"]
    assert whole["cost_clock"] == C.CLOCK       # CPU time: a paused or crowded run costs the same
    assert [(r["method"], r["budget_ngf"]) for r in whole["rows"]] == [("scratch", 7), ("scratch", 10)]
    out.write_text(json.dumps(dict(whole, status="running", rows=whole["rows"][:1])))
    assert main(args) == 2                                        # exists: not overwritten
    assert main(args + ["--resume", "--force"]) == 2
    assert main(args + ["--resume"]) == 0
    resumed = results.load(out)
    assert resumed["status"] == "complete" and resumed["rows"][0] == whole["rows"][0]
    assert [(r["method"], r["budget_ngf"]) for r in resumed["rows"]] == [
        (r["method"], r["budget_ngf"]) for r in whole["rows"]]
    capsys.readouterr()
    cut = args.index("--curve-points")
    assert main(args[:cut] + ["--curve-points", "0", "--out", str(tmp_path / "x.json")]) == 2
    assert "--curve-points >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        main(["sweep-comparison", "--methods", "pruning", "--out", "x.json"])
    assert bad.value.code == 2 and "invalid choice: 'pruning'" in capsys.readouterr().err


def test_budgets_are_checked_before_training_and_seed0_students_are_saved(tmp_path, monkeypatch,
                                                                          capsys):
    import gancomp_lite.provenance as prov
    from gancomp_lite.cli import main
    from gancomp_lite.training.checkpoint import load_student_file, read_manifest
    from gancomp_lite.training.teachers import load_teacher

    monkeypatch.setattr(prov, "require_clean", lambda *a, **k: "0" * 40)
    monkeypatch.setattr(C, "latency", _shapes_only_latency)
    ranges = C.reachable()
    assert ranges["once-for-all"] == list(range(7, 13))   # the channels-48-ci space, within 5% below
    assert ranges["scratch"][0] == 1 and ranges["cat"][0] > 1    # pruning keeps a channel floor
    assert {7, 10} <= set(ranges["cat"]) and 8 not in ranges["cat"]  # its step jumps past ngf 8's band
    top = ranges["scratch"][-1]
    teacher_macs = C.macs_of(load_teacher("edges2shapes", "ci"))
    assert C.budget_of(top) < teacher_macs <= C.budget_of(top + 1)   # the widest below the teacher
    # a budget no method reaches, one the search space cannot hold, one given twice: one line each
    for bad, says in ((["--budget-ngfs", str(top + 1)], f"scratch reaches ngf 1-{top};"),
                      (["--methods", "once-for-all", "--budget-ngfs", "3"], "once-for-all reaches ngf 7-12;"),
                      (["--methods", "cat", "--budget-ngfs", "8"], "reaches --budget-ngfs 3-5, 7, 10-"),
                      (["--budget-ngfs", "8", "8"], "given twice")):
        assert main(["sweep-comparison", *bad, "--out", str(tmp_path / "bad.json")]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
    assert not (tmp_path / "bad.json").exists()       # refused before anything was written
    out, keep = tmp_path / "cmp.json", tmp_path / "students"
    args = ["sweep-comparison", "--methods", "scratch", "cat", "--budget-ngfs", "10", "--seeds", "1",
            "0", "--steps", "1", "--n", "8", "--curve-points", "1", "--out", str(out),
            "--save-students", str(keep), "--no-progress"]
    assert main(args) == 0
    data = results.load(out)
    assert "--budget-ngfs 10 --out" in data["command"] and data["command"].endswith(
        f"--save-students {keep.as_posix()}")
    assert sorted(data["claims"]) == sorted(C._claims((10,))) and data["budgets"] == {"ngf10": C.budget_of(10)}
    # only the first seed's students are kept, one per method, and they are the scored networks
    assert sorted(p.name for p in keep.glob("*.pt")) == ["comparison-cat-ngf10-seed1.pt",
                                                         "comparison-scratch-ngf10-seed1.pt"]
    for m in ("scratch", "cat"):
        path = C.student_file(keep, m, 10, 1)
        G, man = load_student_file(path), read_manifest(path)
        assert man["kind"] == C.SWEEP_STUDENT_KIND and man["arm"] == m and man["results"] == out.name
        row = next(r for r in data["rows"] if r["method"] == m and r["seed"] == 1)
        assert C.macs_of(G) / 1e9 == pytest.approx(row["gmacs_256"])
    v = C.verdicts(data["rows"], data["baselines"], 2, data["settings"]["budget_ngfs"])
    assert set(v) == set(C._claims((10,)))
    assert main(args[:-3] + ["--out", str(tmp_path / "again.json"), "--save-students", str(keep),
                             "--no-progress"]) == 2          # the students exist: not overwritten
    assert "exists" in capsys.readouterr().err


def test_the_ranking_in_words_and_the_papers_own_order():
    ranked = [{"method": "crd", "vs_next": "ahead"}, {"method": "omgd", "vs_next": "tie"},
              {"method": "cat", "vs_next": None}]
    assert C.ranking_text(ranked) == "crd > omgd = cat" and C.ranking_text([]) == ""
    assert C.width_spans([10, 3, 4, 5, 7, 11]) == "3-5, 7, 10-11" and C.width_spans([]) == "none"
    # CRD's Table 1 on horse2zebra, best FID first; the teacher is not a method
    assert [m for m, _, _ in C.paper_ranking("horse2zebra")] == [
        "CRD", "OMGD", "CAT", "GAN Compression"]
    assert all(len(p) == 7 and p[4] > 0 for p in C.PAPER_RESULTS)


def test_the_chapter_figures_draw_every_run_its_mean_and_each_rules_pick():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gancomp_lite.viz import method_scatter, protocol_figure

    rows = _rows({"scratch": [0.12, 0.13], "crd": [0.10, 0.11]})
    for i, r in enumerate(rows):
        r["cost"] = 1.0 + i
    fig = method_scatter(rows, "cost", "t", "x", reference={"teacher": 0.05}, order=C.METHODS,
                         logx=True)
    ax = fig.axes[0]
    drawn = [c.get_offsets() for c in ax.collections]
    assert len(drawn) == 4 and sum(len(d) for d in drawn) == 6     # 4 runs, 2 means
    assert [h.get_label() for h in ax.get_legend().legend_handles][:2] == ["scratch", "crd"]
    means = sorted(float(d[0][1]) for d in drawn if len(d) == 1)
    assert means == pytest.approx([0.105, 0.125])
    plt.close(fig)
    curve = {"step": [1, 2, 3], "l1": [0.3, 0.2, 0.25], "held_out_l1": [0.31, 0.28, 0.27]}
    fig = protocol_figure({"a": {"curve": curve}}, "t")
    picks = [tuple(map(float, c.get_offsets()[0])) for c in fig.axes[0].collections]
    assert picks == [(2.0, 0.2), (3.0, 0.25), (3.0, 0.25)]   # best-on-test, held-out, last
    plt.close(fig)
