"""Latency benchmarks: wall-clock time of a generator's forward pass.

A benchmark *reports* a time; no test asserts one (timings depend on the
machine and on what else it is doing).  On CUDA the device is synchronised
around each timed call.  Explained in chapter ``nb/01_cost`` (section
``sec-cost-latency``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import statistics
import time
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
from ..progress import tqdm

from ..config import get_device


@dataclass(frozen=True)
class Latency:
    """Seconds per forward pass over ``runs`` timed calls (after ``warmup``)."""

    median_s: float
    min_s: float
    max_s: float
    runs: int
    warmup: int
    batch_size: int
    input_size: tuple[int, int]
    device: str
    threads: int

    def as_dict(self) -> dict:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    def __str__(self) -> str:
        return (f"median {self.median_s * 1e3:.1f} ms (min {self.min_s * 1e3:.1f}, "
                f"max {self.max_s * 1e3:.1f}) per batch of {self.batch_size} at "
                f"{self.input_size[0]}x{self.input_size[1]}, {self.runs} runs on "
                f"{self.device} ({self.threads} threads)")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(model: nn.Module, size=(256, 256), batch_size: int = 1, runs: int = 10,
                    warmup: int | None = None, device: torch.device | str | None = None,
                    in_channels: int = 3, progress: bool = False) -> Latency:
    """Time ``runs`` forward passes of ``model`` on random input.

    ``warmup`` untimed passes come first (default: as many as ``runs``, at
    least one).  The model is moved to ``device`` (default: the best
    available) and put in eval mode; its original mode is restored.
    """
    if isinstance(size, int):
        size = (size, size)
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    device = torch.device(device) if device is not None else get_device()
    warmup = max(1, runs if warmup is None else warmup)
    was_training = model.training
    model = model.to(device).eval()
    x = torch.randn(batch_size, in_channels, *size, device=device)
    times = []
    try:
        for _ in range(warmup):
            model(x)
        _sync(device)
        for _ in tqdm(range(runs), desc="latency", disable=not progress, leave=False):
            _sync(device)
            t0 = time.perf_counter()
            model(x)
            _sync(device)
            times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return Latency(median_s=statistics.median(times), min_s=min(times), max_s=max(times),
                   runs=runs, warmup=warmup, batch_size=batch_size,
                   input_size=(int(size[0]), int(size[1])), device=str(device),
                   threads=torch.get_num_threads())


# -- the deployment benchmark (chapter nb/10_latency) ---------------------------------
#: runtimes the benchmark knows; a runtime that is missing or fails is reported, not fatal
BACKENDS = ("eager", "channels-last", "compile", "onnxruntime", "openvino",
            "onnxruntime-int8", "openvino-int8")
#: the int8 runtimes: ONNX Runtime's static QDQ quantization of the export
#: (:func:`gancomp_lite.deploy.quantize_onnx`), run by ONNX Runtime or by OpenVINO (which
#: reads the quantize/dequantize pairs and runs the convolutions between them in int8)
INT8_BACKENDS = ("onnxruntime-int8", "openvino-int8")
#: largest absolute difference from eager PyTorch for a runtime to count as computing the same
#: function: float32 runtimes sum in other orders and pick other convolution algorithms
#: (differences of 1e-6 to 1e-4 at 256x256); bfloat16 is off by 1e-2 or more.  An eighth of
#: one grey level of an 8-bit image (2/255 in [-1, 1]).
RUNTIME_TOLERANCE = 1e-3


class BackendUnavailable(Exception):
    """A runtime that is not installed here (reported as skipped)."""


def _check_backends(backends) -> None:
    from ..errors import GancompError

    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise GancompError(f"unknown backend(s) {unknown}: expected {', '.join(BACKENDS)}")


def _check_calibration(backends, calibration) -> None:
    """An int8 backend needs ``(calibration images, held-out images)``."""
    from ..errors import GancompError

    wanted = [b for b in backends if b in INT8_BACKENDS]
    if wanted and (calibration is None or len(calibration) != 2):
        raise GancompError(f"{', '.join(wanted)} quantize the export: give calibration=(images, "
                           f"held-out images) ([N, C, H, W] task inputs in [-1, 1])")


def _as_tensor(out) -> torch.Tensor:
    """The first output of a runtime's call as a tensor (ONNX Runtime: a list of
    arrays; OpenVINO: a result dictionary; PyTorch: a tensor)."""
    if isinstance(out, torch.Tensor):
        return out.contiguous()
    if isinstance(out, (list, tuple)):
        return _as_tensor(out[0])
    if hasattr(out, "to_tuple"):            # OpenVINO's OVDict
        return _as_tensor(out.to_tuple()[0])
    import numpy as np

    return torch.from_numpy(np.asarray(out))


def _onnx_runner(path, backend: str, x: torch.Tensor, threads: int):
    """A callable running the ONNX file at ``path`` on ``x`` in ONNX Runtime or OpenVINO
    (an ``-int8`` backend runs the same way: its file is the quantized one)."""
    xn = x.numpy()
    backend = backend.removesuffix("-int8")
    if backend == "onnxruntime":
        try:
            from ..deploy import onnx_session

            session = onnx_session(path, threads)
        except ImportError as err:
            raise BackendUnavailable("onnxruntime is not installed") from err
        name = session.get_inputs()[0].name
        return lambda: session.run(None, {name: xn})
    try:
        import openvino  # noqa: F401
    except ImportError as err:
        raise BackendUnavailable("openvino is not installed (pip install openvino)") from err
    compiled = openvino_model(path, threads)
    return lambda: compiled([xn])


#: lines torch's profiler library (Kineto) writes straight to the process's stderr on a CPU
#: machine with a CUDA build of torch: its start/stop markers and a failed GPU count.  They
#: report no failure of the benchmark, so :func:`_quiet_native_stderr` keeps them out.
KINETO_NOISE = re.compile(r"^(USDT|STAGE|ERROR|WARNING|INFO):\S+ \S+ \d+:\d+ "
                          r"(SyncActivityProfilerHandler|DeviceProperties|CuptiActivityProfiler|"
                          r"ActivityProfilerController)\.cpp:\d+\] ")


@contextlib.contextmanager
def _quiet_native_stderr(noise=KINETO_NOISE):
    """Run the block with the process's stderr (file descriptor 2, where C++
    libraries write) caught in a temporary file, then pass every caught line
    on to ``sys.stderr`` except those matching ``noise``: a real error still
    shows, the profiler's chatter does not."""
    import sys
    import tempfile

    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if not noise.match(line):
                    print(line, file=sys.stderr)


