"""Once-for-all: dynamic-width layers, the supernet, configurations, cost, search, export."""
import json
import random

import pytest
import torch
import torch.nn as nn

from gancomp_lite.compression.ofa import (SPACES, SearchSpace, evolution_search,
                                          exhaustive_search, export_subnet, held_out_split, search,
                                          search_space, search_split, subnet_macs)
from gancomp_lite.errors import BudgetError, GancompError, OutputExistsError
from gancomp_lite.losses.distill import MappedMSE
from gancomp_lite.metrics.cost import count_params, profile_macs
from gancomp_lite.models import (MobileResnetGenerator, SubMobileResnetGenerator,
                                 SuperMobileResnetGenerator, from_config, describe)
from gancomp_lite.models.dynamic import (ConfigError, DynamicConv2d, DynamicConvTranspose2d,
                                         DynamicSeparableConv2d, SubnetView, format_config,
                                         parse_config)

SPACE = search_space("channels-48-ci")


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    net = SuperMobileResnetGenerator(ngf=SPACE.ngf)
    with torch.no_grad():   # non-trivial weights everywhere (the init zeroes the biases)
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def test_dynamic_layers_use_the_leading_slice_of_their_weights():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8, 8)
    conv = DynamicConv2d(7, 9, 3, padding=1)
    plain = nn.Conv2d(5, 4, 3, padding=1)
    plain.weight.data, plain.bias.data = conv.weight[:4, :5].clone(), conv.bias[:4].clone()
    assert torch.allclose(conv(x, 4), plain(x))
    up = DynamicConvTranspose2d(7, 9, 3, 2, 1, 1)
    plain_up = nn.ConvTranspose2d(5, 4, 3, 2, 1, 1)
    plain_up.weight.data, plain_up.bias.data = up.weight[:5, :4].clone(), up.bias[:4].clone()
    assert torch.allclose(up(x, 4), plain_up(x))
    sep = DynamicSeparableConv2d(7, 9, 3, padding=1)
    dw, pw = nn.Conv2d(5, 5, 3, padding=1, groups=5), nn.Conv2d(5, 4, 1)
    dw.weight.data, dw.bias.data = sep.conv[0].weight[:5].clone(), sep.conv[0].bias[:5].clone()
    pw.weight.data, pw.bias.data = sep.conv[2].weight[:4, :5].clone(), sep.conv[2].bias[:4].clone()
    ref = pw(nn.functional.instance_norm(dw(x)))
    assert torch.allclose(sep(x, 4), ref, atol=1e-6)
    with pytest.raises(ConfigError, match="only 9"):
        conv(x, 10)


def test_a_sliced_forward_equals_a_plain_network_with_those_widths_and_weights(supernet):
    rng = random.Random(1)
    x = torch.randn(2, 3, 32, 32)
    for _ in range(4):
        config = SPACE.sample(rng)
        plain = SubMobileResnetGenerator(list(config))
        # built by hand from the supernet: every tensor cut to the plain network's shape
        big = supernet.state_dict()
        plain.load_state_dict({k: big[k][tuple(slice(0, n) for n in v.shape)]
                               for k, v in plain.state_dict().items()})
        with torch.no_grad():
            assert torch.allclose(supernet(x, config=config), plain(x), atol=1e-6)


def test_export_holds_exactly_the_subnets_weights_and_leaves_the_supernet_alone(supernet):
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    active = supernet.active
    x = torch.randn(3, 3, 32, 32)
    for config in (SPACE.largest(), SPACE.smallest(), (12, 8, 10, 8, 12, 10, 6, 4)):
        sub = export_subnet(supernet, config)
        assert isinstance(sub, SubMobileResnetGenerator)
        with torch.no_grad():
            assert torch.equal(sub(x), supernet(x, config=config))
            assert torch.equal(SubnetView(supernet, config)(x), supernet(x, config=config))
        # no more weights than the subnet needs, and it rebuilds from its description
        assert count_params(sub) == count_params(SubMobileResnetGenerator(list(config)))
        assert isinstance(from_config(describe(sub)), SubMobileResnetGenerator)
    assert supernet.active == active
    assert all(torch.equal(before[k], v) for k, v in supernet.state_dict().items())
    with pytest.raises(ConfigError, match="above the supernet's width"):
        export_subnet(supernet, (16,) * 8)


