"""The distiller: hooks, mappings, pseudo-pairs, inherited D, L1 filter selection."""
import copy
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gancomp_lite.cli import main
from gancomp_lite.compression.prune import filter_l1, l1_select
from gancomp_lite.data import SyntheticAligned, SyntheticUnaligned
from gancomp_lite.errors import GancompError
from gancomp_lite.experiments import distillation as dx
from gancomp_lite.experiments import results
from gancomp_lite.losses.distill import DISTILL_LOSSES, FeatureDistillLoss, MappedMSE
from gancomp_lite.models import MobileResnetGenerator, NLayerDiscriminator, ResnetGenerator, build_generator
from gancomp_lite.models.hooks import UnknownLayerError, capture_features, feature_shapes
from gancomp_lite.training import Trainer
from gancomp_lite.training.distill import (PRESETS, DistillObjective, StudentRecipe, TeacherCache,
                                           distill_objective)

LAYERS = ResnetGenerator.DISTILL_LAYERS


def randomised(net: nn.Module, seed: int = 0) -> nn.Module:
    """Weights with clearly different filter norms (the N(0, 0.02) init is too uniform)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * torch.rand(p.shape[:1], generator=g)
                    .reshape(-1, *[1] * (p.dim() - 1)) * 0.3)
    return net


def teacher_pair(ngf=8, paired=True, seed=0):
    torch.manual_seed(seed)
    T = randomised(ResnetGenerator(ngf=ngf), seed)
    D = NLayerDiscriminator(6 if paired else 3, ndf=8)
    return T.eval(), D.eval()


# -- hooks -----------------------------------------------------------------

def test_hooks_capture_the_named_layers_and_leave_nothing_behind():
    G = ResnetGenerator(ngf=4).eval()
    x = torch.randn(2, 3, 32, 32)
    with capture_features(G, LAYERS) as feats:
        y = G(x)
    assert list(feats) == list(LAYERS)
    assert torch.equal(feats["model.9"], G.model[:10](x))        # last encoder ReLU
    assert torch.equal(feats["model.18"], G.model[:19](x))       # output of block 9
    assert torch.equal(G.model[19:](feats["model.18"]), y)
    assert all(f.shape == (2, 16, 8, 8) for f in feats.values())
    assert not any(m._forward_hooks for m in G.modules())
    assert feature_shapes(G, LAYERS, 64) == {n: (16, 16, 16) for n in LAYERS}
    with pytest.raises(UnknownLayerError, match="model.99"):
        with capture_features(G, ["model.99"]):
            pass


def test_captured_features_carry_gradients():
    G = ResnetGenerator(ngf=4)
    with capture_features(G, ["model.12"]) as feats:
        G(torch.randn(1, 3, 32, 32))
    feats["model.12"].pow(2).mean().backward()
    assert G.model[1].weight.grad.abs().sum() > 0
    assert G.model[26].weight.grad is None                       # above the hook: untouched


# -- the distillation loss -------------------------------------------------

def test_mapping_convs_map_student_to_teacher_channels():
    T, D = teacher_pair(ngf=8)
    obj = DistillObjective(T, ResnetGenerator(ngf=4), D, paired=True)
    maps = obj.distill_loss.mappings
    assert len(maps) == 4
    for conv in maps:
        assert conv.weight.shape == (32, 16, 1, 1) and conv.bias.shape == (32,)
    g_params = {id(p) for p in obj.parameters_of("G")}
    assert all(id(p) in g_params for p in obj.distill_loss.parameters())
    assert not any(id(p) in g_params for p in obj.teacher.parameters())
    # a mobile student at another width maps its own channels
    obj = DistillObjective(T, MobileResnetGenerator(ngf=2), D, paired=True, distill_layers=("model.15",))
    assert obj.distill_loss.mappings[0].weight.shape == (32, 8, 1, 1)


def test_mapped_mse_is_the_sum_of_per_layer_mse_and_checks_shapes():
    loss = MappedMSE([(2, 3), (2, 3)])
    s = [torch.randn(1, 2, 4, 4) for _ in range(2)]
    t = [torch.randn(1, 3, 4, 4) for _ in range(2)]
    expected = sum(F.mse_loss(f(a), b) for f, a, b in zip(loss.mappings, s, t))
    assert torch.allclose(loss(s, t), expected)
    with pytest.raises(GancompError, match="channels"):
        loss([torch.randn(1, 5, 4, 4)] * 2, t)
    with pytest.raises(GancompError, match="size"):
        loss(s, [torch.randn(1, 3, 2, 2)] * 2)


def test_distillation_loss_falls_on_a_tiny_run():
    T, D = teacher_pair(ngf=8)
    data = SyntheticAligned("edges2shapes", n=16, size=32)
    obj = DistillObjective(T, ResnetGenerator(ngf=4), D, paired=True, lambda_recon=1.0,
                           lambda_distill=1.0)
    hist = Trainer(obj, data, 60, batch_size=4, lr=1e-3, decay_steps=0, seed=0, device="cpu",
                   progress=False).fit()
    d = [h["G/distill"] for h in hist]
    assert sum(d[-5:]) / 5 < 0.9 * sum(d[:5]) / 5       # measured: about 0.88


def test_another_distillation_loss_plugs_in_without_touching_the_loop(monkeypatch):
    class Cosine(FeatureDistillLoss):  # parameter-free, like kernel alignment
        def forward(self, student, teacher):
            self.check(student, teacher)
            return sum(1 - F.cosine_similarity(s.mean((2, 3)), t.mean((2, 3))[:, :s.shape[1]]).mean()
                       for s, t in zip(student, teacher))

    monkeypatch.setitem(DISTILL_LOSSES, "cosine", Cosine)
    T, D = teacher_pair(ngf=8)
    obj = DistillObjective(T, ResnetGenerator(ngf=4), D, paired=True, distill_loss="cosine")
    assert isinstance(obj.distill_loss, Cosine)
    data = SyntheticAligned("edges2shapes", n=8, size=32)
    rec = Trainer(obj, data, 2, batch_size=2, seed=0, device="cpu", progress=False).train_step()
    assert 0 <= rec["G/distill"] <= 8
    with pytest.raises(GancompError, match="unknown distillation loss"):
        DistillObjective(T, ResnetGenerator(ngf=4), D, paired=True, distill_loss="nope")


# -- pseudo-pairs, frozen teacher, discriminator -----------------------------

def test_pseudo_pair_targets_are_the_teachers_outputs():
    T, D = teacher_pair(ngf=8, paired=False)
    frozen = copy.deepcopy(T)
    obj = DistillObjective(T, ResnetGenerator(ngf=4), D, paired=False, lambda_recon=10.0)
    data = SyntheticUnaligned("stripes", n=8, size=32)
    trainer = Trainer(obj, data, 3, batch_size=2, seed=0, device="cpu", progress=False)
    batch = trainer.batch_at(0)
    ctx = obj.forward_step(batch)
    with torch.no_grad():
        assert torch.allclose(ctx["teacher_B"], frozen(batch["A"]))
    recon = next(t for t in obj.terms["G"] if t.name == "recon").fn(ctx)
    assert torch.allclose(recon, F.l1_loss(ctx["fake_B"], ctx["teacher_B"]))
    assert not torch.allclose(recon, F.l1_loss(ctx["fake_B"], batch["B"]))
    trainer.fit()
    assert not obj.teacher.training and obj.netG.training
    assert all(torch.equal(a, b) for a, b in zip(obj.teacher.state_dict().values(),
                                                 frozen.state_dict().values()))
    assert all(not p.requires_grad for p in obj.teacher.parameters())


def test_the_teacher_cache_returns_what_the_teacher_computes_and_skips_repeats():
    T, _ = teacher_pair(ngf=8)
    x = torch.randn(4, 3, 32, 32)
    cache = TeacherCache(budget_mb=64)
    with torch.no_grad():
        with capture_features(T, LAYERS) as want:
            want_out = T(x)
        out, feats = cache(T, LAYERS, x)
        assert cache.stats()["misses"] == 4 and cache.stats()["hits"] == 0 and len(cache) == 4
        # a batch mixing two seen samples with a new one runs the teacher on the new one only
        calls = []
        handle = T.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
        y = torch.cat([x[2:], torch.randn(1, 3, 32, 32)])
        out2, feats2 = cache(T, LAYERS, y)
        handle.remove()
        fresh = T(y)
    assert calls == [1] and cache.hits == 2 and cache.misses == 5
    # equal up to float rounding, which differs with the batch a sample was computed in
    # (measured: up to 2e-5 between batch sizes 1 and 4 for this teacher)
    assert torch.allclose(out, want_out, atol=1e-4) and torch.allclose(out2, fresh, atol=1e-4)
    for n in LAYERS:
        assert torch.allclose(feats[n], want[n], atol=1e-4)
        assert torch.equal(feats2[n][:2], feats[n][2:])
    # another crop of the same image is another input
    assert TeacherCache.key(x[0]) != TeacherCache.key(x[0].flip(-1))
    assert TeacherCache.key(x[0]) == TeacherCache.key(x[0].clone())


def test_the_teacher_cache_stops_adding_at_its_budget_and_can_be_off():
    T, _ = teacher_pair(ngf=8)
    x = torch.randn(6, 3, 32, 32)
    probe = TeacherCache(budget_mb=64)
    with torch.no_grad():
        probe(T, LAYERS, x[:1])
        one = probe.used
        small = TeacherCache(budget_mb=2.5 * one / 2**20)     # room for two samples
        small(T, LAYERS, x)
        assert len(small) == 2 and small.used == 2 * one
        small(T, LAYERS, x)
        assert small.hits == 2 and small.misses == 10
        off = TeacherCache(budget_mb=0)
        off(T, LAYERS, x); off(T, LAYERS, x)
    assert len(off) == 0 and off.misses == 12 and off.hits == 0
    with pytest.raises(GancompError, match="budget"):
        TeacherCache(budget_mb=-1)


def test_training_with_the_teacher_cache_matches_training_without_it():
    T, D = teacher_pair(ngf=8)
    data = SyntheticAligned("edges2shapes", n=8, size=32)

    def train(cache_mb):
        torch.manual_seed(1)
        obj = DistillObjective(T, ResnetGenerator(ngf=4), copy.deepcopy(D), paired=True,
                               teacher_cache_mb=cache_mb)
        hist = Trainer(obj, data, 6, batch_size=4, seed=0, device="cpu", progress=False).fit()
        return obj, hist

    cached, h1 = train(64)
    plain, h2 = train(0)
    assert cached.teacher_cache.stats()["hits"] == 16 and cached.teacher_cache.misses == 8  # 3 epochs
    assert plain.teacher_cache.hits == 0
    for a, b in zip(h1, h2):
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(b[k])) for k in a), (a, b)
    for p, q in zip(cached.netG.parameters(), plain.netG.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


def test_paired_recon_uses_the_real_target_and_a_conditional_d():
    T, D = teacher_pair(ngf=8)
    obj = DistillObjective(T, ResnetGenerator(ngf=4), D, paired=True)
    batch = {"A": torch.rand(2, 3, 32, 32) * 2 - 1, "B": torch.rand(2, 3, 32, 32) * 2 - 1}
    ctx = obj.forward_step(batch)
    recon = next(t for t in obj.terms["G"] if t.name == "recon").fn(ctx)
    assert torch.allclose(recon, F.l1_loss(ctx["fake_B"], batch["B"]))
    assert obj.terms["D"][0].fn(ctx).dim() == 0                 # D takes 6 channels


def test_inherited_d_equals_the_teachers_at_step_0_and_is_a_copy():
    T, D = teacher_pair(ngf=8)
    r = StudentRecipe(task="edges2shapes", ngf=4, mode="paired", inherit_d=True, image_size=32)
    obj = distill_objective(r, T, D)
    assert all(torch.equal(a, b) for a, b in zip(obj.netD.state_dict().values(), D.state_dict().values()))
    assert obj.netD is not D and obj.netD.training
    with torch.no_grad():
        next(obj.netD.parameters()).add_(1.0)
    assert not torch.equal(next(obj.netD.parameters()), next(D.parameters()))
    fresh = distill_objective(StudentRecipe(task="edges2shapes", ngf=4, inherit_d=False, image_size=32), T, D)
    assert fresh.netD.config == D.config
    assert not torch.equal(next(fresh.netD.parameters()), next(D.parameters()))


def test_presets_and_overrides():
    assert StudentRecipe(task="stripes", mode="pseudo-pairs").weights() == PRESETS["cyclegan"]
    assert PRESETS["cyclegan"]["lambda_recon"] == 10 and PRESETS["cyclegan"]["lambda_distill"] == 0.01
    assert PRESETS["pix2pix"] == dict(gan_mode="hinge", lambda_recon=100.0, lambda_distill=1.0, lambda_gan=1.0)
    w = StudentRecipe(task="edges2shapes", lambda_distill=0.5, gan_mode="lsgan").weights()
    assert w["lambda_distill"] == 0.5 and w["gan_mode"] == "lsgan" and w["lambda_recon"] == 100


def test_recipe_errors_are_clear():
    T, D = teacher_pair(ngf=8, paired=False)
    with pytest.raises(GancompError, match="unpaired"):
        distill_objective(StudentRecipe(task="stripes", mode="paired"), T, D)
    with pytest.raises(GancompError, match="pseudo-pairs"):
        distill_objective(StudentRecipe(task="stripes", mode="unpaired", distill_layers=["model.9"]), T, D)
    with pytest.raises(GancompError, match="unknown init"):
        distill_objective(StudentRecipe(task="stripes", mode="pseudo-pairs", init="magic"), T, D)
    with pytest.raises(GancompError, match="discriminator"):
        distill_objective(StudentRecipe(task="stripes", mode="pseudo-pairs", image_size=32), T, None)


def test_unpaired_baseline_is_a_cyclegan_of_students():
    T, D = teacher_pair(ngf=8, paired=False)
    obj = distill_objective(StudentRecipe(task="stripes", ngf=4, mode="unpaired", inherit_d=False,
                                          distill_layers=[]), T, D)
    assert {"G_A", "G_B", "D_A", "D_B"} <= {n for n, _ in obj.named_children()}
    assert obj.G_A.config["ngf"] == 4 and obj.G_B.config["ngf"] == 4
    assert "teacher" not in dict(obj.named_children())


# -- L1 filter selection ----------------------------------------------------

@pytest.mark.parametrize("cls", [ResnetGenerator, MobileResnetGenerator])
def test_l1_selection_keeps_the_largest_filters_with_one_residual_width(cls):
    T = randomised(cls(ngf=8), seed=1)
    S = cls(ngf=4)
    kept = l1_select(S, T)
    stem = filter_l1(T.model[1].weight)
    assert kept["model.1"].tolist() == torch.topk(stem, 4).indices.tolist()   # largest first
    assert torch.equal(S.model[1].weight, T.model[1].weight[kept["model.1"]])
    down = T.model[4].weight[:, kept["model.1"]]
    assert set(kept["model.4"].tolist()) == set(torch.topk(filter_l1(down), 8).indices.tolist())
    residual = kept["model.7"]
    assert len(residual) == 16
    block_outputs = [k for k in kept if k.startswith("model.1") and k.endswith(".6")]
    assert len(block_outputs) == 9
    assert all(torch.equal(kept[k], residual) for k in block_outputs)
    up = T.model[19].weight[residual]                            # ConvT: [in, out, k, k]
    assert set(kept["model.19"].tolist()) == set(torch.topk(filter_l1(up, transposed=True), 8).indices.tolist())
    assert torch.equal(kept["model.26"], torch.arange(3))
    assert S(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("cls", [ResnetGenerator, MobileResnetGenerator])
def test_l1_selection_at_full_width_is_a_permutation_of_the_teacher(cls):
    T = randomised(cls(ngf=4), seed=2).eval()
    S = cls(ngf=4)
    kept = l1_select(S, T)
    assert not torch.equal(kept["model.7"], torch.arange(16))   # a real permutation
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(S.eval()(x), T(x), atol=1e-4)       # float summation order only


def test_l1_selection_rejects_mismatched_networks():
    with pytest.raises(GancompError, match="wider"):
        l1_select(ResnetGenerator(ngf=8), ResnetGenerator(ngf=4))
    with pytest.raises(GancompError, match="separable_blocks"):
        l1_select(MobileResnetGenerator(ngf=4), ResnetGenerator(ngf=8))
    with pytest.raises(GancompError, match="ResNet-family"):
        l1_select(build_generator("unet", ngf=4, image_size=32), ResnetGenerator(ngf=8))


def test_l1_init_through_the_recipe():
    T, D = teacher_pair(ngf=8)
    obj = distill_objective(StudentRecipe(task="edges2shapes", ngf=4, init="l1", image_size=32), T, D)
    kept = l1_select(ResnetGenerator(ngf=4), T)
    assert torch.equal(obj.netG.model[7].weight,
                       T.model[7].weight[kept["model.7"]][:, kept["model.4"]])


# -- the caller's networks ------------------------------------------------------

@pytest.mark.parametrize("build", ["objective", "recipe"])
def test_the_distiller_never_moves_changes_or_unfreezes_the_callers_teacher(build):
    T, D = teacher_pair(ngf=8)
    T.train()                                    # the caller's modes and flags, whatever they are
    T.model[1].weight.requires_grad_(True)
    flags = [p.requires_grad for p in T.parameters()]
    before = copy.deepcopy(T.state_dict())
    d_before = copy.deepcopy(D.state_dict())
    if build == "objective":
        obj = DistillObjective(T, ResnetGenerator(ngf=4), NLayerDiscriminator(6, ndf=8), paired=True,
                               image_size=32)
    else:
        obj = distill_objective(StudentRecipe(task="edges2shapes", ngf=4, inherit_d=True,
                                              image_size=32), T, D)
    data = SyntheticAligned("edges2shapes", n=4, size=32)
    Trainer(obj, data, 2, batch_size=2, device="cpu", progress=False).fit()
    obj.to("meta")                               # as a GPU run would move it
    assert all(p.device.type == "cpu" for p in T.parameters())
    assert all(p.device.type == "cpu" for p in D.parameters())
    assert [p.requires_grad for p in T.parameters()] == flags and T.training
    assert all(torch.equal(v, before[k]) for k, v in T.state_dict().items())
    assert all(torch.equal(v, d_before[k]) for k, v in D.state_dict().items())
    assert obj.teacher is not T and not obj.teacher.training


# -- verdicts ---------------------------------------------------------------

def rows(values: dict) -> list[dict]:
    """values: (arm, ngf) -> list of per-seed metric values (used for every metric)."""
    return [{"arm": a, "ngf": w, "seed": i, "gmacs_256": 1.0, "mparams": 1.0,
             "fid": v, "oracle_animal_w1": v}
            for (a, w), vs in values.items() for i, v in enumerate(vs)]


def test_pseudo_pair_verdicts_follow_the_numbers():
    v = dx.pseudo_pair_verdicts(rows({("unpaired", 8): [20, 22], ("pseudo-pairs", 8): [10, 11],
                                      ("unpaired", 4): [60, 62], ("pseudo-pairs", 4): [12, 13]}))
    assert v["pseudo_pairs_better_fid"]["verdict"] == "confirmed"
    assert v["gap_grows_fid"]["verdict"] == "confirmed"
    v = dx.pseudo_pair_verdicts(rows({("unpaired", 8): [10, 11], ("pseudo-pairs", 8): [20, 22],
                                      ("unpaired", 4): [60, 62], ("pseudo-pairs", 4): [12, 13]}))
    assert v["pseudo_pairs_better_fid"]["verdict"] == "not confirmed"
    v = dx.pseudo_pair_verdicts(rows({("unpaired", 8): [10, 20], ("pseudo-pairs", 8): [12, 18],
                                      ("unpaired", 4): [10, 20], ("pseudo-pairs", 4): [12, 18]}))
    assert v["pseudo_pairs_better_fid"]["verdict"] == "inconclusive"
    assert v["gap_grows_fid"]["verdict"] == "inconclusive"


def test_ablation_verdicts_follow_the_numbers():
    base = {("scratch", 12): [30, 31], ("keep-D", 12): [30, 31], ("prune+keep-D", 12): [29, 31],
            ("distill+keep-D", 12): [30, 32], ("prune+distill", 12): [50, 52],
            ("prune+distill+keep-D", 12): [20, 21]}
    v = dx.ablation_verdicts(rows(base), metric="fid")
    # a claim of no effect is never confirmed by a tie
    assert {k: x["verdict"] for k, x in v.items()} == {
        "full_recipe_best": "confirmed", "alone_not_significant": "inconclusive",
        "keep_d_helps": "confirmed", "reset_d_below_scratch": "confirmed"}
    assert all(x["metric"] == "fid" for x in v.values()) and set(v) == set(dx.ABLATION_CLAIMS)
    v = dx.ablation_verdicts(rows({**base, ("prune+keep-D", 12): [10, 11], ("prune+distill", 12): [10, 11]}),
                             metric="fid")
    assert {k: x["verdict"] for k, x in v.items()} == {
        "full_recipe_best": "not confirmed", "alone_not_significant": "not confirmed",
        "keep_d_helps": "not confirmed", "reset_d_below_scratch": "not confirmed"}
    v = dx.ablation_verdicts(rows({**base, ("prune+distill", 12): [20, 23]}), metric="fid")
    assert v["keep_d_helps"]["verdict"] == "inconclusive"
    # the full recipe tied with another arm is not "best"
    v = dx.ablation_verdicts(rows({**base, ("distill+keep-D", 12): [20, 21.5]}), metric="fid")
    assert v["full_recipe_best"]["verdict"] == "inconclusive"
    one_seed = {k: v[:1] for k, v in base.items()}
    assert all(x["verdict"] == "inconclusive"
               for x in dx.ablation_verdicts(rows(one_seed), metric="fid").values())


# -- the command line ---------------------------------------------------------

def test_distill_command_trains_in_mixed_precision_and_records_it(tmp_path):
    out = tmp_path / "run"
    assert main(["distill", "edges2shapes", "--ngf", "4", "--steps", "2", "--n-train", "8",
                 "--n", "8", "--amp", "bf16", "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "recipe.json").read_text())["amp"] == "bf16"
    assert torch.load(out / "checkpoint.pt", weights_only=False)["settings"]["amp"] == "bf16"
    with pytest.raises(SystemExit):
        main(["distill", "edges2shapes", "--amp", "int4", "--out", str(tmp_path / "x")])


@pytest.mark.parametrize("args, mode", [
    (["edges2shapes", "--init", "l1", "--fresh-d"], "paired"),
    (["edges2shapes", "--distill-layers", "model.9", "model.18", "--batch-size", "2"], "paired"),
    (["stripes", "--pseudo-pairs", "--distill-layers"], "pseudo-pairs"),
    (["stripes", "--unpaired", "--fresh-d"], "unpaired"),
])
def test_distill_command_runs_each_variant(tmp_path, capsys, args, mode):
    out = tmp_path / "run"
    assert main(["distill", *args, "--ngf", "4", "--steps", "2", "--n-train", "8", "--n", "16",
                 "--out", str(out), "--no-progress"]) == 0
    assert f"({mode}," in capsys.readouterr().out
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["recipe"]["mode"] == mode and recipe["steps"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fid"] > 0 and metrics["mparams"] < 0.1
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["step"] == 2
    # nothing is silently overwritten
    assert main(["distill", *args, "--ngf", "4", "--steps", "2", "--out", str(out), "--no-progress"]) == 2
    assert "exists" in capsys.readouterr().err


def test_distill_command_rejects_pseudo_pairs_on_a_paired_task(tmp_path, capsys):
    assert main(["distill", "edges2shapes", "--pseudo-pairs", "--ngf", "4", "--steps", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "paired task" in capsys.readouterr().err


def test_export_student_round_trip(tmp_path, capsys, monkeypatch):
    import gancomp_lite.provenance
    monkeypatch.setattr(gancomp_lite.provenance, "code_version", lambda root=None: "0" * 40)
    from gancomp_lite.errors import CheckpointError
    from gancomp_lite.training.checkpoint import load_student

    run = tmp_path / "run"
    assert main(["distill", "stripes", "--unpaired", "--fresh-d", "--ngf", "4", "--steps", "2",
                 "--n-train", "8", "--n", "16", "--out", str(run), "--no-progress"]) == 0
    assert main(["export-student", str(run), "--name", "tiny", "--out", str(tmp_path / "ship")]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "ship" / "tiny.json").read_text())
    assert manifest["commands"][0].startswith("gancomp-lite distill stripes --unpaired")
    assert manifest["teacher"]["file"] == "stripes-ci.pt" and len(manifest["teacher"]["sha256"]) == 64
    G = load_student("tiny", tmp_path / "ship")
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    trained = {k[4:]: v for k, v in state["objective"].items() if k.startswith("G_A.")}
    assert all(torch.allclose(G.state_dict()[k], v, atol=1e-3) for k, v in trained.items())
    assert manifest["metrics"]["mparams"] == pytest.approx(0.045859, rel=1e-3)
    # a replaced file fails its checksum
    (tmp_path / "ship" / "tiny.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="checksum"):
        load_student("tiny", tmp_path / "ship")
    with pytest.raises(CheckpointError, match="missing"):
        load_student("nope", tmp_path / "ship")


def test_load_or_train_student_trains_when_nothing_is_shipped_and_checks_what_is(tmp_path, monkeypatch, capsys):
    import gancomp_lite.provenance
    monkeypatch.setattr(gancomp_lite.provenance, "code_version", lambda root=None: "0" * 40)
    from gancomp_lite.errors import CheckpointError
    from gancomp_lite.training import checkpoint as ck
    from gancomp_lite.training.distill import export_student, load_or_train_student

    T, D = teacher_pair(ngf=8, paired=False)
    recipe = StudentRecipe(task="stripes", ngf=4, mode="pseudo-pairs", inherit_d=False,
                           distill_layers=[], image_size=32)
    monkeypatch.setattr(ck, "STUDENTS_DIR", tmp_path)
    G = load_or_train_student("s", recipe, T, D, steps=2, scale="ci", progress=False)
    assert "training it" in capsys.readouterr().out and G.config["ngf"] == 4 and not G.training
    # ship a run of the same recipe, then ask for it and for something else
    run = tmp_path / "run"
    from gancomp_lite.training.distill import distill as run_distill
    teacher_file = ck.TEACHERS_DIR / "stripes-ci.pt"
    recipe64 = StudentRecipe(task="stripes", ngf=4, mode="pseudo-pairs", inherit_d=False, distill_layers=[])
    run_distill(recipe64, teacher_file, run, steps=2, n_train=1000, progress=False, evaluate_n=None)
    export_student(run, "s-ci", tmp_path)
    T64, D64 = ck.load_teacher_file(teacher_file, discriminator=True)
    G = load_or_train_student("s", recipe64, T64, D64, steps=2, scale="ci")
    assert "loading the shipped" in capsys.readouterr().out
    with pytest.raises(CheckpointError, match="steps"):
        load_or_train_student("s", recipe64, T64, D64, steps=3, scale="ci")


def test_deploy_friendly_verdicts_follow_the_numbers_and_the_gate():
    """Issue 25: a deploy-friendly arm built to be worse refutes "not worse"; a tie is
    inconclusive; a clear gain confirms it; an arm that did not learn is not judged."""
    def l1_rows(std, dep):
        return [{"arm": a, "ngf": 12, "seed": i, "l1": v, "gmacs_256": 1.0, "mparams": 1.0}
                for a, vs in (("standard", std), ("deploy-friendly", dep)) for i, v in enumerate(vs)]

    trivial = {"identity": 0.5, "mean target": 0.2}
    std = [0.080, 0.082, 0.081]
    verdict = lambda dep, t=trivial: dx.deploy_verdicts(l1_rows(std, dep), t)[  # noqa: E731
        "deploy_friendly_not_worse@ngf12"]
    assert verdict([0.120, 0.121, 0.122])["verdict"] == "not confirmed"
    assert verdict([0.079, 0.083, 0.081])["verdict"] == "inconclusive"
    assert verdict([0.060, 0.061, 0.062])["verdict"] == "confirmed"
    v = verdict([0.201, 0.202, 0.200])
    assert v["verdict"] == results.NOT_JUDGED and "mean target" in v["reason"]
    v = verdict([0.120, 0.121, 0.122], None)           # no gate: judged by the rule alone
    assert v["verdict"] == "not confirmed" and v["difference"] == pytest.approx(0.04, abs=1e-3)
    assert v["claim"] in dx.DEPLOY_CLAIMS and v["metric"] == "l1"


def test_the_deploy_friendly_sweep_trains_both_students_by_one_recipe(tmp_path, monkeypatch, capsys):
    import gancomp_lite.provenance as prov

    monkeypatch.setattr(prov, "require_clean", lambda *a, **k: "0" * 40)   # a clean commit
    out = tmp_path / "deploy.json"
    assert main(["sweep-distillation", "deploy-friendly", "--widths", "4", "--seeds", "0",
                 "--steps", "2", "--size", "32", "--n", "8", "--curve-points", "0", "--out",
                 str(out), "--save-students", str(tmp_path / "nets"), "--no-progress"]) == 0
    assert "deploy_friendly_not_worse@ngf4 [l1]:" in capsys.readouterr().out
    stored = json.loads(out.read_text())
    assert stored["claims"] == dx.DEPLOY_CLAIMS and set(stored["baselines"]) >= {"identity"}
    by_arm = {r["arm"]: r for r in stored["rows"]}
    assert set(by_arm) == {"standard", "deploy-friendly"}
    assert by_arm["deploy-friendly"]["deploy_friendly"] and not by_arm["standard"]["deploy_friendly"]
    assert all(r["distill"] and r["keep_d"] and not r["prune"] for r in by_arm.values())
    assert by_arm["deploy-friendly"]["gmacs_256"] == pytest.approx(by_arm["standard"]["gmacs_256"],
                                                                   rel=0.02)
    # the first seed's networks are shipped files that name their sweep
    from gancomp_lite.training.checkpoint import load_generator_file, read_manifest

    saved = {a: tmp_path / "nets" / f"deploy-friendly-{a}-ngf4-seed0.pt" for a in by_arm}
    norms = {a: {type(m).__name__ for m in load_generator_file(p).modules()} for a, p in saved.items()}
    assert "BatchNorm2d" in norms["deploy-friendly"] and "InstanceNorm2d" not in norms["deploy-friendly"]
    assert "InstanceNorm2d" in norms["standard"]
    assert read_manifest(saved["standard"])["command"] == stored["command"]
    assert "--save-students" in stored["command"]
