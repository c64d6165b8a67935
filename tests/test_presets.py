"""The papers' training recipes (training.presets) and `info --preset`."""
import json

import pytest

from gancomp_lite.cli import main
from gancomp_lite.errors import GancompError
from gancomp_lite.training.distill import PRESETS as DISTILL
from gancomp_lite.training.online import PRESETS as ONLINE
from gancomp_lite.training.presets import (PAPER_PRESETS, loss_weights, paper_preset, preset_for,
                                           steps_for)


def test_every_preset_names_loss_weights_that_exist_and_an_objective_that_fits():
    for name, p in PAPER_PRESETS.items():
        assert p.loss in DISTILL or p.loss in ONLINE, name
        assert (p.gan_mode == "lsgan") == (p.task == "horse2zebra"), name   # CycleGAN vs pix2pix
        assert p.ndf == (64 if p.task == "horse2zebra" else 128), name
        assert p.epochs > 0 and p.epochs_decay > 0 and p.batch_size > 0
    # the official schedules (official-implementations section 7)
    assert (paper_preset("gc-edges2shoes-r-distill").epochs, paper_preset("gc-edges2shoes-r-distill")
            .epochs_decay, paper_preset("gc-edges2shoes-r-distill").batch_size) == (5, 15, 4)
    assert (paper_preset("cat-map2sat-student").epochs_decay, paper_preset("cat-map2sat-student")
            .batch_size) == (1000, 80)
    assert loss_weights(paper_preset("cat-horse2zebra-student"))["lambda_recon"] == 5.0
    assert loss_weights(paper_preset("crd-edges2shoes-r-joint"))["relation_weight"] == 2.5


def test_steps_follow_from_epochs_and_the_dataset():
    p = paper_preset("gc-horse2zebra-distill")          # 100 + 100 epochs at batch 1
    assert steps_for(p, 1067) == 200 * 1067
    assert steps_for(paper_preset("gc-edges2shoes-r-distill"), 10) == 20 * 3
    with pytest.raises(GancompError):
        steps_for(p, 0)
    with pytest.raises(GancompError, match="unknown paper preset"):
        paper_preset("gc-nowhere")