def test_the_largest_subnet_is_the_mobile_resnet_and_keys_follow_gan_compression():
    sup = SuperMobileResnetGenerator(ngf=16)
    mobile = MobileResnetGenerator(ngf=16)
    assert list(sup.state_dict()) == list(mobile.state_dict())
    mobile.load_state_dict(sup.state_dict())       # a Mobile ResNet checkpoint fits the supernet
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(sup(x), mobile(x), atol=1e-6)
    # GAN Compression's sub-mobile layout: a 6-entry released model, key by key
    sub = SubMobileResnetGenerator("24_24_24_32_20_16")
    shapes = {k: tuple(v.shape) for k, v in sub.state_dict().items()}
    assert shapes["model.1.weight"] == (24, 3, 7, 7)
    assert shapes["model.4.weight"] == (48, 24, 3, 3)
    assert shapes["model.7.weight"] == (96, 48, 3, 3)
    assert shapes["model.10.conv_block.1.conv.0.weight"] == (96, 1, 3, 3)
    assert shapes["model.10.conv_block.1.conv.2.weight"] == (128, 96, 1, 1)
    assert shapes["model.10.conv_block.6.conv.0.weight"] == (128, 1, 3, 3)
    assert shapes["model.10.conv_block.6.conv.2.weight"] == (96, 128, 1, 1)
    assert shapes["model.19.weight"] == (96, 40, 3, 3)      # transposed conv: [in, out, k, k]
    assert shapes["model.22.weight"] == (40, 16, 3, 3)
    assert shapes["model.26.weight"] == (3, 16, 7, 7)


def test_gan_compressions_released_horse2zebra_model_costs_its_published_numbers():
    sub = SubMobileResnetGenerator("24_24_24_32_20_16")   # the 6-entry (legacy) form
    assert round(profile_macs(sub, 256, "in-counted") / 1e9, 3) == 2.670
    assert round(count_params(sub) / 1e6, 3) == 0.342
    # the 8-entry released models of the README
    for config, gmacs, mparams in (("16_16_32_16_32_32_16_16", 2.546, 0.357),
                                   ("32_32_48_32_48_48_16_16", 4.994, 0.822)):
        sub = SubMobileResnetGenerator(config)
        assert round(subnet_macs(config, 256, "in-counted") / 1e9, 3) == gmacs
        assert round(count_params(sub) / 1e6, 3) == mparams


def test_subnet_macs_by_formula_equal_the_profiler():
    rng = random.Random(0)
    for name in ("channels-48-ci", "channels-32"):
        for _ in range(1):
            config = SPACES[name].sample(rng)
            sub = SubMobileResnetGenerator(list(config))
            for convention in ("in-counted", "in-excluded", "cat"):
                for size in (64, (32, 48)):   # the formula is size-generic; 256 is checked above
                    assert subnet_macs(config, size, convention) == profile_macs(sub, size, convention)
    with pytest.raises(GancompError, match="profile the exported subnet"):
        subnet_macs((8,) * 8, 256, "exact")


def test_configuration_strings_round_trip_and_bad_ones_fail_clearly():
    for config in SPACE:
        assert parse_config(format_config(config)) == config
    assert format_config(parse_config("16_16_32_16_32_32_16_16")) == "16_16_32_16_32_32_16_16"
    assert parse_config("24_24_24_32_20_16") == (24, 24, 24, 32, 32, 32, 20, 16)   # legacy form
    for bad in ("16_16_x_16", "16_16_32", "1_2_3_4_5_6_7_8_9", "16_16_0_16_16_16_16_16", ""):
        with pytest.raises(ConfigError, match="malformed configuration"):
            parse_config(bad)
    with pytest.raises(ConfigError, match=r"outside the search space .*c0=10 \(allowed: 12, 8\)"):
        SPACE.validate("10_8_12_12_12_12_12_12")


