"""The chapter-cost benchmark: its step cap, its operation and FLOP counts, its estimates."""
import json

import pytest
import torch

from gancomp_lite.errors import GancompError
from gancomp_lite.experiments import chapter_cost as cc


@pytest.fixture
def session():
    cc.start(cap=2)
    try:
        yield
    finally:
        if cc._SESSION is not None:
            cc.finish("/dev/null")


def _trainer(steps):
    from gancomp_lite.data import open_dataset
    from gancomp_lite.training.loop import Trainer
    from gancomp_lite.training.objectives import pix2pix

    data = open_dataset("edges2shapes", phase="train", n=8, size=32, seed=0)
    return Trainer(pix2pix("resnet", ngf=4, ndf=8, image_size=32), data, steps, batch_size=2,
                   seed=0, device="cpu", progress=False)


def test_trainers_run_their_first_steps_and_skip_the_rest(tmp_path, session):
    from gancomp_lite.training.loop import Trainer

    t = _trainer(7)
    before = [p.clone() for p in t.objective.parameters()]
    t.fit()
    assert t.step == 7 and len(t.history) == 7          # the loop ran to its end
    changed = [not torch.equal(a, b) for a, b in zip(before, t.objective.parameters())]
    assert any(changed)                                 # the first steps trained
    resumed = _trainer(7)
    resumed.step = 3                                    # as if loaded from a step-3 checkpoint
    resumed.fit()                                       # past the cap: it runs nothing
    assert resumed.step == 7
    assert isinstance(t.optimizers["G"].defaults["foreach"], bool) and t.optimizers["G"].defaults["foreach"]
    out = cc.finish(tmp_path / "m.json")
    assert Trainer.train_step.__name__ == "train_step"  # put back
    [rec, rec2] = out["trainers"]
    assert rec["total_steps"] == 7 and len(rec["run"]) == 2 and rec["skipped"] == 5
    assert rec2["run"] == [] and rec2["skipped"] == 4 and rec2["signature"] == rec["signature"]
    step = rec["run"][1]
    assert step["ops"] > step["kernels"] > 100 and step["flops"] > 0
    assert 0 < step["op_seconds"] <= step["seconds"]
    assert json.loads((tmp_path / "m.json").read_text())["ops"] == out["ops"]
    e = cc.estimate(out, wall=10.0)                     # the resumed one costs like its twin
    assert e["steps_unmeasured"] == 0 and (e["steps_run"], e["steps_planned"]) == (2, 11)


def test_every_replacement_is_undone_and_reexports_are_covered(tmp_path):
    import gancomp_lite.metrics as metrics
    from gancomp_lite.metrics import latency
    from gancomp_lite.training.loop import Trainer

    before = (Trainer.train_step, torch.optim.Adam.__init__, latency.measure_latency,
              metrics.measure_latency, torch.jit._get_trace_graph)
    cc.start(cap=1)
    try:
        assert metrics.measure_latency is latency.measure_latency is not before[2]
        assert torch.optim.Adam.__init__ is not before[1]
    finally:
        cc.finish(tmp_path / "m.json")
    assert (Trainer.train_step, torch.optim.Adam.__init__, latency.measure_latency,
            metrics.measure_latency, torch.jit._get_trace_graph) == before
    assert cc._SESSION is None


def test_the_meter_counts_flops_as_flopcountermode_and_survives_graph_capture(session):
    from torch.utils.flop_counter import FlopCounterMode

    from gancomp_lite.metrics.cost import profile_macs
    from gancomp_lite.models import build_generator

    net = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    before = cc._SESSION.meter.snapshot()
    net(x).sum().backward()
    after = cc._SESSION.meter.snapshot()
    with FlopCounterMode(display=False) as reference:
        net(x).sum().backward()
    assert after[1] - before[1] == reference.get_total_flops() > 0
    # torchprofile's jit trace under a dispatch mode would count nothing: it runs unmetered
    g = build_generator("resnet", ngf=4)
    assert profile_macs(g, 32, "in-excluded") > profile_macs(g, 32, "exact") > 0


