"""The gancomp-lite command line."""
import filecmp
import json
import subprocess
import sys

import pytest

from gancomp_lite.cli import main


def test_profile_json_gives_the_papers_numbers(capsys):
    assert main(["profile", "mobile_resnet", "--ngf", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input_size"] == [256, 256]
    assert abs(out["macs"]["in-excluded"] / 1.408e9 - 1) < 0.001
    assert abs(out["macs"]["in-counted"] / 1.421e9 - 1) < 0.001
    assert abs(out["params"] / 0.137e6 - 1) < 0.005
    assert set(out["conventions"]) == {"in-excluded", "in-counted", "exact", "cat"}
    assert out["macs"]["cat"] == out["macs"]["in-counted"]   # an InstanceNorm network


def test_profile_text_names_each_convention(capsys):
    assert main(["profile", "resnet", "--ngf", "64", "--conventions", "in-excluded"]) == 0
    out = capsys.readouterr().out
    assert "56.799G" in out and "11.378M" in out and "in-excluded" in out


def test_profile_other_size_and_unet(capsys):
    assert main(["profile", "unet", "--ngf", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["params"] / 54.41e6 - 1) < 0.005
    assert main(["profile", "resnet", "--ngf", "16", "--size", "128", "128", "--json"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["input_size"] == [128, 128]
    # MACs scale with the number of pixels
    assert abs(small["macs"]["exact"] * 4 / 3.328180224e9 - 1) < 1e-6


def test_data_writes_identical_bytes_for_the_same_seed(tmp_path, capsys):
    for out in ("a", "b"):
        assert main(["data", "stripes", "--n", "4", "--size", "32", "--seed", "7",
                     "--out", str(tmp_path / out)]) == 0
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert cmp.left_list == cmp.right_list and "trainA" in cmp.left_list
    for sub in ("trainA", "trainB", "testA", "testB", "testB_oracle"):
        files = sorted((tmp_path / "a" / sub).iterdir())
        assert files
        for f in files:
            assert f.read_bytes() == (tmp_path / "b" / sub / f.name).read_bytes()
    assert main(["data", "stripes", "--n", "4", "--size", "32", "--seed", "8",
                 "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "a/trainA/000000.png").read_bytes() != (tmp_path / "c/trainA/000000.png").read_bytes()


@pytest.mark.parametrize("task,folders", [("edges2shapes", {"train", "val"}),
                                          ("labels2scene", {"train", "val", "train_labels", "val_labels"})])
def test_data_aligned_layout(tmp_path, capsys, task, folders):
    assert main(["data", task, "--n", "3", "--size", "32", "--out", str(tmp_path)]) == 0
    assert folders <= {p.name for p in tmp_path.iterdir() if p.is_dir()}


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["data", "stripes", "--size", "30", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gancomp-lite: error:") and "30" in err and err.count("\n") == 1


def test_unknown_scale_is_reported(monkeypatch, capsys):
    monkeypatch.setenv("GANCOMP_SCALE", "enormous")
    assert main(["info"]) == 2
    assert "enormous" in capsys.readouterr().err


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "gancomp_lite", "info", "--json"],
                         capture_output=True, text=True, check=True, env={"PATH": "", "GANCOMP_SCALE": "small"})
    info = json.loads(out.stdout)
    assert info["name"] == "small" and info["image_size"] == 64 and info["teachers"] == "ci"


def test_train_export_evaluate_round_trip(tmp_path, capsys, monkeypatch):
    from gancomp_lite import provenance

    # exports refuse uncommitted code (tests/test_provenance.py): pretend a clean tree
    monkeypatch.setattr(provenance, "code_version", lambda root=None: "0" * 40)
    run = tmp_path / "run"
    assert main(["train", "edges2shapes", "--scale", "ci", "--steps", "2", "--out", str(run),
                 "--no-progress", "--device", "cpu"]) == 0
    assert (run / "checkpoint.pt").exists() and (run / "recipe.json").exists()
    # an existing run is never silently overwritten
    assert main(["train", "edges2shapes", "--scale", "ci", "--steps", "2", "--out", str(run),
                 "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["export-teacher", str(run), "--out", str(tmp_path / "ship"), "--n", "4"]) == 0
    shipped = tmp_path / "ship" / "edges2shapes-ci.pt"
    manifest = json.loads(shipped.with_suffix(".json").read_text())
    assert manifest["commands"][0].startswith("gancomp-lite train edges2shapes --scale ci --steps 2")
    assert {"sha256", "seed", "code_version", "metrics", "recipe"} <= set(manifest)
    capsys.readouterr()
    assert main(["evaluate", str(shipped), "--task", "edges2shapes", "--n", "4", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["fid"] == pytest.approx(manifest["metrics"]["fid"], rel=1e-4)
    assert {"l1", "psnr", "ssim", "identity_l1", "mean_target_l1"} <= set(metrics)
    # a corrupted shipped file is one clear error
    shipped.write_bytes(shipped.read_bytes()[:-100])
    assert main(["evaluate", str(shipped), "--task", "edges2shapes", "--n", "4"]) == 2
    assert "checksum" in capsys.readouterr().err


def test_full_scale_training_asks_for_real_data(tmp_path, capsys):
    assert main(["train", "stripes", "--scale", "full", "--steps", "1", "--out",
                 str(tmp_path / "r"), "--no-progress"]) == 2
    assert "real dataset" in capsys.readouterr().err


def test_bench_train_reports_both_cache_settings_and_the_cache_serves_later_epochs(capsys):
    assert main(["bench-train", "--threads", "1", "--warmup", "1", "--repeats", "1", "--steps", "1",
                 "--json"]) == 0
    off, on = json.loads(capsys.readouterr().out)
    assert (off["teacher_cache"], on["teacher_cache"]) == (False, True)
    assert off["it_per_s"] > 0 and on["it_per_s"] > 0
    # warm-up = one epoch of 4 items: it fills the cache, and the timed step reuses all four
    assert on["cache"]["misses"] == 4 and on["cache"]["hits"] == 4
    assert off["cache"]["hits"] == 0 and off["cache"]["misses"] == 8
    assert main(["bench-train", "--threads", "1", "--warmup", "1", "--repeats", "1", "--steps", "1",
                 "--teacher-cache", "off", "--amp", "bf16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["amp"] == "bf16" and report["it_per_s"] > 0 and off["amp"] == "float32"
    with pytest.raises(SystemExit) as stop:
        main(["bench-train", "--warmup", "0"])
    assert stop.value.code == 2 and "must be a positive whole number" in capsys.readouterr().err


NAME_OPTIONS = {"task", "scale", "arch", "norm", "distill_loss", "loss_preset", "preset", "scheme",
                "method", "arms", "experiment", "gan_mode", "init", "conventions", "space",
                "sampling", "search", "features", "backbone", "runtimes"}


def test_every_option_that_takes_a_name_lists_its_choices(capsys):
    import argparse

    from gancomp_lite.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    seen = 0
    for verb, parser in sub.choices.items():
        for action in parser._actions:
            if action.dest in NAME_OPTIONS:
                seen += 1
                assert action.choices, f"{verb} {action.option_strings or action.dest}: no choices"
    assert seen > 20
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    text = capsys.readouterr().out
    assert "ka" in text.split("--distill-loss", 1)[1].split("\n")[0] and "cat-pix2pix" in text