def test_search_spaces_match_gan_compressions_lists():
    assert SPACES["channels-32"].size() == 3 ** 8 == 6561
    assert SPACES["channels-48"].size() == 5184
    assert SPACES["channels-48-ci"].size() == 5184
    assert SPACES["channels-48-ci"].candidates[6] == (12, 8, 6, 4)
    assert SPACES["channels-64-cyclegan"].candidates[0] == (64, 48, 32, 24, 16)
    assert SPACES["channels-64-pix2pix"].ngf == 64
    assert SearchSpace.from_dict(SPACE.as_dict()) == SPACE


def _known_table(seed=0):
    """A synthetic score table over the space: its optimum under a budget is known."""
    rng = random.Random(seed)
    weights = [rng.uniform(-1, 1) for _ in range(8)]
    score = lambda c: sum(w * v for w, v in zip(weights, c)) + 0.001 * sum(c[i] * c[-1 - i] for i in range(4))
    cost = lambda c: subnet_macs(c, 256, "in-counted")
    return score, cost


def test_searches_respect_the_budget_and_find_a_known_optimum():
    score, cost = _known_table()
    budget = subnet_macs((9,) * 8)
    fits = [c for c in SPACE if cost(c) <= budget]
    best = min(fits, key=score)
    seen = []
    ex = exhaustive_search(SPACE, budget, lambda c: (seen.append(c), score(c))[1], cost)
    assert ex.best == best and ex.best_macs <= budget and ex.evaluated == len(fits)
    assert all(cost(c) <= budget for c in seen)
    assert [t[1] for t in ex.trace] == sorted([t[1] for t in ex.trace], reverse=True)
    seen.clear()
    ev = evolution_search(SPACE, budget, lambda c: (seen.append(c), score(c))[1], cost,
                          population=40, generations=30, mutate_prob=0.3, seed=0)
    assert all(cost(c) <= budget for c in seen)            # over-budget children were redrawn
    assert len(seen) == len(set(seen)) == ev.evaluated      # each subnet scored once
    assert ev.best == best                                  # found the known optimum
    assert ev.evaluated < len(fits)                         # ... without scoring everything


def test_evolution_with_a_fixed_seed_is_deterministic():
    score, cost = _known_table(1)
    budget = subnet_macs((8,) * 8)
    a = evolution_search(SPACE, budget, score, cost, population=12, generations=5, seed=3)
    b = evolution_search(SPACE, budget, score, cost, population=12, generations=5, seed=3)
    assert (a.best, a.trace) == (b.best, b.trace)


def test_a_budget_below_the_smallest_subnet_names_its_cost():
    score, cost = _known_table()
    smallest = subnet_macs(SPACE.smallest())
    for method in (exhaustive_search, evolution_search):
        with pytest.raises(BudgetError, match=r"smallest subnet of channels-48-ci \(8_8_8_8_8_8_4_4: 0.3127G"):
            method(SPACE, smallest - 1, score, cost)


def test_search_caches_scores_so_a_rerun_is_instant(supernet, tmp_path):
    data = held_out_split("edges2shapes", 8, 4, 32)
    budget = subnet_macs((12, 8, 8, 8, 8, 8, 4, 4))
    cache = tmp_path / "scores.json"
    first = search(supernet, SPACE, budget, data, "exhaustive", cache=cache)
    assert first.cache_hits == 0 and first.evaluated >= 2
    again = search(supernet, SPACE, budget, data, "exhaustive", cache=cache)
    assert again.cache_hits == again.evaluated and (again.best, again.best_score) == (first.best, first.best_score)
    other = SuperMobileResnetGenerator(ngf=SPACE.ngf)
    with pytest.raises(OutputExistsError, match="another supernet"):
        search(other, SPACE, budget, data, "exhaustive", cache=cache)