def test_info_prints_a_preset(capsys):
    assert main(["info", "--preset", "cat-horse2zebra-student", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["preset"]["batch_size"] == 80 and out["loss_weights"]["lambda_distill"] == 1.0
    assert main(["info", "--preset", "gc-edges2shoes-r-distill"]) == 0
    text = capsys.readouterr().out
    assert "5 + 15 epochs" in text and "model.9" in text
    with pytest.raises(SystemExit) as stop:
        main(["info", "--preset", "nope"])
    assert stop.value.code == 2 and "gc-horse2zebra-distill" in capsys.readouterr().err


def test_every_preset_names_networks_the_estimate_can_read():
    """Issue 24's GPU page: each preset's teacher and student are read from its words
    (at 64 px, to stay fast) and the estimate counts its schedule on the official set."""
    from gancomp_lite.errors import GancompError
    from gancomp_lite.training.presets import (EPOCH_ITEMS, PAPER_PRESETS, network_gmacs,
                                               steps_for, training_estimate)

    for p in PAPER_PRESETS.values():
        assert (p.paper, p.task) in EPOCH_ITEMS
        assert network_gmacs(p.teacher, 64) > network_gmacs(p.student, 64) > 0
    # a whole ResNet at 256 is 16x the 64-px count (the MACs scale with the pixels)
    assert network_gmacs("resnet ngf 64", 256) == pytest.approx(16 * network_gmacs("ngf 64", 64))
    assert network_gmacs("one-step pruned to 2.6G MACs") == 2.6
    with pytest.raises(GancompError, match="cannot read"):
        network_gmacs("a very small network")
    # GAN Compression's fine-tunes read the whole train folder (their scripts pass no meta file)
    assert training_estimate(PAPER_PRESETS["gc-edges2shoes-r-finetune"])["epoch_items"] == 47977
    assert training_estimate(PAPER_PRESETS["gc-edges2shoes-r-distill"])["epoch_items"] == 45929
    # OMGD's two teachers: both generators, and the discriminator's passes for each
    e = training_estimate(PAPER_PRESETS["omgd-edges2shoes-r-joint"], size=64)
    assert e["teacher_gmacs"] == pytest.approx(network_gmacs("mobile_resnet ngf 64", 64)
                                               + network_gmacs("mobile_deepest_resnet ngf 16", 64))
    assert e["train_gmacs_per_image"] == pytest.approx(3 * e["student_gmacs"] + 18 * e["d_gmacs"]
                                                       + 3 * e["teacher_gmacs"])
    e = training_estimate(PAPER_PRESETS["gc-horse2zebra-distill"], size=64)
    assert e["steps"] == steps_for(PAPER_PRESETS["gc-horse2zebra-distill"], 1214) == 200 * 1214
    assert e["gpu_hours"] == pytest.approx(e["pflop"] * 1e15 / (e["assumed_tflops"] * 1e12) / 3600)


def test_distill_applies_a_paper_preset(tmp_path, capsys):
    """distill --paper-preset: the preset's epochs on the training set become the steps
    (its decay epochs the decay), with its batch size and loss weights."""
    out = tmp_path / "student"
    assert main(["distill", "edges2shapes", "--paper-preset", "gc-edges2shoes-r-distill",
                 "--ngf", "4", "--n-train", "4", "--size", "32", "--n", "4", "--out", str(out),
                 "--no-progress"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    p = PAPER_PRESETS["gc-edges2shoes-r-distill"]
    assert record["steps"] == (p.epochs + p.epochs_decay) * 1 and record["batch_size"] == 4
    assert record["decay_steps"] == p.epochs_decay and record["paper_preset"] == p.paper + "-" + p.task + "-" + p.stage
    assert record["recipe"]["loss_preset"] == "pix2pix"
    capsys.readouterr()
    assert main(["distill", "edges2shapes", "--ngf", "4", "--out", str(tmp_path / "x")]) == 2
    assert "--steps" in capsys.readouterr().err
    # map2sat: its own loss weights, its student, and BtoA on a real folder
    folder = tmp_path / "maps"
    assert main(["data", "edges2shapes", "--n", "4", "--n-test", "2", "--size", "32",
                 "--out", str(folder)]) == 0
    out = tmp_path / "map2sat"
    assert main(["distill", "edges2shapes", "--paper-preset", "gc-map2sat-distill", "--data",
                 str(folder), "--size", "32", "--steps", "2", "--out", str(out),
                 "--no-progress"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    assert record["direction"] == "BtoA" and record["recipe"]["loss_preset"] == "gc-map2sat"
    assert record["recipe"]["student"] == "mobile_resnet" and record["recipe"]["ngf"] == 48
    assert record["weights"]["lambda_recon"] == 10.0 and record["weights"]["lambda_distill"] == 0.01
    assert main(["distill", "edges2shapes", "--paper-preset", "cat-map2sat-student", "--steps", "1",
                 "--out", str(tmp_path / "cat")]) == 2
    assert "--student-from" in capsys.readouterr().err
    with pytest.raises(GancompError, match="train-supernet"):
        preset_for("gc-edges2shoes-r-supernet", "distill")


def test_train_supernet_and_distill_online_apply_their_paper_presets(tmp_path, capsys):
    """train-supernet / distill-online --paper-preset: the schedule in epochs with its decay,
    the batch, the loss and what the preset names (space; method and widths)."""
    out = tmp_path / "supernet"
    assert main(["train-supernet", "edges2shapes", "--paper-preset", "gc-edges2shoes-r-supernet",
                 "--n-train", "4", "--n-val", "2", "--size", "32", "--out", str(out),
                 "--no-progress"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    p = PAPER_PRESETS["gc-edges2shoes-r-supernet"]
    assert record["recipe"]["steps"] == p.epochs + p.epochs_decay     # 4 items at batch 4: 1 step an epoch
    assert record["decay_steps"] == p.epochs_decay and record["paper_preset"] == "gc-edges2shoes-r-supernet"
    assert record["recipe"]["space"]["name"] == "channels-48" and record["recipe"]["batch_size"] == 4
    assert record["recipe"]["preset"] == "pix2pix"
    out = tmp_path / "online"
    assert main(["distill-online", "--task", "edges2shapes", "--paper-preset", "crd-edges2shoes-r-joint",
                 "--steps", "2", "--n-train", "4", "--n", "4", "--out", str(out), "--no-progress"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    p = PAPER_PRESETS["crd-edges2shoes-r-joint"]
    assert record["method"] == "crd" and record["preset"] == "crd-pix2pix" and record["batch_size"] == 4
    assert record["student"]["ngf"] == 16 and record["paper_preset"] == "crd-edges2shoes-r-joint"
    assert record["steps"] == 2 and record["decay_steps"] == 1   # explicit steps: the preset's half decays
    capsys.readouterr()
    for bad, says in ((["distill-online", "--task", "edges2shapes", "--method", "omgd",
                        "--paper-preset", "crd-edges2shoes-r-joint", "--steps", "1"], "crd's recipe"),
                      (["distill-online", "--task", "edges2shapes", "--steps", "1"], "--method"),
                      (["distill-online", "--task", "edges2shapes", "--method", "crd"], "--steps"),
                      (["train-supernet", "edges2shapes", "--steps", "1"], "--space"),
                      (["train-supernet", "edges2shapes", "--space", "channels-48-ci"], "--steps")):
        assert main([*bad, "--out", str(tmp_path / "bad")]) == 2, bad
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err, (bad, err)
    with pytest.raises(SystemExit):          # a distill recipe is not among train-supernet's choices
        main(["train-supernet", "edges2shapes", "--paper-preset", "gc-edges2shoes-r-distill",
              "--out", str(tmp_path / "bad")])
    with pytest.raises(GancompError, match="`distill-online` trains it, not `train-supernet`"):
        preset_for("omgd-horse2zebra-joint", "train-supernet")