class _NoCudaRuntimeNote(logging.Filter):
    """Drops the note ``torch.utils.cpp_extension`` logs when ``torch.compile``
    builds its CPU kernels on a machine without CUDA ("No CUDA runtime is
    found, using CUDA_HOME=..."): nothing of a CPU benchmark uses CUDA."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No CUDA runtime is found")


logging.getLogger("torch.utils.cpp_extension").addFilter(_NoCudaRuntimeNote())


def _input(net: nn.Module, size: int, batch_size: int) -> torch.Tensor:
    from ..deploy import input_channels

    return torch.randn(batch_size, input_channels(net), size, size)


def _torch_runner(model: nn.Module, backend: str, x: torch.Tensor):
    """A callable for one forward pass of ``model`` (used as it is) on a PyTorch backend."""
    if backend == "channels-last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    fn = torch.compile(model) if backend == "compile" else model
    return lambda: fn(x)


def _runner(net: nn.Module, backend: str, size: int, batch_size: int, threads: int, workdir,
            calibration=None, int8_tolerance: float | None = None):
    """``(run, x)``: a callable for one forward pass of ``net`` on ``backend`` and its input
    (``net`` is copied; the ONNX runtimes read the export ``workdir/_onnx_name(net, size)``,
    written here if it is not there yet; the int8 ones its quantization, calibrated and
    checked on ``calibration``, a pair ``(calibration images, held-out images)``, within
    ``int8_tolerance``, :data:`~gancomp_lite.deploy.INT8_TOLERANCE` by default)."""
    from pathlib import Path

    from ..deploy import copy_eval, export_generator, quantize_onnx

    _check_backends([backend])
    model = copy_eval(net)
    x = _input(model, size, batch_size)
    if backend in ONNX_BACKENDS:
        path = Path(workdir) / _onnx_name(net, size)
        if not path.exists():
            export_generator(model, path, "onnx", size=size)
        if backend in INT8_BACKENDS:
            quantized = path.with_name(path.stem + ".int8.onnx")
            if not quantized.exists():
                from ..deploy import INT8_TOLERANCE

                quantize_onnx(path, quantized, calibration[0], check=calibration[1],
                              tolerance=INT8_TOLERANCE if int8_tolerance is None else int8_tolerance)
            path = quantized
            # timed on held-out task images: int8 ranges are the task's, not random noise's
            held = calibration[1].float()
            x = held[torch.arange(batch_size) % len(held)].contiguous()
        return _onnx_runner(path, backend, x, threads), x
    return _torch_runner(model, backend, x), x


#: the runtimes that run the ONNX export
ONNX_BACKENDS = ("onnxruntime", "openvino") + INT8_BACKENDS


def _onnx_name(net: nn.Module, size: int) -> str:
    return f"{id(net)}-{size}.onnx"


def _resident_mb(field: str) -> float | None:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process in MB (Linux)."""
    try:
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith(field + ":"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


def _footprint_child(net_bytes: bytes | None, onnx_path: str | None, channels: int, backend: str,
                     size: int, batch_size: int, threads: int, runs: int) -> float | None:
    """In a fresh process: the peak resident memory that loading ``backend``'s
    model and running it ``runs`` times adds to the process (MB)."""
    import io

    torch.set_num_threads(threads)
    try:   # the library is imported before the baseline: its code is not the model's memory
        if backend.removesuffix("-int8") == "onnxruntime":
            import onnxruntime  # noqa: F401
        elif backend.removesuffix("-int8") == "openvino":
            import openvino  # noqa: F401
        else:
            from .. import models  # noqa: F401  (the classes the pickled network needs)
            from ..models import dynamic  # noqa: F401
    except ImportError as err:
        raise BackendUnavailable(f"{backend} is not installed") from err
    before = _resident_mb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:   # reset the peak (VmHWM) to now
            f.write("5")
    except OSError:
        return None
    with torch.inference_mode():
        if onnx_path is not None:
            x = torch.randn(batch_size, channels, size, size)
            run = _onnx_runner(onnx_path, backend, x, threads)
        else:
            model = torch.load(io.BytesIO(net_bytes), weights_only=False).float().eval()
            run = _torch_runner(model, backend, _input(model, size, batch_size))
        for _ in range(runs):
            run()
    peak = _resident_mb("VmHWM")
    return None if peak is None or before is None else peak - before


def process_memory(net: nn.Module, backends, size: int = 256, batch_size: int = 1, threads: int = 2,
                   runs: int = 2, samples: int = 1, workdir=None, timeout: float = 600,
                   calibration=None) -> dict:
    """``backend -> {"mb", "spread_mb", "status"}``: how much the peak resident
    memory of a fresh process grows when it loads ``net`` on that runtime and
    runs ``runs`` forward passes (median of ``samples`` processes, and their
    range as the noise floor).

    Each measurement is its own Python process, started after the caller's
    export (the ONNX runtimes read the same file), which imports the runtime's
    library first and then resets the kernel's peak counter (Linux
    ``/proc/self/clear_refs``).  The number covers the weights as the runtime
    holds them, its working buffers (ONNX Runtime's arena, OpenVINO's
    compiled graph, PyTorch's activations), library code the runtime loads
    only on first use (OpenVINO's CPU plugin, oneDNN kernels) and, for
    ``torch.compile``, the compiler in this process (not its worker
    processes).  :func:`runtime_floor` measures the same for a network of one
    1x1 convolution, so the difference is what the network itself costs.
    The int8 runtimes read the export's quantization (``calibration``: as
    for :func:`benchmark`).
    ``samples_mb`` holds every sample (for the book's rule,
    :func:`gancomp_lite.experiments.results.compare_values`).
    ``status`` is ``ok``, ``skipped: ...`` (runtime not installed; ``mb`` is
    None), ``failed: ...`` (export or child error) or ``unsupported`` (no
    Linux peak counter).  Unlike :func:`peak_memory` it sees memory that
    runtimes allocate outside PyTorch."""
    import io
    import json
    import pickle
    import statistics
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from ..deploy import copy_eval, export_generator, quantize_onnx
    from ..errors import GancompError

    _check_backends(backends)
    _check_calibration(backends, calibration)
    if samples < 1:
        raise GancompError(f"need samples >= 1, got {samples}")
    model = copy_eval(net)
    buf = io.BytesIO()
    torch.save(model, buf)
    channels = _input(model, 1, 1).shape[1]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(workdir or tmp) / _onnx_name(net, size)
        for backend in backends:
            onnx = backend in ONNX_BACKENDS
            path = onnx_path
            try:
                if onnx and not onnx_path.exists():
                    export_generator(model, onnx_path, "onnx", size=size)
                if backend in INT8_BACKENDS:
                    path = onnx_path.with_name(onnx_path.stem + ".int8.onnx")
                    if not path.exists():
                        quantize_onnx(onnx_path, path, calibration[0], check=calibration[1])
            except Exception as err:   # reported on the row, as the benchmark does
                out[backend] = {"mb": None, "spread_mb": None,
                                "status": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:160]}"}
                continue
            job = pickle.dumps((None if onnx else buf.getvalue(), str(path) if onnx else None,
                                channels, backend, size, batch_size, threads, runs))
            values, status = [], "ok"
            for _ in range(samples):
                try:
                    done = subprocess.run(
                        [sys.executable, "-c", "from gancomp_lite.metrics.latency import "
                         "_footprint_main; _footprint_main()"], input=job, capture_output=True,
                        timeout=timeout)
                    lines = done.stdout.decode().strip().splitlines()
                    answer = json.loads(lines[-1]) if done.returncode == 0 and lines else {
                        "failed": (done.stderr.decode().strip().splitlines() or ["no output"])[-1][:160]}
                except (subprocess.TimeoutExpired, ValueError) as err:
                    answer = {"failed": f"{type(err).__name__}: {str(err)[:160]}"}
                if "mb" not in answer:
                    status = (f"skipped: {answer['skipped']}" if "skipped" in answer
                              else f"failed: {answer['failed']}")
                    break
                if answer["mb"] is None:
                    status = "unsupported: no Linux peak-memory counter"
                    break
                values.append(answer["mb"])
            ok = status == "ok"
            out[backend] = {"mb": statistics.median(values) if ok else None,
                            "spread_mb": max(values) - min(values) if ok else None,
                            "samples_mb": values if ok else [], "status": status}
    return out


