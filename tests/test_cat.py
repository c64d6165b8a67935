"""CAT's building blocks: the inception generator, its cost in CAT's convention,
and kernel alignment."""
import pytest
import torch

from gancomp_lite.errors import GancompError
from gancomp_lite.losses import DISTILL_LOSSES, KernelAlignmentLoss, kernel_alignment
from gancomp_lite.metrics.cost import count_params, profile_macs
from gancomp_lite.models import InceptionBlock, InceptionGenerator, build_generator, from_config, describe
from gancomp_lite.models.inception import BRANCHES, KERNELS


def cat_teacher_by_hand(ngf=64, size=256, factor=6):
    """Parameters and CAT-profiler MACs of CAT's teacher, term by term (affine IN, biases)."""
    C, m, hw = 4 * ngf, 4 * ngf // factor, (size // 4) ** 2
    params = macs = 0
    # encoder: 7x7 conv, two stride-2 3x3 convs, each + affine IN (2 params, numel MACs)
    for c_in, c_out, k, side in ((3, ngf, 7, size), (ngf, 2 * ngf, 3, size // 2), (2 * ngf, C, 3, size // 4)):
        params += c_in * c_out * k * k + c_out + 2 * c_out
        macs += c_out * side * side * c_in * k * k + c_out * side * side
    for _ in range(9):
        for k in KERNELS:  # res branch: kxk C->m (+IN), kxk m->C
            params += C * m * k * k + m + 2 * m + m * C * k * k + C
            macs += 2 * (m * C * k * k) * hw + m * hw
        for k in KERNELS:  # dw branch: 1x1 C->m (+IN), depthwise kxk (+IN), 1x1 m->C
            params += C * m + m + 2 * m + m * k * k + m + 2 * m + m * C + C
            macs += (C * m + m + m * k * k + m + m * C) * hw
        params += 2 * C          # the block's norm after the sum
        macs += C * hw
    # decoder: two transposed convs (counted over the output grid) + IN, the 7x7 conv
    for c_in, c_out, side in ((C, 2 * ngf, size // 2), (2 * ngf, ngf, size)):
        params += c_in * c_out * 9 + c_out + 2 * c_out
        macs += c_out * side * side * c_in * 9 + c_out * side * side
    params += ngf * 3 * 49 + 3
    macs += 3 * size * size * ngf * 49
    return params, macs


def test_cat_teacher_costs_reproduce_the_task_statements_numbers():
    G = build_generator("inception", ngf=64)
    params, macs = cat_teacher_by_hand()
    assert count_params(G) == params
    assert profile_macs(G, 256, "cat") == macs
    assert round(params / 1e6, 3) == 8.154 and round(macs / 1e9, 1) == 43.5   # CAT's teacher
    # CAT's profiler ignores BatchNorm with running statistics (its pix2pix teachers)
    G_bn = build_generator("inception", ngf=64, norm="batch")
    assert round(profile_macs(G_bn, 256, "cat") / 1e9, 2) == 43.49
    assert profile_macs(G_bn, 256, "in-excluded") > profile_macs(G_bn, 256, "cat")


def test_cat_convention_equals_in_counted_on_instance_norm_networks():
    for arch in ("resnet", "mobile_resnet"):
        G = build_generator(arch, ngf=8)
        assert profile_macs(G, 64, "cat") == profile_macs(G, 64, "in-counted")


def test_inception_block_shapes_and_removed_branches():
    x = torch.randn(2, 24, 8, 8)
    block = InceptionBlock(24, [4] * len(BRANCHES))
    assert block(x).shape == x.shape
    assert len(block.res_ops) == 3 and len(block.dw_ops) == 3
    pruned = InceptionBlock(24, [0, 3, 0, 2, 0, 1])
    assert len(pruned.res_ops) == 1 and len(pruned.dw_ops) == 2 and pruned(x).shape == x.shape
    empty = InceptionBlock(24, [0] * 6)
    assert torch.equal(empty(x), x)                      # no branch left: the identity
    with pytest.raises(ValueError, match="branch widths"):
        InceptionBlock(24, [1, 2])


def test_a_pruned_inception_generator_runs_and_rebuilds_from_its_config():
    branches = [[3, 0, 2, 1, 0, 2]] * 8 + [[0] * 6]
    G = InceptionGenerator(ngf=8, down=[5, 7, 12], up=[6, 4], branches=branches)
    y = G(torch.randn(1, 3, 32, 32))
    assert y.shape == (1, 3, 32, 32)
    H = from_config(describe(G))
    H.load_state_dict(G.state_dict())
    assert torch.equal(H(torch.ones(1, 3, 32, 32)), G(torch.ones(1, 3, 32, 32)))
    assert InceptionGenerator.DISTILL_LAYERS == ("down_sampling.9", "features.2", "features.5",
                                                 "features.8")
    with pytest.raises(ValueError, match="affine norm"):
        InceptionGenerator(ngf=8, norm="instance")


def test_kernel_alignment_properties():
    torch.manual_seed(0)
    x = torch.rand(4, 8, 5, 5)
    assert kernel_alignment(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert kernel_alignment(x, 3.7 * x).item() == pytest.approx(1.0, abs=1e-6)
    y = torch.rand(4, 3, 2, 2)                             # other channels and size
    assert kernel_alignment(x, y).item() == pytest.approx(kernel_alignment(y, x).item(), abs=1e-7)
    fx, fy = x.flatten(1), y.flatten(1)
    kx, ky = fx @ fx.T, fy @ fy.T
    direct = (kx * ky).sum() / torch.sqrt((kx ** 2).sum() * (ky ** 2).sum())
    assert kernel_alignment(x, y).item() == pytest.approx(direct.item(), rel=1e-6)
    # orthogonal samples: X's samples live on disjoint coordinates, Y's Gram is all-ones off-diagonal
    ortho = torch.eye(4).reshape(4, 4, 1, 1)
    shared = torch.zeros(4, 4, 1, 1)
    shared[:, 0] = 1.0
    assert kernel_alignment(ortho, shared).item() == pytest.approx(0.5, abs=1e-6)  # 4 / sqrt(4*16)
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
    assert abs(kernel_alignment(a, b).item()) < 1e-6      # Gram matrices orthogonal under <,>_F
    with pytest.raises(GancompError, match="batch of at least 2"):
        kernel_alignment(x[:1], x[:1])
    with pytest.raises(GancompError, match="one batch"):
        kernel_alignment(x, x[:2])


def test_ka_distillation_trains_the_student_through_the_distiller():
    from gancomp_lite.models import NLayerDiscriminator
    from gancomp_lite.training.distill import DistillObjective

    assert DISTILL_LOSSES["ka"] is KernelAlignmentLoss
    torch.manual_seed(0)
    teacher = InceptionGenerator(ngf=8).eval()
    student = InceptionGenerator(ngf=4)
    obj = DistillObjective(teacher, student, NLayerDiscriminator(6, ndf=8), paired=True,
                           distill_loss="ka", lambda_recon=0.0, lambda_gan=0.0, image_size=32)
    assert not list(obj.distill_loss.parameters())       # no mapping layers
    batch = {"A": torch.randn(2, 3, 32, 32), "B": torch.randn(2, 3, 32, 32)}
    ctx = obj.forward_step(batch)
    loss = next(t for t in obj.terms["G"] if t.name == "distill").fn(ctx)
    assert -4.0 <= loss.item() < 0.0
    loss.backward()
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in obj.teacher.parameters())


# -- one-step pruning ----------------------------------------------------------------
def scored_teacher(ngf=8, seed=0):
    """An inception teacher whose scored norms have spread-out scales (trained ones do)."""
    torch.manual_seed(seed)
    T = InceptionGenerator(ngf=ngf)
    with torch.no_grad():
        for m in T.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.0, 1.0)
                m.bias.uniform_(-0.1, 0.1)
    return T.eval()


def test_one_step_pruning_meets_the_target_and_macs_fall_with_the_threshold():
    from gancomp_lite.compression.one_step import (keep_at, one_step_prune, pruned_config, scores)

    T = scored_teacher()
    before = {k: v.clone() for k, v in T.state_dict().items()}
    full = profile_macs(T, 32, "cat")
    student, report = one_step_prune(T, 0.4 * full, size=32)
    assert report.macs <= 0.4 * full and profile_macs(student, 32, "cat") == report.macs
    assert report.macs > 0.3 * full                    # the bisection does not overshoot far
    assert report.seconds > 0 and len(report.steps) >= 3
    assert all(torch.equal(v, T.state_dict()[k]) for k, v in before.items())   # teacher unchanged
    assert student(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    # MACs never rise as the threshold does
    s = scores(T)
    grid = torch.linspace(0.0, 1.0, 7).tolist()
    macs = [profile_macs(InceptionGenerator(**pruned_config(T, keep_at(s, t, 2))), 32, "cat")
            for t in grid]
    assert all(a >= b for a, b in zip(macs, macs[1:])) and macs[0] > macs[-1]


def test_one_step_pruning_names_the_reachable_range():
    from gancomp_lite.compression.one_step import one_step_prune
    from gancomp_lite.errors import BudgetError

    T = scored_teacher()
    full = profile_macs(T, 32, "cat")
    for target in (1e3, full, 2 * full):
        with pytest.raises(BudgetError, match="reachable are"):
            one_step_prune(T, target, size=32)
    with pytest.raises(GancompError, match="inception"):
        one_step_prune(build_generator("resnet", ngf=8), 1e6, size=32)


def test_an_untrained_stand_in_is_pruned_to_the_budget_deterministically_per_seed():
    from gancomp_lite.compression.one_step import prune_untrained
    from gancomp_lite.errors import BudgetError

    kw = dict(ngf=8, n_blocks=3, size=16)
    full = profile_macs(InceptionGenerator(ngf=8, n_blocks=3), 16, "cat")
    rng = torch.get_rng_state()
    a, ra = prune_untrained(0.4 * full, seed=0, **kw)
    assert torch.equal(torch.get_rng_state(), rng)              # the caller's random stream untouched
    b, rb = prune_untrained(0.4 * full, seed=0, **kw)
    c, rc = prune_untrained(0.4 * full, seed=1, **kw)
    assert 0.3 * full < ra.macs <= 0.4 * full and profile_macs(a, 16, "cat") == ra.macs
    assert ra.config == rb.config and ra.config != rc.config      # the seed picks the layout
    assert a(torch.randn(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(BudgetError, match="reachable are"):
        prune_untrained(2 * full, **kw)


def test_inherited_weights_compute_the_teachers_function_when_pruned_channels_were_silent():
    """Zero the scale and shift of every channel the threshold drops: the teacher then
    computes exactly what its pruned copy with inherited weights computes."""
    from gancomp_lite.compression.one_step import _copy_kept, keep_at, pruned_config, scores

    T = scored_teacher(seed=1)
    t = 0.5
    keep = keep_at(scores(T), t, floor=1)
    with torch.no_grad():
        for name in T.SCORED_DOWN[:2] + T.SCORED_UP:   # the residual width stays whole
            norm = T.get_submodule(name)
            drop = torch.ones(norm.weight.numel(), dtype=torch.bool)
            drop[keep[name]] = False
            norm.weight[drop] = 0
            norm.bias[drop] = 0
        keep[T.SCORED_DOWN[2]] = torch.arange(T.config["down"][2])
        for block_idx, block in enumerate(T.features):
            for name, branch in zip(BRANCHES, list(block.res_ops) + list(block.dw_ops)):
                norms = [m for m in branch if isinstance(m, torch.nn.InstanceNorm2d)]
                drop = torch.ones(norms[0].weight.numel(), dtype=torch.bool)
                drop[keep[f"features.{block_idx}.{name}"]] = False
                for n in norms:
                    n.weight[drop] = 0
                    n.bias[drop] = 0
    S = InceptionGenerator(**pruned_config(T, keep))
    _copy_kept(T, S, keep)
    assert count_params(S) < count_params(T)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(S.eval()(x), T(x), atol=1e-5)


def test_prune_command_writes_a_loadable_network_and_refuses_bad_input(tmp_path, capsys):
    import json

    from gancomp_lite.cli import main
    from gancomp_lite.paths import DATA_DIR
    from gancomp_lite.shipped import _half, write_shipped
    from gancomp_lite.training.checkpoint import TEACHER_FORMAT, load_generator_file

    T = scored_teacher()
    teacher_file = tmp_path / "inception-teacher.pt"
    write_shipped({"format": TEACHER_FORMAT, "objective": "Pix2PixObjective",
                   "generator": {"config": describe(T), "state_dict": _half(T.state_dict())}},
                  teacher_file, {"kind": "pix2pix teacher", "task": "edges2shapes"})
    full = profile_macs(T, 32, "cat")
    out = tmp_path / "pruned.pt"
    argv = ["prune", str(teacher_file), "--target-macs", str(0.5 * full), "--size", "32",
            "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "bisection steps" in printed and "MACs [cat]" in printed and "block 8:" in printed
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["prune"]["macs"] <= 0.5 * full and manifest["prune"]["seconds"] > 0
    S = load_generator_file(out)
    assert isinstance(S, InceptionGenerator) and profile_macs(S, 32, "cat") == manifest["prune"]["macs"]
    assert main(argv) == 2                                    # exists: --force
    assert "--force" in capsys.readouterr().err
    assert main(argv[:3] + ["1e3"] + argv[4:] + ["--force"]) == 2
    assert "reachable are" in capsys.readouterr().err
    assert main(["prune", str(DATA_DIR / "teachers" / "edges2shapes-ci.pt"), "--target-macs", "1e8",
                 "--out", str(tmp_path / "x.pt")]) == 2
    assert "needs an inception teacher" in capsys.readouterr().err


def test_cat_pipeline_from_the_command_line(tmp_path, capsys, monkeypatch):
    """An inception teacher trained and shipped, pruned in one step, and a student distilled
    from it with kernel alignment: every step through the real command line, tiny."""
    import json

    import gancomp_lite.provenance
    from gancomp_lite.cli import main

    monkeypatch.setattr(gancomp_lite.provenance, "code_version", lambda root=None: "0" * 40)
    run, ship = tmp_path / "teacher", tmp_path / "ship"
    assert main(["train", "edges2shapes", "--arch", "inception", "--steps", "2", "--out", str(run),
                 "--no-progress"]) == 0
    assert main(["export-teacher", str(run), "--out", str(ship), "--n", "8"]) == 0
    teacher = ship / "edges2shapes-inception-ci.pt"
    manifest = json.loads(teacher.with_suffix(".json").read_text())
    assert manifest["recipe"]["arch"] == "inception" and manifest["recipe"]["norm"] == "batch"
    capsys.readouterr()
    full = profile_macs(build_generator("inception", ngf=manifest["recipe"]["ngf"], norm="batch"), 64, "cat")
    assert main(["prune", str(teacher), "--target-macs", str(0.6 * full), "--size", "64",
                 "--out", str(tmp_path / "pruned.pt")]) == 0
    assert main(["distill", "edges2shapes", "--teacher", str(teacher), "--student", "inception",
                 "--ngf", "4", "--distill-loss", "ka", "--steps", "2", "--batch-size", "2",
                 "--n-train", "4", "--n", "8", "--out", str(tmp_path / "student"), "--no-progress"]) == 0
    recipe = json.loads((tmp_path / "student" / "recipe.json").read_text())
    assert recipe["recipe"]["distill_loss"] == "ka" and recipe["recipe"]["student"] == "inception"
    # CAT's student: the pruned network, re-initialised, distilled with KA
    pruned = json.loads((tmp_path / "pruned.json").read_text())["prune"]
    assert main(["distill", "edges2shapes", "--teacher", str(teacher), "--student", "inception",
                 "--ngf", str(manifest["recipe"]["ngf"]), "--student-from", str(tmp_path / "pruned.pt"),
                 "--distill-loss", "ka", "--steps", "2", "--batch-size", "2", "--n-train", "4",
                 "--n", "8", "--out", str(tmp_path / "cat-student"), "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "cat-student" / "metrics.json").read_text())
    assert metrics["gmacs"] * 1e9 == pytest.approx(profile_macs(
        InceptionGenerator(**pruned["config"]), 64), rel=1e-9)
    capsys.readouterr()
    assert main(["distill", "edges2shapes", "--teacher", str(teacher), "--student-from", str(teacher),
                 "--ngf", "4", "--steps", "1", "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "not a network written by" in capsys.readouterr().err


def test_cat_presets_follow_the_scripts_and_must_fit_the_mode():
    from gancomp_lite.training.distill import PRESETS, StudentRecipe, distill_objective

    assert PRESETS["cat-cyclegan"] == dict(gan_mode="lsgan", lambda_recon=5.0, lambda_distill=1.0,
                                           lambda_gan=1.0)
    assert PRESETS["cat-pix2pix"]["lambda_distill"] == 0.5 and PRESETS["cat-map2sat"]["lambda_distill"] == 1.3
    r = StudentRecipe(task="edges2shapes", loss_preset="cat-pix2pix", lambda_recon=10.0)
    assert r.weights() == dict(PRESETS["cat-pix2pix"], lambda_recon=10.0)
    assert r.as_dict()["loss_preset"] == "cat-pix2pix"
    assert "loss_preset" not in StudentRecipe(task="edges2shapes").as_dict()   # old manifests stay valid
    T = scored_teacher()
    for bad, msg in (("cat-cyclegan", "needs a pix2pix preset"), ("cat", "unknown loss preset")):
        with pytest.raises(GancompError, match=msg):
            distill_objective(StudentRecipe(task="edges2shapes", loss_preset=bad), T, None)


def test_cat_experiment_prunes_once_and_trains_every_arm_on_the_same_network(tmp_path):
    from gancomp_lite.experiments import cat, results
    from gancomp_lite.models import NLayerDiscriminator
    from gancomp_lite.shipped import _half, write_shipped
    from gancomp_lite.training.checkpoint import TEACHER_FORMAT

    T = scored_teacher()
    teacher_file = tmp_path / "t.pt"
    write_shipped({"format": TEACHER_FORMAT, "objective": "Pix2PixObjective",
                   "generator": {"config": describe(T), "state_dict": _half(T.state_dict())}},
                  teacher_file, {"kind": "pix2pix teacher", "task": "edges2shapes"})
    D = NLayerDiscriminator(6, ndf=8)
    before = {k: v.clone() for k, v in T.state_dict().items()}
    record = results.ResultsFile(tmp_path / "r.json", "cat", "test", "0" * 40, {}, cat.CAT_CLAIMS)
    out = cat.run("edges2shapes", T, D, teacher_file, seeds=(0,), steps=2, size=32, batch_size=2,
                  n_train=4, n_eval=8, reduction=4.0, prune_repeats=1, prune_size=32, progress=False,
                  record=record)
    rows = out["rows"]
    assert len(rows) == len(cat.CAT_ARMS) + 1 and rows[-1]["arm"] == "teacher"
    students = rows[:-1]
    assert len({round(r["gmacs_256"], 9) for r in students}) == 1            # one architecture
    assert out["prune"]["macs"] <= profile_macs(T, 32, "cat") / 4
    assert {r["macs_convention"] for r in rows} == {"cat"}
    assert len(out["prune_seconds"]) == 1 and min(out["prune_seconds"]) > 0
    by_arm = {r["arm"]: r for r in students}
    assert by_arm["ka-no-recon"]["recon"] is False and by_arm["no-distill"]["distill_loss"] == "none"
    assert by_arm["ka-inherited"]["start"] == "inherited" and by_arm["mse"]["distill_loss"] == "mse"
    saved = results.load(tmp_path / "r.json")
    assert saved["prune"]["macs"] == out["prune"]["macs"] and len(saved["rows"]) == len(rows)
    v = cat.verdicts(rows)
    assert set(v) == set(cat.CAT_CLAIMS) and all(x["verdict"] in results.VERDICTS for x in v.values())
    assert "student_matches_teacher" not in v and set(cat.RETIRED_CLAIMS) == {"student_matches_teacher"}
    assert all(torch.equal(before[k], T.state_dict()[k]) for k in before)   # the teacher is untouched


def test_sweep_cat_command_records_claims_pruning_and_rows(tmp_path, capsys):
    import json

    from gancomp_lite.cli import main
    from gancomp_lite.experiments import cat

    out = tmp_path / "cat.json"
    argv = ["sweep-cat", "--seeds", "0", "--steps", "1", "--n", "8", "--curve-points", "0",
            "--allow-dirty", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert data["status"] == "complete" and set(data["claims"]) == set(cat.CAT_CLAIMS)
    assert data["teacher"]["file"] == "edges2shapes-inception-ci.pt"
    assert len(data["prune_seconds"]) == 3 and data["prune"]["macs"] <= data["prune"]["target_macs"]
    assert [r["arm"] for r in data["rows"]] == [*cat.CAT_ARMS, "teacher"]
    assert data["command"].startswith("gancomp-lite sweep-cat --task edges2shapes --seeds 0 --steps 1")
    assert "ka_beats_mse [l1]" in capsys.readouterr().out
    assert main(argv) == 2                                   # an existing results file is kept
    assert data["retired_claims"] == cat.RETIRED_CLAIMS and data["judged_if"]
    assert set(data["baselines"]) == {"identity", "mean target"}
    assert data["settings"]["reduction"] == cat.CI_REDUCTION


def test_a_resumed_cat_sweep_keeps_its_finished_runs_and_saves_students(tmp_path, monkeypatch, capsys):
    import json

    import gancomp_lite.provenance as prov
    from gancomp_lite.cli import main
    from gancomp_lite.experiments import cat, results
    from gancomp_lite.training.checkpoint import read_manifest

    monkeypatch.setattr(prov, "require_clean", lambda *a, **k: "0" * 40)   # a clean commit
    out, st = tmp_path / "cat.json", tmp_path / "students"
    args = ["sweep-cat", "--seeds", "0", "--steps", "1", "--n", "8", "--curve-points", "0",
            "--no-progress", "--out", str(out), "--save-students", str(st)]
    assert main(args) == 0
    whole = results.load(out)
    for arm in cat.CAT_ARMS:
        m = read_manifest(cat.student_file(st, arm, 0))
        assert m["kind"] == cat.SWEEP_STUDENT_KIND and m["arm"] == arm and m["command"] == whole["command"]
    cut = dict(whole, status="running", rows=whole["rows"][:2])      # interrupted after two runs
    out.write_text(json.dumps(cut))
    assert main(args) == 2                                           # exists: not overwritten
    assert main(args + ["--resume", "--force"]) == 2
    assert main(args[:4] + ["2"] + args[5:] + ["--resume"]) == 2    # another command
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0
    resumed = results.load(out)
    assert resumed["status"] == "complete" and resumed["rows"][:2] == whole["rows"][:2]
    assert [r["arm"] for r in resumed["rows"]] == [r["arm"] for r in whole["rows"]]
    assert resumed["sessions"][0]["rows_kept"] == 2 and resumed["prune"] == whole["prune"]


def test_cat_verdicts_follow_the_rule_on_made_up_rows():
    from gancomp_lite.experiments import cat, results

    def rows(arm, values):
        return [{"arm": arm, "seed": s, "l1": v, "gmacs_256": 0.1, "mparams": 0.01}
                for s, v in enumerate(values)]

    data = (rows("ka", [0.10, 0.11, 0.12]) + rows("mse", [0.20, 0.21, 0.22])
            + rows("ka-no-recon", [0.50, 0.52, 0.51]) + rows("ka-inherited", [0.30, 0.31, 0.32])
            + rows("no-distill", [0.105, 0.115, 0.125]) + rows("teacher", [0.01]))
    v = cat.verdicts(data)
    assert v["ka_beats_mse"]["verdict"] == "confirmed"          # ka clearly lower L1
    assert v["ka_needs_recon"]["verdict"] == "confirmed"        # no-recon clearly worse
    assert v["inherit_helps"]["verdict"] == "not confirmed"     # inherited clearly worse
    assert v["distill_helps"]["verdict"] == "inconclusive"      # a tie
    assert v["student_beats_teacher"]["verdict"] == "not confirmed"   # ka clearly worse than 0.01
    assert all(x["metric"] == "l1" for x in v.values())
    # the teacher as a fixed value: a student clearly better confirms, one at its value ties
    better = [r for r in data if r["arm"] != "teacher"] + rows("teacher", [0.2])
    assert cat.verdicts(better)["student_beats_teacher"]["verdict"] == "confirmed"
    level = [r for r in data if r["arm"] != "teacher"] + rows("teacher", [0.11])
    assert cat.verdicts(level)["student_beats_teacher"]["verdict"] == "inconclusive"
    # gated: an arm that does not clearly beat the trivial translators is not judged
    trivial = {"identity": 0.9, "mean target": 0.115}
    gated = cat.verdicts(better, trivial=trivial)
    assert gated["student_beats_teacher"]["verdict"] == results.NOT_JUDGED      # ka ties the mean
    assert gated["ka_needs_recon"]["verdict"] == results.NOT_JUDGED             # no-recon worse than it
    assert cat.verdicts(better, trivial={"identity": 0.95, "mean target": 0.9}) == cat.verdicts(better)


def test_floor_layers_names_the_layers_the_budget_sized():
    from gancomp_lite.experiments import cat

    report = {"config": {"down": [4, 10, 4], "up": [6, 4]}, "floor": 4}
    assert cat.floor_layers(report) == ["down.0", "down.2", "up.1"]
    assert cat.floor_layers({"config": {"down": [5, 10, 22], "up": [9]}, "floor": 4}) == []
    T = scored_teacher()
    from gancomp_lite.compression.one_step import one_step_prune
    _, tiny = one_step_prune(T, 0.06 * profile_macs(T, 32, "cat"), size=32)
    _, mild = one_step_prune(T, 0.8 * profile_macs(T, 32, "cat"), size=32)
    assert cat.floor_layers(tiny) and not cat.floor_layers(mild)


def test_a_pruned_start_is_reinitialised_unless_the_weights_were_inherited(tmp_path):
    from gancomp_lite.compression.one_step import one_step_prune
    from gancomp_lite.training.checkpoint import save_pruned
    from gancomp_lite.training.distill import StudentRecipe, _pruned_start, distill_objective

    T = scored_teacher()
    target = 0.5 * profile_macs(T, 32, "cat")
    S, report = one_step_prune(T, target, size=32, inherit=True)
    from gancomp_lite.compression.one_step import inherit_weights
    again = inherit_weights(T, report)                       # the same copy, without a new search
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), S.state_dict().values()))
    with pytest.raises(GancompError, match="not made from this teacher"):
        inherit_weights(scored_teacher(seed=1), report)
    files = {inherit: save_pruned(S, report, tmp_path / f"{inherit}.pt", None, inherit, "test")
             for inherit in (False, True)}     # the same network, marked re-initialised or inherited
    kept = S.state_dict()
    inherited = _pruned_start(files[True]).state_dict()
    fresh = _pruned_start(files[False]).state_dict()
    conv = next(k for k in kept if k.endswith("weight") and kept[k].dim() == 4)
    assert torch.allclose(inherited[conv], kept[conv], atol=1e-3)      # fp16 copy of the teacher's
    assert not torch.allclose(fresh[conv], kept[conv], atol=1e-3)       # re-initialised
    # an arm without reconstruction trains with lambda_recon 0 and CAT's distill weight
    obj = distill_objective(StudentRecipe(task="edges2shapes", distill_loss="ka", lambda_recon=0.0,
                                          loss_preset="cat-pix2pix", student_file=str(files[False]),
                                          inherit_d=False, image_size=32), T, None)
    weights = {t.name: t.weight for t in obj.terms["G"]}
    assert weights["recon"] == 0.0 and weights["distill"] == 0.5


def test_shipped_inception_teachers_load_with_cats_norms_and_can_be_scored():
    from gancomp_lite.compression.one_step import scores
    from gancomp_lite.training.teachers import load_teacher

    for task, norm in (("edges2shapes", "batch"), ("stripes", "instance_affine")):
        T = load_teacher(task, "ci", arch="inception")          # checksum verified on load
        assert isinstance(T, InceptionGenerator) and T.config["norm"] == norm
        s = scores(T)
        assert len(s) == 3 + 2 + 6 * T.config["n_blocks"] and all((v >= 0).all() for v in s.values())


def test_the_widths_figure_reads_every_layer_of_teacher_and_pruned_student():
    from gancomp_lite.compression.one_step import prune_untrained
    from gancomp_lite.models import InceptionGenerator
    from gancomp_lite.viz import inception_layer_widths, pruned_widths_figure

    teacher = InceptionGenerator(ngf=16)
    names, plain, branch = inception_layer_widths(teacher.config)
    n = teacher.config["n_blocks"]
    assert len(names) == n + 5 and list(plain[:3]) == list(teacher.config["down"])
    assert branch[3:3 + n].tolist() == [list(b) for b in teacher.config["branches"]]
    assert branch[:3].sum() == 0 and plain[3:3 + n].sum() == 0
    student, report = prune_untrained(0.5 * profile_macs(teacher, 64, "cat"), ngf=16, size=64)
    fig = pruned_widths_figure(teacher.config, report.config)
    assert len(fig.axes[0].patches) == 2 * len(names) * (1 + len(teacher.config["branches"][0]))


def test_silencing_channels_zeroes_the_chosen_norms_of_a_copy():
    from gancomp_lite.compression.one_step import scores, silence_channels

    T = scored_teacher()
    before = {k: v.clone() for k, v in T.state_dict().items()}
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    T.eval()
    with torch.no_grad():
        y = T(x)
        assert torch.equal(silence_channels(T, 0.0).eval()(x), y)          # nothing silenced
    s = scores(T)
    for order in ("lowest", "highest", "random"):
        S = silence_channels(T, 0.25, order, seed=1)
        after = scores(S)
        for name, g in s.items():
            k = round(0.25 * len(g))
            off = torch.nonzero(after[name] == 0).flatten()
            assert len(off) == k, (name, order)
            if order == "lowest" and k:
                assert g[off].max() <= g[after[name] > 0].min()
            if order == "highest" and k:
                assert g[off].min() >= g[after[name] > 0].max()
        with torch.no_grad():
            assert not torch.allclose(S.eval()(x), y)
    a, b = silence_channels(T, 0.5, "random", seed=0), silence_channels(T, 0.5, "random", seed=1)
    assert not all(torch.equal(u, v) for u, v in zip(scores(a).values(), scores(b).values()))
    assert all(torch.equal(before[k], T.state_dict()[k]) for k in before)   # the teacher is untouched
    with pytest.raises(GancompError, match="unknown order"):
        silence_channels(T, 0.1, "smallest")
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(GancompError, match="fraction of channels"):
            silence_channels(T, bad)


def test_the_silencing_test_scores_the_teacher_and_every_order():
    from gancomp_lite.experiments import cat
    from gancomp_lite.metrics.quality import test_set

    T = scored_teacher()
    data = test_set("edges2shapes", 8, 32, seed=0)
    rows = cat.silencing_test(T, data, fractions=(0.25, 1.0), random_seeds=(0, 1))
    assert [(r["order"], r["fraction"]) for r in rows[:1]] == [("none", 0.0)]
    assert len(rows) == 1 + 2 * (1 + 1 + 2)
    by = {(r["fraction"], r["order"], r["seed"]): r["l1"] for r in rows}
    # every channel of every scored layer off: the order cannot matter
    assert by[1.0, "lowest", 0] == by[1.0, "highest", 0] == by[1.0, "random", 1]
    assert by[0.25, "lowest", 0] != by[0.0, "none", 0]


def test_an_unfinished_cat_sweep_judges_only_finished_arms():
    from gancomp_lite.experiments import cat

    def rows(arm, values):
        return [{"arm": arm, "seed": s, "l1": v, "gmacs_256": 0.1, "mparams": 0.01}
                for s, v in enumerate(values)]

    data = rows("ka", [0.10, 0.11, 0.12]) + rows("mse", [0.20, 0.21]) + rows("teacher", [0.3])
    v = cat.verdicts(data, seeds=3)
    assert v["ka_beats_mse"]["verdict"] == "inconclusive"
    assert "not finished yet: mse (2 of 3 seeds)" in v["ka_beats_mse"]["reason"]
    assert "no-distill (0 of 3 seeds)" in v["distill_helps"]["reason"]
    assert v["student_beats_teacher"]["verdict"] == "confirmed"        # ka is finished
    assert cat.verdicts(data)["ka_beats_mse"]["verdict"] == "confirmed"   # two seeds suffice the rule


def test_config_macs_equals_the_profiler_on_random_widths_in_every_counted_convention():
    import random

    from gancomp_lite.compression.one_step import COUNTED_CONVENTIONS, config_macs
    from gancomp_lite.errors import GancompError, ImageSizeError

    rng = random.Random(0)
    cases = [("batch", [[0] * 6] * 9)]                     # every block the identity
    for norm in ("batch", "instance_affine", "batch"):
        cases.append((norm, [[rng.choice([0, rng.randint(1, 6)]) for _ in range(6)] for _ in range(9)]))
    for i, (norm, branches) in enumerate(cases):
        G = InceptionGenerator(ngf=8, norm=norm, down=[rng.randint(1, 12) for _ in range(3)],
                               up=[rng.randint(1, 12) for _ in range(2)], branches=branches)
        size = (32, 48) if i % 2 else 32
        for convention in COUNTED_CONVENTIONS:
            assert config_macs(G.config, size, convention) == profile_macs(G, size, convention), (
                norm, convention, size)
    with pytest.raises(ImageSizeError, match="divisible by 4"):
        config_macs(G.config, 30)
    with pytest.raises(GancompError, match="profile 'exact'"):
        config_macs(G.config, 32, "exact")
