"""The decomposition sweep and its verdict rules."""
import pytest

from gancomp_lite.experiments import decomposition as d


def rows_from(fids: dict, macs=None):
    """fids: (variant, ngf) -> list of FIDs over seeds."""
    macs = macs or {"original": 4.0, "down": 3.5, "blocks": 1.4, "up": 3.3}
    return [{"variant": v, "ngf": n, "seed": s, "gmacs_256": macs[v] * n / 16, "mparams": 0.1,
             "fid": f, "l1": f / 100}
            for (v, n), fs in fids.items() for s, f in enumerate(fs)]


def table(orig, down, blocks, up):
    return {(v, n): vals for n in (16, 4)
            for v, vals in (("original", orig), ("down", down), ("blocks", blocks), ("up", up))}


def test_paper_like_results_confirm_every_claim():
    rows = rows_from(table([10, 11, 10.5], [12, 12.5, 12.2], [12.4, 12.8, 12.6], [30, 31, 29]))
    v = d.verdicts(rows)
    assert {k: x["verdict"] for k, x in v.items()} == {
        "blocks_cheapest": "confirmed", "blocks_beat_up": "confirmed", "up_most_sensitive": "confirmed"}
    assert v["blocks_beat_up"]["metric"] == "l1" and v["blocks_cheapest"]["metric"] == "MACs"
    assert set(v) == set(d.CLAIMS)


def test_clear_counter_evidence_is_not_confirmed():
    rows = rows_from(table([10, 10.2, 10.1], [30, 30.5, 30.2], [50, 51, 50.5], [12, 12.2, 12.1]))
    v = d.verdicts(rows)
    assert v["blocks_beat_up"]["verdict"] == "not confirmed"
    assert v["up_most_sensitive"]["verdict"] == "not confirmed"
    expensive = rows_from(table([10, 11, 10.5], [12, 12.5, 12.2], [12.4, 12.8, 12.6], [30, 31, 29]),
                          macs={"original": 4.0, "down": 1.0, "blocks": 1.4, "up": 3.3})
    assert d.verdicts(expensive)["blocks_cheapest"]["verdict"] == "not confirmed"


def test_ties_and_single_seeds_are_inconclusive():
    # no stage clearly better or worse than another: a tie confirms nothing
    tie = rows_from(table([10, 20, 15], [11, 21, 16], [12, 22, 17], [13, 23, 18]))
    v = d.verdicts(tie)
    assert v["up_most_sensitive"]["verdict"] == "inconclusive"
    assert v["blocks_beat_up"]["verdict"] == "inconclusive"
    single = rows_from(table([10], [12], [12], [30]))
    assert all(x["verdict"] == "inconclusive" for k, x in d.verdicts(single).items()
               if k != "blocks_cheapest")


def test_summarise_mean_and_spread():
    s = {(r["variant"], r["ngf"]): r for r in d.summarise(rows_from(table([1, 3], [2, 2], [3, 3], [4, 6])))}
    assert s["original", 16]["fid_mean"] == 2 and s["original", 16]["fid_std"] == pytest.approx(2 ** 0.5)
    assert s["down", 4]["fid_std"] == 0 and s["up", 4]["seeds"] == 2
    assert s["up", 4]["fid_values"] == [4, 6]


def test_run_trains_every_variant(tmp_path):
    models = {}
    rows = d.run(widths=(4,), seeds=(0,), steps=2, size=32, n_train=8, n_eval=4, progress=False,
                 models=models)
    assert [r["variant"] for r in rows] == list(d.VARIANTS)
    assert set(models) == {(v, 4, 0) for v in d.VARIANTS}
    assert {"fid", "kid", "l1", "psnr", "ssim", "gmacs_256", "mparams"} <= set(rows[0])
    path = d.save(rows, tmp_path / "r.json", "cmd", "v", {"widths": [4]})
    assert d.load(path)["rows"] == rows and d.load(path)["claims"] == d.CLAIMS


def test_run_on_the_unpaired_task_uses_cyclegan_and_the_oracle():
    rows = d.run(task="stripes", widths=(4,), seeds=(0,), steps=1, size=32, n_train=4, n_eval=4,
                 progress=False)
    assert len(rows) == len(d.VARIANTS)
    assert {"fid", "oracle_animal_w1", "oracle_background_l1"} <= set(rows[0])


def _cut_and_resume(main, args, out, keep):
    """Run ``args`` whole, cut its results file to the first ``keep`` rows as an
    interrupted run leaves it, resume it; return (whole, resumed)."""
    import json

    from gancomp_lite.experiments import results

    assert main(args) == 0
    whole = results.load(out)
    out.write_text(json.dumps(dict(whole, status="running", rows=whole["rows"][:keep])))
    assert main(args) == 2                                      # exists: not overwritten
    assert main(args + ["--resume", "--force"]) == 2
    assert main(args + ["--resume"]) == 0
    resumed = results.load(out)
    assert resumed["status"] == "complete" and resumed["sessions"][0]["rows_kept"] == keep
    assert resumed["rows"][:keep] == whole["rows"][:keep]      # kept as they were, not re-trained
    return whole, resumed


def test_a_resumed_decomposition_sweep_keeps_its_finished_runs(tmp_path, monkeypatch):
    import gancomp_lite.provenance as prov
    from gancomp_lite.cli import main

    monkeypatch.setattr(prov, "require_clean", lambda *a, **k: "0" * 40)   # a clean commit
    out = tmp_path / "dec.json"
    args = ["sweep-decomposition", "--widths", "4", "--seeds", "0", "--steps", "1", "--n", "8",
            "--curve-points", "0", "--out", str(out), "--no-progress"]
    whole, resumed = _cut_and_resume(main, args, out, keep=2)
    key = lambda r: (r["variant"], r["ngf"], r["seed"])  # noqa: E731
    assert [key(r) for r in resumed["rows"]] == [key(r) for r in whole["rows"]]
    assert len(whole["rows"]) == len(d.VARIANTS)
