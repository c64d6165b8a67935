"""What a chapter costs at a scale: a benchmark that runs it with its training cut short.

``gancomp-lite bench-chapters --scale small`` executes each chapter in a fresh
kernel at that scale with every training loop cut to its first ``steps``
optimizer steps (the rest of each loop is skipped, its step counter moved on,
so evaluations, curves and tables still run as written), and measures:

* the wall time of the run;
* every ATen operation the chapter dispatches (a ``TorchDispatchMode``): how
  many, the seconds spent inside them, and their FLOPs as PyTorch's
  ``FlopCounterMode`` counts them (convolutions, matrix products, their
  backward passes; ``exact`` MACs are half of them);
* for each :class:`~gancomp_lite.training.loop.Trainer`, the steps it was asked
  for, and the wall time, operations and FLOPs of each step it ran (its steps
  numbered below the cap: a trainer resumed past them runs none and is costed
  like one of the same objective, size and batch).

Graph capture (torchprofile's trace, ``torch.export``, ONNX) and the latency
benchmarks run unmetered (:data:`UNMETERED`): a dispatch mode breaks the first
and would distort the second, whose time counts as time outside the operations.

From these it *estimates* the whole chapter, every skipped step counted at the
median of the steps that ran after the first:

* on this CPU: the measured wall time plus the skipped steps' time, less the
  meter's own time per operation (measured by :func:`meter_overhead`);
* on a Colab T4: the time outside PyTorch's operations (Python, the synthetic
  data, plotting; taken as on this CPU), plus the FLOPs at
  :data:`T4_ASSUMED_TFLOPS` and every operation that launches a kernel (not a
  view) at :data:`T4_ASSUMED_OP_US` (launch and eager dispatch); Adam runs on
  the batched ``foreach`` path it takes on a GPU.  Both rates are assumptions, not measurements:
  small convolutions run far below a GPU's peak, and one dispatched operation
  is not always one kernel.

A chapter's asserts about learning fail where its training was cut: failed
assertions are listed apart, each with its cell (the benchmark cannot tell one
about learning from another), and any other error is a defect of the chapter
at that scale.  Without network access the Inception (FID) and VGG16
(perceptual) weights of ``small`` cannot be fetched; ``stand_ins=True`` times
randomly initialised networks of the same architectures instead (their cost
is the same; their numbers are meaningless).  A benchmark that reports, never
a test that asserts a time.  Its recorded results are shown in chapter
``nb/12_gpu`` (section ``sec-gpu-small``) and quoted in the README.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

#: the sustained float32 throughput a Colab T4 is assumed to reach on these networks (its
#: peak is 8.1 TFLOPS; small convolutions at batch 1-4 reach a fraction): an assumption
T4_ASSUMED_TFLOPS = 4.0
#: the time each dispatched operation is assumed to cost on a GPU beyond its FLOPs (a kernel
#: launch and PyTorch's eager dispatch): an assumption
T4_ASSUMED_OP_US = 20.0


class Meter(TorchDispatchMode):
    """Counts every ATen operation dispatched while it is active: how many, the
    seconds inside them, and their FLOPs (``FlopCounterMode``'s formulas)."""

    def __init__(self):
        super().__init__()
        from torch.utils.flop_counter import FlopCounterMode

        self.registry = FlopCounterMode(display=False).flop_registry
        self.ops = 0            # every operation (what the meter's own cost scales with)
        self.kernels = 0        # those that compute: views and aliases launch no kernel
        self.flops = 0
        self.op_seconds = 0.0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        self.op_seconds += time.perf_counter() - t0
        self.ops += 1
        if not func.is_view and func._overloadpacket not in NO_KERNEL:
            self.kernels += 1
        packet = func._overloadpacket
        if packet in self.registry:
            self.flops += int(self.registry[packet](*args, **kwargs, out_val=out))
        return out

    def snapshot(self) -> tuple[int, int, float, int]:
        return self.ops, self.flops, self.op_seconds, self.kernels


#: operations that only describe a tensor (no kernel on a GPU) beyond those whose schema
#: marks them as views
NO_KERNEL = {torch.ops.aten.detach, torch.ops.aten.alias, torch.ops.aten.lift_fresh,
             torch.ops.aten._unsafe_view, torch.ops.aten.view, torch.ops.aten.as_strided}


def meter_overhead(repeats: int = 300) -> float:
    """Seconds the :class:`Meter` adds to each operation it counts (the Python call
    around it and the FLOP formula), measured on a tiny network's forward and
    backward passes with and without it; subtracted from the estimates."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.InstanceNorm2d(4),
                              torch.nn.ReLU(), torch.nn.Conv2d(4, 3, 3, padding=1), torch.nn.Tanh())
    x = torch.randn(1, 3, 8, 8)

    def loop():
        t0 = time.perf_counter()
        for _ in range(repeats):
            net.zero_grad(set_to_none=True)
            (net(x) - x).abs().mean().backward()
        return time.perf_counter() - t0

    loop()
    plain = min(loop() for _ in range(3))
    with Meter() as m:
        metered = min(loop() for _ in range(3))
    return max(metered - plain, 0.0) / (m.ops / 3)


class _Session:
    """The state of one instrumented kernel: the meter, the step cap, the trainers seen."""

    def __init__(self, cap: int):
        self.cap = cap
        self.overhead = meter_overhead()
        self.meter = Meter()
        self.trainers: list[dict] = []
        self.patched: list[tuple[object, str, object]] = []   # (owner, name, original)
        self.scratch: Path | None = None                       # the stand-in weights' folder
        self.t0 = time.perf_counter()

    def patch(self, owner, name: str, new) -> None:
        """Replace ``owner.name`` by ``new`` until :func:`finish` puts it back."""
        self.patched.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def patch_everywhere(self, original, new) -> None:
        """Replace ``original`` by ``new`` in every loaded module of the package and of
        torch that holds it (a re-export such as ``gancomp_lite.metrics.measure_latency``
        is another name for the same function)."""
        import sys

        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith(("gancomp_lite", "torch")):
                continue
            for attr, value in list(vars(module).items()):
                if value is original:
                    self.patch(module, attr, new)

    def restore(self) -> None:
        for owner, name, original in reversed(self.patched):
            setattr(owner, name, original)
        self.patched.clear()
        if self.scratch is not None:
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


_SESSION: _Session | None = None


def start(cap: int = 3, stand_ins: bool = False) -> None:
    """Instrument this process: every Trainer runs only its steps numbered below
    ``cap`` (a trainer resumed past them runs none, so a resumed run still equals
    an uninterrupted one), Adam takes the batched ``foreach`` path a GPU takes,
    and every operation is counted from now on (run first in the benchmarked
    kernel; :func:`finish` undoes it)."""
    global _SESSION
    from ..errors import GancompError
    from ..training.loop import Trainer

    if cap < 1:
        raise GancompError(f"--steps must be a positive integer, got {cap}")
    if _SESSION is not None:
        raise GancompError("chapter_cost.start() was already called in this process")
    session = _Session(cap)
    original = Trainer.train_step

    def capped_step(self):
        rec = self.__dict__.get("_cost")
        if rec is None:
            params = sum(p.numel() for p in self.objective.parameters())
            rec = self._cost = {"total_steps": self.total_steps, "run": [], "skipped": 0,
                                "signature": f"{type(self.objective).__name__}/{params}/"
                                             f"{self.batch_size}"}
            session.trainers.append(rec)
        if self.step < session.cap:
            before, t0 = session.meter.snapshot(), time.perf_counter()
            out = original(self)
            after = session.meter.snapshot()
            rec["run"].append({"seconds": time.perf_counter() - t0, "ops": after[0] - before[0],
                               "kernels": after[3] - before[3], "flops": after[1] - before[1],
                               "op_seconds": after[2] - before[2]})
            return out
        rec["skipped"] += 1                          # skipped: the counter moves on, nothing runs
        out = dict(self.history[-1]) if self.history else {}
        out["step"] = self.step
        self.step += 1
        self.history.append(out)
        return out

    original_adam = torch.optim.Adam.__init__

    def adam_init(self, *args, **kwargs):
        if kwargs.get("foreach") is None:
            kwargs["foreach"] = True      # what Adam does by default on a GPU
        original_adam(self, *args, **kwargs)

    try:
        session.patch(Trainer, "train_step", capped_step)
        session.patch(torch.optim.Adam, "__init__", adam_init)
        _unmetered_where_traced(session)
        if stand_ins:
            _use_stand_in_weights(session)
    except BaseException:
        session.restore()
        raise
    _SESSION = session
    session.meter.__enter__()


def _unmetered(fn):
    """``fn`` run with the meter (every dispatch mode) set aside."""
    import functools

    from torch.utils._python_dispatch import _disable_current_modes

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with _disable_current_modes():
            return fn(*args, **kwargs)
    return call


#: what runs without the meter: graph capture (torchprofile's ``jit`` trace, which a dispatch
#: mode empties, ``torch.export``, ONNX) and the latency measurements, whose timings the meter's
#: per-operation cost would distort (their time counts as time outside the operations)
UNMETERED = {"torch.jit": ("trace", "_get_trace_graph"), "torch.export": ("export",),
             "torch.onnx": ("export",),
             "gancomp_lite.metrics.latency": ("measure_latency", "benchmark", "time_by_kind",
                                              "process_memory", "runtime_floor", "peak_memory")}


def _unmetered_where_traced(session: _Session) -> None:
    import importlib

    for module, names in UNMETERED.items():
        mod = importlib.import_module(module)
        for name in names:
            original = getattr(mod, name)
            session.patch_everywhere(original, _unmetered(original))


def _use_stand_in_weights(session: _Session) -> None:
    """Randomly initialised FID Inception and VGG16 in place of their downloads (timing only)."""
    import tempfile

    import torchvision

    from ..losses import perceptual
    from ..metrics import features

    folder = session.scratch = Path(tempfile.mkdtemp(prefix="gancomp-stand-ins-"))

    def inception_features(download: bool = False):
        path = folder / "inception.pth"
        if not path.exists():
            torch.manual_seed(0)
            net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                                  init_weights=False)
            torch.save(net.state_dict(), path)
        return features.fid_inception_from_file(path)

    def vgg16_backbone(download: bool = False):
        torch.manual_seed(0)
        return perceptual.vgg16_stages(torchvision.models.vgg16(weights=None))

    session.patch(features, "inception_features", inception_features)
    session.patch(perceptual, "vgg16_backbone", vgg16_backbone)


def finish(path: str | Path) -> dict:
    """Stop counting, put back what :func:`start` replaced, and write what was
    measured to ``path`` (JSON)."""
    global _SESSION
    session = _SESSION
    if session is None:
        from ..errors import GancompError

        raise GancompError("chapter_cost.finish() without start()")
    session.meter.__exit__(None, None, None)
    session.restore()
    ops, flops, op_s, kernels = session.meter.snapshot()
    out = {"cap": session.cap, "meter_overhead_us": session.overhead * 1e6,
           "seconds": time.perf_counter() - session.t0, "ops": ops, "kernels": kernels,
           "flops": flops, "op_seconds": op_s, "trainers": session.trainers}
    Path(path).write_text(json.dumps(out))
    _SESSION = None
    return out


def estimate(measured: dict, wall: float) -> dict:
    """The whole chapter, estimated from a capped run's ``measured`` counters
    (:func:`finish`) and its wall time ``wall`` (kernel start included).  Every
    skipped step costs the median of the steps its trainer ran after its first
    (its only step if it ran one); a trainer that ran none (resumed past the cap)
    costs what trainers of the same objective, size and batch ran, and where there
    is none its steps are counted as unmeasured.  The meter's own time per
    operation (``meter_overhead_us``) is taken out of the CPU time; the T4 pays
    its launch cost per operation that computes (``kernels``), not per view."""
    keys = ("seconds", "ops", "kernels", "flops", "op_seconds")
    by_signature: dict[str, list[dict]] = {}
    for t in measured["trainers"]:
        by_signature.setdefault(t["signature"], []).extend(t["run"][1:] or t["run"])
    extra = dict.fromkeys(keys, 0.0)
    steps_run = steps_planned = unmeasured = 0
    for t in measured["trainers"]:
        runs = t["run"][1:] or t["run"] or by_signature.get(t["signature"], [])
        steps_run += len(t["run"])
        steps_planned += len(t["run"]) + t["skipped"]
        if not t["skipped"]:
            continue
        if not runs:
            unmeasured += t["skipped"]
            continue
        for key in keys:
            extra[key] += t["skipped"] * statistics.median(r[key] for r in runs)
    ops = measured["ops"] + extra["ops"]
    kernels = measured["kernels"] + extra["kernels"]
    cpu = max(wall + extra["seconds"] - ops * measured["meter_overhead_us"] * 1e-6, 0.0)
    flops = measured["flops"] + extra["flops"]
    outside = max(cpu - (measured["op_seconds"] + extra["op_seconds"]), 0.0)
    t4 = outside + flops / (T4_ASSUMED_TFLOPS * 1e12) + kernels * T4_ASSUMED_OP_US * 1e-6
    return {"wall_s": round(wall, 1), "steps_run": steps_run, "steps_planned": steps_planned,
            "steps_unmeasured": unmeasured, "trainers": len(measured["trainers"]),
            "cpu_estimate_s": round(cpu, 1),
            "meter_overhead_us": round(measured["meter_overhead_us"], 2),
            "tflop_estimate": round(flops / 1e12, 3), "ops_estimate": int(ops),
            "kernels_estimate": int(kernels), "outside_ops_s": round(outside, 1),
            "t4_estimate_s": round(t4, 1)}


def _errors(nb) -> list[dict]:
    """The errors a run left in its cells.  ``expected`` marks a failed assertion,
    which cut training explains where the assertion is about what was learned
    (each is listed with its cell, to be read: the benchmark cannot tell);
    ``cascade`` marks a ``NameError`` after an earlier error (a name the failed
    cell never defined); any other error is a defect of the chapter at the scale.
    ``cell`` indexes the benchmarked notebook, whose cell 0 is the meter's: the
    chapter's own cell ``cell - 1``."""
    found = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                found.append({"cell": i, "ename": o["ename"], "evalue": o["evalue"][:300],
                              "expected": o["ename"] == "AssertionError",
                              "cascade": bool(found) and o["ename"] == "NameError"})
    return found


def assertions(errors: list[dict]) -> int:
    """The failed assertions among ``errors``."""
    return sum(e["expected"] for e in errors)


def defects(errors: list[dict]) -> int:
    """The errors that are neither a failed assertion nor a cascade of an earlier error."""
    return sum(not (e["expected"] or e.get("cascade")) for e in errors)


def run_chapter(chapter: str | Path, scale: str, cap: int, stand_ins: bool = False,
                timeout: int | None = None) -> dict:
    """Execute ``chapter`` (a Jupytext ``.md``) at ``scale`` with its training cut to
    ``cap`` steps per trainer; return the measurements and the estimates."""
    import os
    import tempfile

    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    chapter = Path(chapter)
    nb = jupytext.read(chapter)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cost.json"
        nb.cells.insert(0, nbformat.v4.new_code_cell(
            "from gancomp_lite.experiments import chapter_cost as _cost\n"
            f"_cost.start(cap={int(cap)}, stand_ins={bool(stand_ins)})"))
        nb.cells.append(nbformat.v4.new_code_cell(f"_cost.finish({str(out)!r})"))
        settings = {"GANCOMP_SCALE": scale, "GANCOMP_STATIC": "1"}
        saved = {k: os.environ.get(k) for k in settings}
        os.environ.update(settings)                      # the kernel inherits this process's env
        try:
            client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                                    resources={"metadata": {"path": str(chapter.parent)}})
            load_before, t0 = os.getloadavg()[0], time.perf_counter()
            failure = None
            try:
                client.execute()
            except (DeadKernelError, CellTimeoutError) as err:     # the next chapter still runs
                failure = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
            wall = time.perf_counter() - t0
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        measured = json.loads(out.read_text()) if out.exists() else None
    errors = _errors(nb)
    row = {"chapter": chapter.stem, "errors": errors, "defects": defects(errors),
           # the 1-minute load average before and after: above the threads used, the
           # machine was shared and the measured times are slower than a quiet one's
           "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
    if measured is None or failure:
        row["status"] = failure or "the run did not reach its end"
        row["wall_s"] = round(wall, 1)
        return row
    row.update(estimate(measured, wall), status="ran")
    return row


def chapters(names=None) -> list[Path]:
    """The book's chapters (:func:`gancomp_lite.paths.chapter_sources`), or those whose
    number or name is one of ``names`` (``"06"``, ``"10b"``); an unknown one is an error."""
    from ..errors import GancompError
    from ..paths import chapter_sources

    every = chapter_sources()
    if not names:
        return every
    picked = []
    for name in names:
        match = [p for p in every if p.stem == name or p.stem.split("_")[0] == name]
        if not match:
            raise GancompError(f"no chapter {name!r}: expected one of "
                               f"{', '.join(p.stem.split('_')[0] for p in every)}")
        picked += [p for p in match if p not in picked]
    return picked


def command(settings: dict) -> str:
    """The command line that records ``settings``."""
    parts = ["gancomp-lite bench-chapters", "--scale", settings["scale"], "--steps",
             str(settings["steps"])]
    if settings["chapters"]:
        parts += ["--chapters", *settings["chapters"]]
    if settings["stand_ins"]:
        parts.append("--stand-in-weights")
    return " ".join(parts + ["--out", settings["out"]])


def run_recorded(out: str | Path, scale: str = "small", steps: int = 3, names=None,
                 stand_ins: bool = False, allow_dirty: bool = False, force: bool = False,
                 resume: bool = False, progress: bool = True, argv=None) -> Path:
    """Run :func:`run_chapter` for each chapter into the results file ``out``
    (refusing a dirty package tree unless ``allow_dirty``; ``resume`` keeps the
    chapters an interrupted file of the same command already holds)."""
    from ..config import get_scale
    from ..errors import GancompError
    from ..progress import tqdm
    from ..provenance import require_clean
    from . import results

    if force and resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")
    scale = get_scale(scale).name
    todo = chapters(names)
    version = require_clean(allow_dirty, "record a benchmark")
    settings = dict(scale=scale, steps=steps, chapters=list(names or []), stand_ins=bool(stand_ins),
                    t4_assumed_tflops=T4_ASSUMED_TFLOPS, t4_assumed_op_us=T4_ASSUMED_OP_US,
                    threads=torch.get_num_threads())
    record = results.ResultsFile(out, "chapter-cost",
                                 command({**settings, "out": Path(out).as_posix()}), version,
                                 settings, {}, force=force, resume=resume,
                                 allow_dirty=version.endswith("+dirty"), argv=argv)
    for path in tqdm(todo, desc="chapters", disable=not progress):
        if record.has(chapter=path.stem, status="ran"):     # a failed one is tried again
            continue
        record.add(run_chapter(path, scale, steps, stand_ins))
    return record.finish()


#: the recorded run the book and the README show: every chapter at ``small``
RECORDED_NAME = "chapter-cost-small.json"


def recorded() -> tuple[Path, dict] | None:
    """The recorded ``small`` run: ``data/results/`` when complete, else the
    unfinished file in ``data/partial/`` (its rows so far), else None."""
    from ..paths import DATA_DIR

    for folder in ("results", "partial"):
        path = DATA_DIR / folder / RECORDED_NAME
        if path.exists():
            return path, json.loads(path.read_text())
    return None


def markdown(record: dict | None) -> str:
    """The recorded run as a Markdown table, one line per chapter of the book in
    order (a chapter without a row yet says so), with the run's assumptions."""
    if record is None:
        return "No run of `gancomp-lite bench-chapters` is recorded yet."
    rows = {r["chapter"]: r for r in record["rows"]}
    s = record["settings"]
    lines = ["| chapter | training steps run / asked | est. minutes, this CPU | est. TFLOP "
             "| est. minutes, Colab T4 | failed assertions / other errors |",
             "|---|---|---|---|---|---|"]
    for path in chapters():
        r = rows.get(path.stem)
        if r is None:
            lines.append(f"| `{path.stem}` | not measured yet | | | | |")
        elif r["status"] != "ran":
            lines.append(f"| `{path.stem}` | {r['status']} | | | | |")
        else:
            lines.append(f"| `{path.stem}` | {r['steps_run']:,} / {r['steps_planned']:,} | "
                         f"{r['cpu_estimate_s'] / 60:.1f} | {r['tflop_estimate']:.1f} | "
                         f"{r['t4_estimate_s'] / 60:.1f} | {assertions(r['errors'])} / "
                         f"{r['defects']} |")
    machine = record.get("machine", {})
    done = [r for r in record["rows"] if r.get("status") == "ran"]
    total = sum(r["t4_estimate_s"] for r in done) / 60
    lines += ["", f"Recorded by `{record['command']}` from code version "
              f"`{record['code_version'][:10]}` on {machine.get('processor', '?')} "
              f"({machine.get('cpu_capability', '?')}) "
              f"with {s['threads']} threads, {len(done)} of {len(chapters())} chapters "
              f"({record['status']}); the T4 column assumes {s['t4_assumed_tflops']:g} TFLOP/s "
              f"and {s['t4_assumed_op_us']:g} us per launched operation (assumptions, not "
              f"measurements), "
              f"{total:.1f} minutes on a T4 for the chapters measured."]
    return "\n".join(lines)