def test_estimates_add_the_skipped_steps_and_take_the_meter_out():
    run = [{"seconds": 5.0, "ops": 1000, "kernels": 700, "flops": 10**9, "op_seconds": 4.0},
           {"seconds": 1.0, "ops": 1000, "kernels": 700, "flops": 10**9, "op_seconds": 0.5},
           {"seconds": 1.2, "ops": 1000, "kernels": 700, "flops": 10**9, "op_seconds": 0.7}]
    measured = {"ops": 5000, "kernels": 3000, "flops": 4 * 10**9, "op_seconds": 6.0,
                "meter_overhead_us": 10.0,
                "trainers": [{"total_steps": 13, "run": run, "skipped": 10, "signature": "a"},
                             {"total_steps": 9, "run": [], "skipped": 9, "signature": "b"}]}
    e = cc.estimate(measured, wall=20.0)
    assert (e["steps_run"], e["steps_planned"], e["steps_unmeasured"]) == (3, 22, 9)
    ops, kernels = 5000 + 10 * 1000, 3000 + 10 * 700   # the first step is left out of the median
    assert (e["ops_estimate"], e["kernels_estimate"]) == (ops, kernels)
    cpu = 20.0 + 10 * 1.1 - ops * 10e-6
    assert e["cpu_estimate_s"] == pytest.approx(cpu, abs=0.06)
    flops = 4e9 + 10 * 1e9
    outside = cpu - (6.0 + 10 * 0.6)
    t4 = outside + flops / (cc.T4_ASSUMED_TFLOPS * 1e12) + kernels * cc.T4_ASSUMED_OP_US * 1e-6
    assert e["t4_estimate_s"] == pytest.approx(t4, abs=0.06)


def test_errors_after_a_failed_cell_are_a_cascade_not_a_defect():
    import nbformat

    def cell(*names):
        return nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
            "error", ename=n, evalue="x", traceback=[]) for n in names])

    nb = nbformat.v4.new_notebook(cells=[cell("NameError"), cell("AssertionError"), cell(),
                                         cell("NameError"), cell("KeyError")])
    errors = cc._errors(nb)
    assert [(e["expected"], e["cascade"]) for e in errors] == [
        (False, False), (True, False), (False, True), (False, False)]
    assert cc.defects(errors) == 2 and cc.assertions(errors) == 1


def test_chapters_are_picked_by_number_and_an_unknown_one_is_an_error():
    every = cc.chapters()
    assert [p.stem for p in every][:2] == ["01_cost", "02_worlds"] and len(every) >= 12
    assert [p.stem for p in cc.chapters(["06", "10b"])] == ["06_distillation", "10b_deployment"]
    with pytest.raises(GancompError, match="no chapter '99'"):
        cc.chapters(["99"])
    with pytest.raises(GancompError, match="--steps"):
        cc.start(cap=0)


def test_a_chapter_runs_capped_and_its_errors_are_sorted(tmp_path):
    """A tiny chapter in a kernel: its trainer cut to one step, a failed assert
    listed as expected, any other error as a defect."""
    chapter = tmp_path / "99_tiny.md"
    chapter.write_text("""---
jupyter:
  kernelspec:
    display_name: Python 3
    language: python
    name: python3
---

```python
from gancomp_lite.config import get_scale
from gancomp_lite.data import open_dataset
from gancomp_lite.training.loop import Trainer
from gancomp_lite.training.objectives import pix2pix
SCALE = get_scale()
data = open_dataset("edges2shapes", phase="train", n=8, size=32, seed=0)
t = Trainer(pix2pix("resnet", ngf=4, ndf=8, image_size=32), data, 50, batch_size=2, device="cpu",
            progress=False)
t.fit()
assert SCALE.name == "small" and t.step == 50
```

```python
assert False, "learned nothing"
```

```python
{}["missing"]
```
""")
    row = cc.run_chapter(chapter, "small", cap=1, timeout=300)
    assert row["status"] == "ran" and row["steps_run"] == 1 and row["steps_planned"] == 50
    assert [(e["ename"], e["expected"]) for e in row["errors"]] == [("AssertionError", True),
                                                                    ("KeyError", False)]
    assert row["defects"] == 1 and row["cpu_estimate_s"] > 0 and row["t4_estimate_s"] > 0
    # the kernel counted the operations: more than the one step ran (49 were costed like it)
    assert row["kernels_estimate"] > 40 * 100 and row["tflop_estimate"] > 0
