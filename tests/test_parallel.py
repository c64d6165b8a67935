"""GPU training features run on the CPU (issue 24): data-parallel training under
torchrun (two gloo processes against one), channels-last memory."""
import json
import os
import subprocess
import sys

import pytest
import torch

from gancomp_lite.cli import main
from gancomp_lite.data import SyntheticAligned
from gancomp_lite.errors import GancompError
from gancomp_lite.training import Trainer, pix2pix
from gancomp_lite.training.parallel import shard

DISTILL = ["distill", "edges2shapes", "--student", "mobile_resnet", "--ngf", "8", "--steps", "4",
           "--batch-size", "4", "--size", "32", "--n-train", "16", "--n-eval", "8", "--no-progress"]


def _weights(run):
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    return state["objective"], state["history"]


def test_two_processes_follow_one_process_with_the_same_global_batch(tmp_path):
    """torchrun with two gloo processes, each taking half of every batch of 4, ends with
    the weights and losses of one process taking the whole batch (to float rounding);
    rank 0 alone writes the run's files."""
    assert main(DISTILL + ["--out", str(tmp_path / "one")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "-m", "gancomp_lite", *DISTILL,
                          "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("trained mobile_resnet") == 1          # only rank 0 prints
    one, h1 = _weights(tmp_path / "one")
    two, h2 = _weights(tmp_path / "two")
    assert len(h1) == len(h2) == 4
    for a, b in zip(h1, h2):
        for key in ("G/total", "D/total", "G/distill"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (key, a[key], b[key])
    assert h2[-1]["G/total"] != h2[0]["G/total"]                   # it trained
    diff = {k: (one[k].float() - two[k].float()).abs().max().item() for k in one
            if one[k].is_floating_point()}
    # Every weight agrees.  A bias just before an InstanceNorm has no effect on the output
    # (the norm subtracts each channel's mean), so its gradient is 0 up to rounding, and
    # Adam turns rounding noise into steps of up to lr = 2e-4: only such biases may differ.
    weights = {k: d for k, d in diff.items() if not k.endswith(".bias")}
    assert max(weights.values()) < 1e-5, max(weights.items(), key=lambda kv: kv[1])
    assert max(diff.values()) <= 4 * 2 * 2e-4
    record = json.loads((tmp_path / "two" / "recipe.json").read_text())
    assert record["processes"] == 2 and "processes" not in json.loads(
        (tmp_path / "one" / "recipe.json").read_text())
    assert (tmp_path / "two" / "metrics.json").exists()


def test_a_supernet_trains_alike_on_two_processes(tmp_path):
    """Every process draws the same subnet at each step (the seeded sampler), so a
    two-process supernet run follows the one-process run with the same global batch."""
    cmd = ["train-supernet", "edges2shapes", "--space", "channels-48-ci", "--steps", "3",
           "--batch-size", "4", "--size", "32", "--n-train", "16", "--n-val", "4", "--no-progress"]
    assert main(cmd + ["--out", str(tmp_path / "one")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "-m", "gancomp_lite", *cmd,
                          "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    _, h1 = _weights(tmp_path / "one")
    _, h2 = _weights(tmp_path / "two")
    assert [round(h["G/total"], 3) for h in h1] == [round(h["G/total"], 3) for h in h2]
    assert (tmp_path / "two" / "supernet.pt").exists()
    assert json.loads((tmp_path / "two" / "recipe.json").read_text())["processes"] == 2


def test_a_global_batch_must_divide_among_the_processes():
    assert shard(list(range(8)), 1, 2) == [4, 5, 6, 7]
    with pytest.raises(GancompError, match="multiple of 2"):
        shard(list(range(3)), 0, 2)


def test_a_verb_that_is_not_data_parallel_refuses_torchrun(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["profile", "resnet", "--ngf", "8"]) == 2
    assert "does not run data-parallel" in capsys.readouterr().err


def test_channels_last_follows_the_default_layout_and_is_checked_on_resume(tmp_path):
    data = SyntheticAligned("edges2shapes", n=8, size=32, seed=0)

    def trainer(channels_last):
        torch.manual_seed(0)
        return Trainer(pix2pix(ngf=4, ndf=8, image_size=32), data, 6, batch_size=2, seed=0,
                       progress=False, device="cpu", channels_last=channels_last)

    ref, cl = trainer(False), trainer(True)
    convs = [p for p in cl.objective.parameters() if p.dim() == 4 and p.shape[-1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert cl.batch_at(0)["A"].is_contiguous(memory_format=torch.channels_last)
    ref.fit()
    cl.fit()
    for a, b in zip(ref.history, cl.history):
        assert b["G/total"] == pytest.approx(a["G/total"], rel=1e-4)
    assert cl.settings["channels_last"] is True and "channels_last" not in ref.settings
    cl.save(tmp_path / "ck.pt")
    with pytest.raises(Exception, match="channels_last"):
        trainer(False).load(tmp_path / "ck.pt")


def test_online_distillation_takes_the_speed_options(tmp_path):
    out = tmp_path / "crd"
    assert main(["distill-online", "--method", "crd", "--task", "edges2shapes", "--steps", "1",
                 "--channels-last", "--n-train", "4", "--out", str(out), "--no-progress",
                 "--n", "4"]) == 0
    assert json.loads((out / "recipe.json").read_text())["channels_last"] is True


def test_train_takes_the_speed_options_and_records_them(tmp_path):
    out = tmp_path / "teacher"
    assert main(["train", "edges2shapes", "--steps", "2", "--amp", "bf16", "--channels-last",
                 "--out", str(out), "--no-progress"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    assert record["amp"] == "bf16" and record["channels_last"] is True
    settings = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)["settings"]
    assert settings["amp"] == "bf16" and settings["channels_last"] is True
    # a resume must use the same options: another precision is refused in one line
    assert main(["train", "edges2shapes", "--steps", "2", "--out", str(out), "--resume",
                 "--no-progress"]) == 2
    # the export reads the run's own options back
    from gancomp_lite.training.teachers import export_teacher

    manifest = export_teacher(out, tmp_path / "ship", n_eval=8, allow_dirty=True)
    assert (tmp_path / "ship" / manifest["file"]).exists()


_RESUME_SCRIPT = """
import sys, torch
from gancomp_lite.data import SyntheticAligned
from gancomp_lite.training import Trainer, pix2pix
from gancomp_lite.training.parallel import init_from_env, is_main

init_from_env("train")
out, until, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "resume"
torch.manual_seed(0)
t = Trainer(pix2pix(ngf=4, ndf=8, image_size=32), SyntheticAligned("edges2shapes", n=8, size=32),
            6, batch_size=4, seed=0, progress=False, device="cpu")
if resume:
    t.load(out + "/ck.pt")
t.fit(until=until, checkpoint=out + "/ck.pt")
if is_main():
    torch.save(t.objective.state_dict(), out + f"/weights-{until}-{sys.argv[3]}.pt")
torch.distributed.destroy_process_group()
"""


def test_a_two_process_run_stopped_and_resumed_ends_as_an_uninterrupted_one(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_RESUME_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def launch(folder, until, mode):
        folder.mkdir(exist_ok=True)
        run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                              "--nproc_per_node", "2", str(script), str(folder), str(until), mode],
                             capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]

    launch(tmp_path / "whole", 6, "fresh")
    launch(tmp_path / "cut", 3, "fresh")
    launch(tmp_path / "cut", 6, "resume")
    whole = torch.load(tmp_path / "whole" / "weights-6-fresh.pt")
    resumed = torch.load(tmp_path / "cut" / "weights-6-resume.pt")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