def runtime_floor(backends, size: int = 256, batch_size: int = 1, threads: int = 2,
                  samples: int = 1) -> dict:
    """:func:`process_memory` of a network of one 1x1 convolution (3 to 3
    channels): each runtime's fixed cost at this image size, before any
    real network."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Conv2d(3, 3, 1)
        images = torch.rand(4, 3, size, size) * 2 - 1   # int8: any ranges do for one convolution
    return process_memory(net, backends, size, batch_size, threads, samples=samples,
                          calibration=(images, images))


def _footprint_main() -> None:
    """Entry point of :func:`process_memory`'s child: arguments pickled on stdin,
    a JSON answer on the last line of stdout."""
    import json
    import pickle
    import sys

    args = pickle.loads(sys.stdin.buffer.read())
    try:
        answer = {"mb": _footprint_child(*args)}
    except BackendUnavailable as err:
        answer = {"skipped": str(err)}
    print(json.dumps(answer))


def openvino_model(path, threads: int | None = None, precision: str = "f32"):
    """The ONNX file at ``path`` compiled by OpenVINO for the CPU.

    ``precision`` is OpenVINO's inference precision hint.  The default is
    ``f32``, the precision every other backend here computes in: left to
    itself, OpenVINO computes in bfloat16 on CPUs that support it (AVX512_BF16
    or AMX), faster but with errors of about 1e-2, so its time would not be
    the same computation's.  ``threads``: OpenVINO's inference threads."""
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": precision}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    core = ov.Core()
    return core.compile_model(core.read_model(str(path)), "CPU", config)


def peak_memory(model: nn.Module, size: int = 256, batch_size: int = 1) -> dict:
    """Memory of one eager forward pass on the CPU: ``weights_mb`` (parameters
    and buffers) and ``peak_activation_mb``, the peak of tensor memory alive
    during the pass, from the allocations and frees of the leaf operators as
    ``torch.profiler`` records them (``profile_memory=True``).  Runtimes with
    their own allocators (ONNX Runtime's arena) are not measured this way."""
    from torch.profiler import ProfilerActivity, profile

    from ..deploy import copy_eval

    net = copy_eval(model)
    x = _input(net, size, batch_size)
    with torch.inference_mode():   # as deployed: no autograd graph keeps activations alive
        net(x)
        with _quiet_native_stderr(), \
                profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            net(x)
    events = sorted((e.time_range.start, e.cpu_memory_usage) for e in prof.events()
                    if e.cpu_memory_usage and not e.cpu_children)
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    weights = sum(t.numel() * t.element_size() for t in list(net.parameters()) + list(net.buffers()))
    return {"weights_mb": weights / 2**20, "peak_activation_mb": peak / 2**20}


def benchmark(models: dict, backends=("eager", "onnxruntime"), size: int = 256, batch_size: int = 1,
              threads: int = 2, repeats: int = 7, warmup: int = 2, progress: bool = True,
              memory: bool = True, tolerance: float = RUNTIME_TOLERANCE,
              process: bool = False, process_samples: int = 2, calibration=None,
              int8_tolerance=None) -> list[dict]:
    """Latency of every model (``name -> generator``) on every backend, on the CPU.

    Each (model, backend) is prepared and warmed up ``warmup`` times; then
    ``repeats`` rounds each time every pair once, in the same order, so that
    drift of the machine (other load, frequency) hits all of them alike.
    ``threads`` is set for PyTorch (and ONNX Runtime / OpenVINO) during the
    run and restored after.  One row per pair: median, minimum, maximum and
    quartiles in milliseconds and every round's time (``times_ms``, in round
    order: what the book's rule compares), or a ``status`` saying why it was skipped (a
    runtime not installed) or failed (an export or compile error), never a
    crash.  Every row has ``max_abs_diff``, the largest absolute difference
    between the backend's output and eager PyTorch's on the timed input; a
    backend that differs by more than ``tolerance`` (default
    :data:`RUNTIME_TOLERANCE`) is ``failed`` and not
    timed (a fast wrong answer is not a result).  The int8 backends
    (:data:`INT8_BACKENDS`) run the export quantized by
    :func:`gancomp_lite.deploy.quantize_onnx`, calibrated on
    ``calibration[0]`` and checked against the float32 export on the held-out
    ``calibration[1]`` (a dict ``name -> pair`` gives each model its own):
    int8 is not the same function, so their rows also have ``mean_abs_diff``
    and fail only beyond ``int8_tolerance`` on average (default
    :data:`gancomp_lite.deploy.INT8_TOLERANCE`; a dict ``name -> tolerance``
    gives each model its own, recorded in its rows).  With ``memory``, every row
    also has its model's :func:`peak_memory` (eager PyTorch); with ``process``,
    ``process_peak_mb`` and ``process_spread_mb``, the growth of a fresh
    process's peak resident memory on that runtime (:func:`process_memory`,
    median and range of ``process_samples`` processes per pair, before the
    timed rounds), ``process_status``, and ``process_floor_mb``, the same
    runtime's :func:`runtime_floor`.  A benchmark: it reports, nothing
    asserts a time."""
    import tempfile

    from ..deploy import INT8_TOLERANCE, copy_eval
    from ..errors import GancompError

    _check_backends(backends)
    calibrations = (calibration if isinstance(calibration, dict)
                    else {name: calibration for name in models})
    tolerances = (int8_tolerance if isinstance(int8_tolerance, dict)
                  else {name: int8_tolerance for name in models})
    for name in models:
        _check_calibration(backends, calibrations.get(name))
    if repeats < 1 or warmup < 0 or threads < 1:
        raise GancompError(f"need repeats >= 1, warmup >= 0 and threads >= 1, got {repeats}, "
                           f"{warmup}, {threads}")
    floor = runtime_floor(backends, size, batch_size, threads, process_samples) if process else {}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows, ready = [], []
    try:
        with tempfile.TemporaryDirectory() as workdir, torch.inference_mode():
            for name, net in tqdm(models.items(), desc="preparing (export, compile, memory)",
                                  disable=not progress, leave=False):
                mem = peak_memory(net, size, batch_size) if memory else {}
                resident = (process_memory(net, backends, size, batch_size, threads,
                                           samples=process_samples, workdir=workdir,
                                           calibration=calibrations.get(name))
                            if process else {})
                eager = copy_eval(net)
                for backend in backends:
                    row = {"model": name, "backend": backend, "size": size, "batch_size": batch_size,
                           "threads": threads, "repeats": repeats, **mem}
                    if process:
                        row.update(process_peak_mb=resident[backend]["mb"],
                                   process_spread_mb=resident[backend]["spread_mb"],
                                   process_samples_mb=resident[backend]["samples_mb"],
                                   process_status=resident[backend]["status"],
                                   process_floor_mb=floor[backend]["mb"])
                    rows.append(row)
                    try:
                        q_tol = tolerances.get(name)
                        q_tol = INT8_TOLERANCE if q_tol is None else q_tol
                        if backend in INT8_BACKENDS:
                            row["int8_tolerance"] = q_tol
                        run, x = _runner(net, backend, size, batch_size, threads, workdir,
                                         calibrations.get(name), q_tol)
                        for _ in range(warmup):
                            run()
                        error = (_as_tensor(run()) - eager(x)).abs()
                        diff = float(error.max())
                        row["max_abs_diff"] = diff
                        if backend in INT8_BACKENDS:
                            row["mean_abs_diff"] = float(error.mean())
                            if not row["mean_abs_diff"] <= q_tol:
                                row["status"] = (f"failed: int8 output differs from eager PyTorch "
                                                 f"by {row['mean_abs_diff']:.2g} on average "
                                                 f"(tolerance {q_tol:g})")
                                continue
                        elif not diff <= tolerance:
                            row["status"] = (f"failed: output differs from eager PyTorch by "
                                             f"{diff:.2g} (tolerance {tolerance:g})")
                            continue
                    except BackendUnavailable as err:
                        row["status"] = f"skipped: {err}"
                        continue
                    except Exception as err:   # an export or compiler error is a result, not a crash
                        row["status"] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
                        continue
                    row["status"] = "ok"
                    ready.append((row, run, []))
            for _ in tqdm(range(repeats), desc="benchmark rounds", disable=not progress, leave=False):
                for row, run, times in ready:
                    t0 = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - t0)
            for row, _, times in ready:
                ms = sorted(t * 1e3 for t in times)
                q = statistics.quantiles(ms, n=4) if len(ms) > 1 else [ms[0]] * 3
                row.update(median_ms=statistics.median(ms), min_ms=ms[0], max_ms=ms[-1],
                           q1_ms=q[0], q3_ms=q[2], times_ms=[t * 1e3 for t in times])
    finally:
        torch.set_num_threads(before)
    return rows