def test_the_held_out_split_is_training_data_no_run_sees():
    from gancomp_lite.data import open_dataset

    ds = open_dataset("edges2shapes", phase="train", n=10, size=32, seed=0)
    train, held = search_split(ds, 3)
    assert len(train) == 7 and held["A"].shape == (3, 3, 32, 32)
    assert torch.equal(held["A"][0], ds[7]["A"])
    first = open_dataset("edges2shapes", phase="train", n=7, size=32, seed=0)
    assert torch.equal(train[6]["A"], first[6]["A"])       # the usual training set
    assert torch.equal(held_out_split("edges2shapes", 7, 3, 32)["A"], held["A"])
    with pytest.raises(GancompError, match="n_val"):
        search_split(ds, 10)


def test_mappings_take_any_student_width_only_when_asked():
    loss = MappedMSE([(16, 8)], any_student_width=True)
    t = torch.randn(2, 8, 4, 4)
    narrow = torch.randn(2, 12, 4, 4)
    expected = nn.functional.mse_loss(nn.functional.conv2d(narrow, loss.mappings[0].weight[:, :12],
                                                           loss.mappings[0].bias), t)
    assert torch.allclose(loss([narrow], [t]), expected)
    with pytest.raises(GancompError, match="expected 16 student"):
        MappedMSE([(16, 8)])([narrow], [t])


@pytest.fixture(scope="module")
def tiny_teacher():
    from gancomp_lite.models import NLayerDiscriminator, ResnetGenerator

    torch.manual_seed(0)
    return ResnetGenerator(ngf=4).eval(), NLayerDiscriminator(6, ndf=8).eval()


def _tiny_trainer(tiny_teacher, sampling, steps=12, seed=0, n=8):
    from gancomp_lite.data import open_dataset
    from gancomp_lite.training.supernet import supernet_trainer

    space = SearchSpace("tiny", ((4, 2),) * 8)
    data = open_dataset("edges2shapes", phase="train", n=n, size=32, seed=0)
    teacher, D = tiny_teacher
    return supernet_trainer(space, teacher, D, data, steps, batch_size=2, seed=seed,
                            sampling=sampling, image_size=32, device="cpu", progress=False)


def test_supernet_training_samples_from_the_space_and_its_loss_falls(tiny_teacher):
    trainer = _tiny_trainer(tiny_teacher, "uniform", steps=40)
    drawn = []
    obj = trainer.objective
    original = obj.configs_of_step
    obj.configs_of_step = lambda: (lambda cs: (drawn.extend(cs), cs)[1])(original())
    batch = trainer.batch_at(0)
    with torch.no_grad():
        before = float(obj.group_loss("G", obj.forward_step(batch))[0])   # one random subnet
    trainer.fit()
    assert len(drawn) == 41 and all(obj.space.validate(c) for c in drawn)
    assert len(set(drawn)) > 10                                   # many subnets were trained
    with torch.no_grad():
        after = [float(obj.group_loss("G", obj.forward_step(batch))[0]) for _ in range(5)]
    assert sum(after) / 5 < before
    assert tiny_teacher[0].training is False                      # the caller's teacher untouched


def test_the_sandwich_rule_trains_largest_smallest_and_one_random_subnet(tiny_teacher):
    trainer = _tiny_trainer(tiny_teacher, "sandwich", steps=2)
    obj = trainer.objective
    configs = obj.configs_of_step()
    assert configs[:2] == [obj.space.largest(), obj.space.smallest()] and len(configs) == 3
    ctx = obj.forward_step(trainer.batch_at(0))
    assert [sub["config"] for sub in ctx["subnets"]][:2] == configs[:2]
    total, parts = obj.group_loss("G", ctx)
    from gancomp_lite.training.distill import DistillObjective

    singles = [DistillObjective.group_loss(obj, "G", sub)[0] for sub in ctx["subnets"]]
    assert torch.allclose(total, sum(singles))                    # the three losses are summed


def test_supernet_training_is_repeatable_and_resumes_exactly(tiny_teacher, tmp_path):
    # within one epoch: the teacher cache (a later epoch reads teacher outputs computed in
    # other batches, equal only to float precision) plays no part
    a = _tiny_trainer(tiny_teacher, "uniform", steps=6, n=16)
    a.fit()
    b = _tiny_trainer(tiny_teacher, "uniform", steps=6, n=16)
    b.fit(until=3, checkpoint=tmp_path / "c.pt")
    c = _tiny_trainer(tiny_teacher, "uniform", steps=6, n=16)
    c.load(tmp_path / "c.pt")
    c.fit()
    for k, v in a.objective.netG.state_dict().items():
        assert torch.equal(v, c.objective.netG.state_dict()[k]), k


# -- the command line ----------------------------------------------------------------
def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def supernet_file(tmp_path_factory):
    from gancomp_lite.cli import main

    run = tmp_path_factory.mktemp("ofa") / "run"
    assert main(["train-supernet", "edges2shapes", "--space", "channels-48-ci", "--steps", "2",
                 "--n-train", "8", "--n-val", "4", "--size", "32", "--out", str(run),
                 "--no-progress"]) == 0
    return run / "supernet.pt"


def test_train_search_export_and_fine_tune_from_the_command_line(supernet_file, tmp_path, capsys):
    from gancomp_lite.cli import main
    from gancomp_lite.training.checkpoint import load_pruned, load_supernet

    net, manifest = load_supernet(supernet_file)
    assert isinstance(net, SuperMobileResnetGenerator) and manifest["recipe"]["n_val"] == 4
    assert manifest["commands"][0].startswith("gancomp-lite train-supernet edges2shapes")
    budget = str(subnet_macs((12, 8, 8, 8, 8, 8, 4, 4)))
    cache = tmp_path / "scores.json"
    for method in ("exhaustive", "evolution"):
        capsys.readouterr()
        assert main(["search", str(supernet_file), "--budget", budget, "--method", method,
                     "--population", "4", "--generations", "2", "--cache", str(cache), "--json",
                     "--no-progress"] if method == "evolution" else
                    ["search", str(supernet_file), "--budget", budget, "--cache", str(cache),
                     "--json", "--no-progress"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["best_macs"] <= float(budget) and out["convention"] == "in-counted"
    assert out["cache_hits"] == out["evaluated"]          # the exhaustive run scored them all
    sub = tmp_path / "sub.pt"
    assert main(["export-subnet", str(supernet_file), "--config", out["best"], "--out", str(sub)]) == 0
    G, kept = load_pruned(sub)
    assert kept and isinstance(G, SubMobileResnetGenerator) and format_config(G.config["channels"]) == out["best"]
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(G(x), net(x, config=parse_config(out["best"])), atol=1e-6)
    assert main(["export-subnet", str(supernet_file), "--config", out["best"], "--out", str(sub)]) == 2
    assert "exists" in _one_error(capsys)
    run = tmp_path / "ft"
    assert main(["distill", "edges2shapes", "--student-from", str(sub), "--ngf", "12", "--steps", "2", "--n-train", "8",
                 "--size", "32", "--n", "8", "--out", str(run), "--no-progress"]) == 0
    assert json.loads((run / "metrics.json").read_text())["mparams"] == pytest.approx(count_params(G) / 1e6)
    # GAN Compression's fine-tune recipe: its epochs (5 + 15) on the training set, batch 4
    run = tmp_path / "ft-preset"
    assert main(["distill", "edges2shapes", "--paper-preset", "gc-edges2shoes-r-finetune",
                 "--student-from", str(sub), "--n-train", "4", "--size", "32",
                 "--n", "4", "--out", str(run), "--no-progress"]) == 0
    record = json.loads((run / "recipe.json").read_text())
    assert (record["steps"], record["decay_steps"], record["batch_size"]) == (20, 15, 4)
    # the student's architecture and width are the subnet's own, recorded
    assert record["recipe"]["student"] == "mobile_resnet"
    assert record["recipe"]["ngf"] == max(G.config["channels"])
    assert record["paper_preset"] == "gc-edges2shoes-r-finetune" and "discriminator_from" not in record
    assert "--discriminator-from" in capsys.readouterr().out     # the official start, said
    # ... and from the supernet's discriminator, as the official finetune.sh restores it
    run = tmp_path / "ft-supernet-D"
    assert main(["distill", "edges2shapes", "--paper-preset", "gc-edges2shoes-r-finetune",
                 "--student-from", str(sub), "--ngf", "12", "--n-train", "4", "--size", "32",
                 "--steps", "1", "--discriminator-from", str(supernet_file.parent), "--n", "4",
                 "--out", str(run), "--no-progress"]) == 0
    assert json.loads((run / "recipe.json").read_text())["discriminator_from"] == str(supernet_file.parent)
    assert main(["distill", "edges2shapes", "--student-from", str(sub), "--ngf", "12", "--steps", "1",
                 "--fresh-d", "--discriminator-from", str(supernet_file.parent),
                 "--out", str(tmp_path / "fresh")]) == 2
    assert "--fresh-d" in _one_error(capsys)
    capsys.readouterr()
    assert main(["distill", "edges2shapes", "--paper-preset", "gc-edges2shoes-r-finetune",
                 "--ngf", "12", "--out", str(tmp_path / "no-subnet")]) == 2
    assert "export-subnet" in _one_error(capsys)


def test_bad_search_and_export_inputs_give_one_clear_error(supernet_file, tmp_path, capsys):
    from gancomp_lite.cli import main

    assert main(["search", str(supernet_file), "--budget", "1e8"]) == 2
    err = _one_error(capsys)
    assert "below the smallest subnet" in err and "0.3127G" in err
    assert main(["export-subnet", str(supernet_file), "--config", "12_12_x", "--out",
                 str(tmp_path / "a.pt")]) == 2
    assert "malformed configuration" in _one_error(capsys)
    assert main(["export-subnet", str(supernet_file), "--config", "16_8_12_12_12_12_12_12", "--out",
                 str(tmp_path / "a.pt")]) == 2
    assert "outside the search space" in _one_error(capsys)
    assert main(["search", str(tmp_path / "missing.pt"), "--budget", "1e9"]) == 2
    assert "train-supernet" in _one_error(capsys)
    assert not list(tmp_path.iterdir())


def test_profile_takes_a_configuration_string(capsys):
    from gancomp_lite.cli import main

    assert main(["profile", "mobile_resnet", "--config", "24_24_24_32_20_16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert round(out["macs"]["in-counted"] / 1e9, 3) == 2.670 and round(out["params"] / 1e6, 3) == 0.342
    assert main(["profile", "resnet", "--config", "24_24_24_32_20_16"]) == 2
    assert "mobile ResNet" in _one_error(capsys)


def _resumable_sweep(tmp_path, monkeypatch, args, keep):
    import gancomp_lite.provenance as prov
    from gancomp_lite.cli import main
    from gancomp_lite.experiments import results

    monkeypatch.setattr(prov, "require_clean", lambda *a, **k: "0" * 40)   # a clean commit
    out = tmp_path / "ofa.json"
    args = args + ["--n", "8", "--curve-points", "0", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    whole = results.load(out)
    out.write_text(json.dumps(dict(whole, status="running", rows=whole["rows"][:keep])))
    assert main(args) == 2                                      # exists: not overwritten
    assert main(args + ["--resume", "--force"]) == 2
    return main, args, out, whole


def _same_jobs(a, b):
    key = lambda r: (r.get("kind"), r["arm"], r.get("budget_ngf"), r["seed"])  # noqa: E731
    assert [key(r) for r in a] == [key(r) for r in b]


def test_a_resumed_supernet_sweep_keeps_its_supernets_and_runs_only_what_is_missing(
        tmp_path, monkeypatch):
    from gancomp_lite.experiments import results
    from gancomp_lite.training.checkpoint import read_manifest

    ship = tmp_path / "ship"
    # seed 1: the exhaustive search (seed 0 only) would score all 5184 subnets
    main, args, out, whole = _resumable_sweep(tmp_path, monkeypatch, [
        "sweep-ofa", "supernets", "--seeds", "1", "--steps", "1", "--finetune-steps", "1",
        "--population", "4", "--generations", "1", "--ship-dir", str(ship)], keep=3)
    assert [r["arm"] for r in whole["rows"][:3]] == ["uniform: largest", "uniform: smallest",
                                                      "searched"]
    uniform = ship / f"{whole['rows'][0]['supernet']}"
    before = read_manifest(uniform)
    assert main(args + ["--resume"]) == 0
    resumed = results.load(out)
    assert resumed["status"] == "complete" and resumed["rows"][:3] == whole["rows"][:3]
    _same_jobs(resumed["rows"], whole["rows"])
    assert read_manifest(uniform) == before          # the shipped supernet was kept, not re-trained
    # the subnet the seeded search finds again is the one it found before
    assert [r["config"] for r in resumed["rows"] if r["kind"] == "searched"] == \
        [r["config"] for r in whole["rows"] if r["kind"] == "searched"]
    # a supernet file another command shipped is never replaced by a resume
    other = args[:args.index("--steps") + 1] + ["2"] + args[args.index("--steps") + 2:]
    assert main(other + ["--resume"]) == 2 and read_manifest(uniform) == before


def test_a_resumed_baselines_sweep_keeps_its_finished_runs(tmp_path, monkeypatch):
    from gancomp_lite.experiments import results

    main, args, out, whole = _resumable_sweep(tmp_path, monkeypatch, [
        "sweep-ofa", "baselines", "--seeds", "0", "--steps", "1"], keep=2)
    assert main(args + ["--resume"]) == 0
    resumed = results.load(out)
    assert resumed["status"] == "complete" and resumed["rows"][:2] == whole["rows"][:2]
    _same_jobs(resumed["rows"], whole["rows"])
    assert [r["kind"] for r in whole["rows"]] == ["uniform"] * 4 + ["cat"]


def test_the_fine_tune_can_start_from_the_supernet_runs_discriminator(supernet_file, tmp_path):
    """run_discriminator: the run's last netD weights in the teacher's architecture, the
    teacher's D untouched; a file that is no training checkpoint, or a D of another
    width, is one clear error."""
    from gancomp_lite.errors import CheckpointError
    from gancomp_lite.models import NLayerDiscriminator
    from gancomp_lite.shipped import read_torch_file
    from gancomp_lite.training.checkpoint import load_teacher_file, teacher_path
    from gancomp_lite.training.distill import run_discriminator

    _, teacher_D = load_teacher_file(teacher_path("edges2shapes", "ci"), discriminator=True)
    before = {k: v.clone() for k, v in teacher_D.state_dict().items()}
    D = run_discriminator(supernet_file.parent, teacher_D)
    saved = read_torch_file(supernet_file.parent / "checkpoint.pt", weights_only=False)["objective"]
    for k, v in D.state_dict().items():
        assert torch.equal(v, saved["netD." + k].float()), k
        assert torch.equal(teacher_D.state_dict()[k], before[k]), k
    assert any(not torch.equal(D.state_dict()[k], before[k].float()) for k in before)  # trained on
    with pytest.raises(CheckpointError, match="not a gancomp-lite training checkpoint"):
        run_discriminator(supernet_file, teacher_D)
    with pytest.raises(CheckpointError, match="discriminator .* does not match NLayerDiscriminator"):
        run_discriminator(supernet_file.parent, NLayerDiscriminator(6, ndf=8))