def layer_kind(module: nn.Module) -> str | None:
    """The kind of a leaf layer for :func:`time_by_kind` (``None``: not timed on its own)."""
    if isinstance(module, nn.ConvTranspose2d):
        return "transposed conv"
    if isinstance(module, nn.Conv2d):
        if module.groups > 1 and module.groups == module.in_channels:
            return "depthwise conv"
        return "1x1 conv" if module.kernel_size == (1, 1) else "dense kxk conv"
    if isinstance(module, (nn.InstanceNorm2d, nn.BatchNorm2d)) or type(module).__name__ == "DynamicNorm":
        return "norm"
    if isinstance(module, (nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d)):
        return "padding"
    if isinstance(module, (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Dropout)):
        return "activation"
    return None


@torch.inference_mode()
def time_by_kind(model: nn.Module, size: int = 256, runs: int = 5, threads: int | None = None,
                 convention: str = "in-counted") -> list[dict]:
    """Where one forward pass's time goes, on the CPU in eager PyTorch: the
    wall time of every leaf layer (forward hooks around each call, median of
    ``runs`` passes after one warm-up) summed per :func:`layer_kind`, beside
    the MACs of those layers in ``convention``.  Layers that move memory but
    cost no MACs (norms, padding, activations) show up here and not in a MAC
    count.  ``ms_range`` is the spread (largest minus smallest) of a kind's
    summed time over the ``runs`` passes: the noise floor of ``ms``.  A
    benchmark: it reports."""
    from ..deploy import copy_eval
    from .cost import _module_macs

    net = copy_eval(model)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    leaves = {m: layer_kind(m) for m in net.modules() if layer_kind(m) is not None}
    times = {m: [] for m in leaves}
    macs = {m: 0 for m in leaves}
    starts: dict = {}
    record = {"macs": False}

    def pre(module, inputs):
        starts[module] = time.perf_counter()

    def post(module, inputs, output):
        times[module].append(time.perf_counter() - starts.pop(module))
        if record["macs"]:
            macs[module] += _module_macs(module, inputs, output, convention)

    handles = [h for m in leaves for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))]
    x = _input(net, size, 1)
    try:
        record["macs"] = True
        net(x)                                   # warm-up, and the MACs once
        record["macs"] = False
        for m in times:
            times[m].clear()
        passes = []
        for _ in range(runs):
            t0 = time.perf_counter()
            net(x)
            passes.append(time.perf_counter() - t0)
        total = sum(passes) / runs
    finally:
        for h in handles:
            h.remove()
        torch.set_num_threads(before)
    kinds: dict[str, dict] = {}
    per_pass: dict[str, list[float]] = {}
    for m, kind in leaves.items():
        k = kinds.setdefault(kind, {"kind": kind, "layers": 0, "ms": 0.0, "macs": 0})
        k["layers"] += 1
        k["ms"] += statistics.median(times[m]) * 1e3 if times[m] else 0.0
        k["macs"] += macs[m]
        calls = len(times[m]) // runs            # calls of this layer per pass
        sums = per_pass.setdefault(kind, [0.0] * runs)
        for i in range(runs):
            sums[i] += sum(times[m][i * calls:(i + 1) * calls]) * 1e3
    for kind, k in kinds.items():
        k["ms_range"] = max(per_pass[kind]) - min(per_pass[kind])
    all_macs = sum(k["macs"] for k in kinds.values()) or 1
    rows = sorted(kinds.values(), key=lambda k: -k["ms"])
    for k in rows:
        k["time_share"] = k["ms"] / (total * 1e3)
        k["mac_share"] = k["macs"] / all_macs
    rows.append({"kind": "whole forward pass", "layers": len(leaves), "ms": total * 1e3,
                 "ms_range": (max(passes) - min(passes)) * 1e3,
                 "macs": all_macs, "time_share": 1.0, "mac_share": 1.0})
    return rows
