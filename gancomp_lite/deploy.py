"""Deployment: a generator exported to ONNX or to ``torch.export``, checked against eager PyTorch.

A compressed generator is only useful where it runs.  Two export formats:

* ``onnx``: ONNX through PyTorch's current exporter (``torch.onnx.export(...,
  dynamo=True)``), run by ONNX Runtime's CPU execution provider;
* ``torch-export``: ``torch.export`` (an ``.pt2`` program).  PyTorch now
  recommends it over TorchScript, whose ``torch.jit.trace`` is deprecated.

Both take any batch size (the batch dimension is exported as dynamic; the
image size is fixed at export).

:func:`export_generator` writes the file and *checks* it: the exported
program's output on a fixed random input must equal eager PyTorch's within
:data:`TOLERANCE` (largest absolute difference, images in [-1, 1]); a larger
difference is an error and the file is removed.  An existing file is kept
unless ``force``.  Before export, every BatchNorm after a convolution is
folded into it (:func:`fold_batchnorm`), so the exported graph has no norm
nodes for it; the check compares with the network as given.
:func:`load_runner` gives back a callable
``runner(x: Tensor) -> Tensor`` for either format, which the benchmark
(:mod:`gancomp_lite.metrics.latency`) times.

int8: :func:`quantize_onnx` runs ONNX Runtime's own static quantizer (QDQ,
per-channel int8 weights, int8 activations calibrated on task images) on an
ONNX export and checks the result against the float32 file on held-out
images (:data:`INT8_TOLERANCE`); :func:`export_int8` does both steps for a
network (``gancomp-lite export --format onnx --int8 --calibrate N``), and
can refuse a network whose norms cannot be folded (:func:`unfolded_norms`).

Explained in chapters ``nb/10_latency`` (export, runtimes) and ``nb/10b_deployment``
(folding, int8).
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from .errors import GancompError, OutputExistsError

#: export formats and their file suffixes
FORMATS = {"onnx": ".onnx", "torch-export": ".pt2"}
#: largest absolute difference allowed between an export and eager PyTorch
TOLERANCE = 1e-4


class ExportError(GancompError, RuntimeError):
    """An export that failed, or whose outputs differ from eager PyTorch."""


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise GancompError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)} "
                           f"(torch.export replaces TorchScript, which PyTorch deprecates)")
    return fmt


def copy_eval(net: nn.Module) -> nn.Module:
    """A float32 eval-mode CPU copy of ``net`` (what is exported and timed; the
    caller's network is not touched)."""
    import copy

    return copy.deepcopy(net).float().cpu().eval()


def fold_batchnorm(net: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``net`` with every BatchNorm that directly follows
    a convolution (in the same ``nn.Sequential``) folded into it, and the
    number folded.  In eval mode BatchNorm is a per-channel affine map
    ``y = (x - mean) / sqrt(var + eps) * gamma + beta``, so it becomes the
    convolution's scale and bias: ``W' = W * s``, ``b' = (b - mean) * s + beta``
    with ``s = gamma / sqrt(var + eps)`` per output channel (dimension 0 of a
    convolution's weight, dimension 1 of a transposed convolution's).  The
    folded norm is replaced by ``nn.Identity``, so layer indices stay the
    same.  InstanceNorm, which normalises each image by its own statistics,
    cannot be folded and is left as it is.  The caller's network is not
    changed.  Explained in chapter ``nb/10b_deployment``."""
    model = copy_eval(net)
    folded = 0
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for prev, name in zip(names, names[1:]):
            conv, bn = _last_conv(seq._modules[prev]), seq._modules[name]
            if conv is None or not (isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats):
                continue
            transposed = isinstance(conv, nn.ConvTranspose2d)
            if (conv.out_channels != bn.num_features) or (transposed and conv.groups != 1):
                continue
            with torch.no_grad():
                scale = bn.running_var.add(bn.eps).rsqrt()
                if bn.affine:
                    scale = scale * bn.weight
                shape = (1, -1, 1, 1) if transposed else (-1, 1, 1, 1)
                conv.weight.mul_(scale.view(shape))
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                new_bias = (bias - bn.running_mean) * scale + (bn.bias if bn.affine else 0.0)
                conv.bias = nn.Parameter(new_bias)
            seq._modules[name] = nn.Identity()
            folded += 1
    return model, folded


def _last_conv(m: nn.Module) -> nn.Module | None:
    """The convolution whose output is ``m``'s output: ``m`` itself, the last
    layer of an ``nn.Sequential``, or that of a separable convolution (whose
    forward is its ``conv`` chain); ``None`` otherwise."""
    from .models.resnet import SeparableConv2d, SeparableConvTranspose2d

    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        return m
    if isinstance(m, nn.Sequential) and len(m):
        return _last_conv(m[-1])
    if isinstance(m, (SeparableConv2d, SeparableConvTranspose2d)):
        return _last_conv(m.conv)
    return None


def input_channels(net: nn.Module) -> int:
    """The image channels a generator takes (its ``config``; 3 by default)."""
    return getattr(net, "config", {}).get("input_nc", 3)


def _example(net: nn.Module, size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, input_channels(net), size, size, generator=g) * 2 - 1


def export_generator(net: nn.Module, path: str | Path, fmt: str = "onnx", size: int = 256,
                     tolerance: float = TOLERANCE, force: bool = False) -> dict:
    """Export ``net`` (a private eval-mode copy on the CPU; the caller's
    network is not changed) to ``path`` in ``fmt`` for ``size`` x ``size``
    images (any batch size), check it against eager PyTorch at batch 1 and
    batch 2 and return a report: format, path, size, the largest absolute
    difference, the tolerance and the export's seconds."""
    _check_format(fmt)
    path = Path(path)
    if path.suffix != FORMATS[fmt]:
        raise GancompError(f"a {fmt} export is written to a {FORMATS[fmt]} file, got {path}")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists: pass --force (force=True) to replace it")
    reference = copy_eval(net)
    model, folded = fold_batchnorm(reference)     # BatchNorm into its convolution: no norm nodes left
    # a batch-2 example: torch.export specialises a dimension whose example is 1
    x = _example(model, size, batch=2)
    batch = torch.export.Dim("batch")
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                import logging

                logging.getLogger("torch.onnx").setLevel(logging.ERROR)
                program = torch.onnx.export(model, (x,), dynamo=True, input_names=["A"],
                                            output_names=["B"], verbose=False,
                                            dynamic_shapes=({0: batch},))
                program.save(str(tmp))
            else:
                program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
                torch.export.save(program, str(tmp))
    except Exception as err:   # the exporters raise many kinds; one clear error for the user
        tmp.unlink(missing_ok=True)
        raise ExportError(f"exporting {type(net).__name__} to {fmt} failed: "
                          f"{type(err).__name__}: {str(err).splitlines()[0][:300]}") from err
    seconds = time.perf_counter() - t0
    try:
        runner = load_runner(tmp, fmt)
        diff = 0.0
        with torch.no_grad():
            for xb in (x[:1], x):      # against the network as given, norms unfolded
                diff = max(diff, float((runner(xb) - reference(xb)).abs().max()))
    except Exception as err:   # the check itself failed (a runtime missing, a broken program)
        tmp.unlink(missing_ok=True)
        raise ExportError(f"checking the {fmt} export of {type(net).__name__} against eager PyTorch "
                          f"failed ({'ONNX Runtime runs the check' if fmt == 'onnx' else 'torch.export'}"
                          f"): {type(err).__name__}: {str(err).splitlines()[0][:300]}") from err
    if not diff <= tolerance:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"the {fmt} export of {type(net).__name__} differs from eager PyTorch by "
                          f"{diff:.3g} (tolerance {tolerance:g}): not written")
    tmp.replace(path)
    return {"format": fmt, "path": str(path), "size": size, "max_abs_diff": diff,
            "tolerance": tolerance, "export_seconds": seconds, "folded_norms": folded}


def load_runner(path: str | Path, fmt: str | None = None, threads: int | None = None
                ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable running the exported generator at ``path`` on a CPU tensor
    (``fmt`` from the suffix by default; ``threads``: ONNX Runtime's intra-op
    threads, default its own choice)."""
    path = Path(path)
    fmt = fmt or next((f for f, s in FORMATS.items() if path.name.endswith(s)), None)
    if fmt is None:
        raise GancompError(f"{path}: not an exported generator ({', '.join(FORMATS.values())})")
    _check_format(fmt)
    if fmt == "onnx":
        session = onnx_session(path, threads)
        name = session.get_inputs()[0].name

        def run_onnx(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(session.run(None, {name: x.detach().cpu().numpy()})[0])
        return run_onnx
    module = torch.export.load(str(path)).module()

    def run_export(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return module(x)
    return run_export


class ExportedGenerator(nn.Module):
    """An exported file (:func:`load_runner`) as a generator module on the
    CPU, so that what measures a network's quality
    (:func:`gancomp_lite.metrics.quality.evaluate`) measures the deployed
    form: float32 or int8, folded or not."""

    def __init__(self, path: str | Path, threads: int | None = None):
        super().__init__()
        self.path = Path(path)
        self._run = load_runner(self.path, threads=threads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x.detach().float().cpu().contiguous())


def onnx_session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session for ``path`` (all graph optimisations on)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


#: largest mean absolute difference (images in [-1, 1]) an int8 model may have from its float32
#: ONNX file on the calibration images, or it is removed: 0.05 is about 6 grey levels on average
INT8_TOLERANCE = 0.05


def _check_images(images: torch.Tensor, what: str) -> None:
    if images.ndim != 4 or len(images) < 1:
        raise GancompError(f"{what} images must be a [N, C, H, W] batch with N >= 1, got "
                           f"{tuple(images.shape)}")


def quantize_onnx(float_path: str | Path, out: str | Path, calibration: torch.Tensor,
                  per_channel: bool = True, tolerance: float = INT8_TOLERANCE,
                  force: bool = False, check: torch.Tensor | None = None) -> dict:
    """ONNX Runtime's static int8 quantization of the exported generator
    ``float_path`` into ``out``: QDQ format, int8 weights (per output channel
    with ``per_channel``) and activations, calibrated on the images
    ``calibration`` (``[N, C, H, W]`` in [-1, 1], task images: the ranges of
    the activations come from them).  The library's quantizer does the work;
    this checks the result: the int8 model's outputs on the images ``check``
    (held out from the calibration; default: the calibration images
    themselves) must be within ``tolerance`` (mean absolute difference) of
    the float32 file's, or the file is removed and an :class:`ExportError`
    raised.  Returns a report with both differences.  An existing ``out`` is
    kept unless ``force``.  Explained in chapter ``nb/10b_deployment``."""
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    float_path, out = Path(float_path), Path(out)
    if out.suffix != ".onnx":
        raise GancompError(f"an int8 model is written to a .onnx file, got {out}")
    if out.exists() and not force:
        raise OutputExistsError(f"{out} exists: pass --force (force=True) to replace it")
    _check_images(calibration, "calibration")
    held_out = check is not None
    if held_out:
        _check_images(check, "check")
    session = onnx_session(float_path)
    name = session.get_inputs()[0].name
    images = [calibration[i:i + 1].float().numpy() for i in range(len(calibration))]
    checked = ([check[i:i + 1].float().numpy() for i in range(len(check))] if held_out
               else images)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(images)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x}

    tmp = out.with_name(out.name + ".tmp.onnx")
    t0 = time.perf_counter()
    import logging

    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)        # the quantizer's advice goes to the root logger
    try:
        quantize_static(str(float_path), str(tmp), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8)
        q = onnx_session(tmp)
        ref = np.concatenate([session.run(None, {name: x})[0] for x in checked])
        got = np.concatenate([q.run(None, {name: x})[0] for x in checked])
    except Exception as err:   # noqa: BLE001 - the quantizer raises many kinds
        tmp.unlink(missing_ok=True)
        raise ExportError(f"int8 quantization of {float_path.name} failed: {type(err).__name__}: "
                          f"{str(err).splitlines()[0][:300] if str(err) else ''}") from err
    finally:
        root.setLevel(level)
    mean_diff, max_diff = float(np.abs(got - ref).mean()), float(np.abs(got - ref).max())
    if not mean_diff <= tolerance:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"the int8 model of {float_path.name} differs from float32 by {mean_diff:.3g} "
                          f"on average over {len(checked)} "
                          f"{'held-out' if held_out else 'calibration'} images (tolerance "
                          f"{tolerance:g}): not written")
    tmp.replace(out)
    for extra in out.parent.glob(out.name + ".tmp*"):   # the quantizer's own side files
        extra.unlink(missing_ok=True)
    return {"path": str(out), "mean_abs_diff": mean_diff, "max_abs_diff": max_diff,
            "tolerance": tolerance, "per_channel": per_channel, "calibration_images": len(images),
            "check_images": len(checked), "checked_on": "held-out" if held_out else "calibration",
            "seconds": time.perf_counter() - t0}


def batchnorm_statistics(net: nn.Module, images: torch.Tensor, batch_size: int = 4) -> nn.Module:
    """An eval-mode copy of ``net`` whose BatchNorms hold the mean and
    variance of their inputs over ``images`` (a cumulative average; nothing
    else changes): what training would have left in them.  A randomly
    initialised BatchNorm network (a latency stand-in) otherwise normalises
    by mean 0 and variance 1, and its activations grow layer by layer until
    the output saturates."""
    model = copy_eval(net)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                       # the cumulative average over all batches
        m.train()
    with torch.no_grad():
        for batch in images.float().split(batch_size):
            model(batch)
    return model.eval()


def unfolded_norms(net: nn.Module) -> dict[str, int]:
    """The norm layers of ``net`` that :func:`fold_batchnorm` leaves in place,
    by class name: InstanceNorm (each image normalised by its own statistics,
    so no constant scale exists to fold) and any BatchNorm that follows no
    convolution."""
    model, _ = fold_batchnorm(net)
    left: dict[str, int] = {}
    for m in model.modules():
        if isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)) or \
                (type(m).__name__ == "DynamicNorm" and m.kind != "none"):
            left[type(m).__name__] = left.get(type(m).__name__, 0) + 1
    return left


def task_images(data: str, n: int, size: int, phase: str = "train", seed: int = 0,
                offset: int = 0) -> torch.Tensor:
    """``n`` input images (domain A, ``[n, C, size, size]`` in [-1, 1]) of a
    task or dataset folder (:func:`gancomp_lite.data.open_dataset`), items
    ``offset`` to ``offset + n`` of ``phase``: what int8 calibration and its
    check read."""
    from .data import open_dataset

    if n < 1:
        raise GancompError(f"need at least one image, got {n}")
    ds = open_dataset(data, phase=phase, size=size, n=offset + n, seed=seed)
    if len(ds) < offset + n:
        raise GancompError(f"{data} has {len(ds)} {phase} images; {offset + n} are needed")
    images = torch.stack([ds[i]["A"] for i in range(offset, offset + n)])
    if images.shape[-1] != size or images.shape[-2] != size:
        raise GancompError(f"{data}: images are {tuple(images.shape[-2:])}, the export is "
                           f"{size}x{size}")
    return images


def export_int8(net: nn.Module, path: str | Path, calibration: torch.Tensor,
                check: torch.Tensor | None = None, size: int | None = None,
                per_channel: bool = True, tolerance: float = INT8_TOLERANCE,
                require_folded: bool = False, force: bool = False) -> dict:
    """``net`` exported to ONNX (its BatchNorms folded, checked against eager
    PyTorch) and quantized to int8 by :func:`quantize_onnx` into ``path``,
    calibrated on ``calibration`` and checked against the float32 export on
    ``check`` (held-out images).  The float32 file is only the quantizer's
    input and is not kept.  ``require_folded``: refuse a network with norms
    that cannot be folded (:func:`unfolded_norms`), which int8 runtimes run
    in float between dequantize and quantize steps.  ``size``: the image
    side, the calibration images' by default.  Explained in chapter
    ``nb/10b_deployment``."""
    import tempfile

    path = Path(path)
    if path.suffix != ".onnx":
        raise GancompError(f"an int8 model is written to a .onnx file, got {path}")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists: pass --force (force=True) to replace it")
    _check_images(calibration, "calibration")
    size = size or calibration.shape[-1]
    for what, images in (("calibration", calibration), ("check", check)):
        if images is not None and tuple(images.shape[-2:]) != (size, size):
            raise GancompError(f"{what} images are {tuple(images.shape[-2:])}, the export is "
                               f"{size}x{size}")
    left = unfolded_norms(net)
    if require_folded and left:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(left.items()))
        raise GancompError(f"{type(net).__name__} has norms that cannot be folded into a "
                           f"convolution ({kinds}): InstanceNorm normalises each image by its own "
                           f"statistics. Train a deployment-friendly student "
                           f"(`gancomp-lite distill --deploy-friendly`: BatchNorm, zero padding)")
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_generator(net, Path(tmp) / "float32.onnx", "onnx", size=size)
        report = quantize_onnx(exported["path"], path, calibration, per_channel=per_channel,
                               tolerance=tolerance, force=force, check=check)
    return {**report, "size": size, "folded_norms": exported["folded_norms"],
            "unfolded_norms": left, "float_max_abs_diff": exported["max_abs_diff"]}


def onnx_ops(path: str | Path) -> dict[str, int]:
    """How many nodes of each operator type the ONNX file at ``path`` has
    (what an export left of the network: convolutions, norms, pads,
    quantize/dequantize pairs)."""
    import onnx

    ops: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return dict(sorted(ops.items(), key=lambda kv: -kv[1]))


def int8_ranges(path: str | Path) -> dict[str, dict]:
    """For every tensor an int8 (QDQ) ONNX file quantizes at run time (each
    ``QuantizeLinear`` node: the activations, whose ranges the calibration
    chose; ONNX Runtime stores the weights as int8 already, behind a
    ``DequantizeLinear`` only): its ``scale`` (the step between two int8
    levels), ``zero_point`` and the float range ``[low, high]`` that int8 can
    represent, ``(-128 - zero_point) * scale`` to ``(127 - zero_point) *
    scale``; a value outside is clipped.  Explained in chapter
    ``nb/10b_deployment``."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[1] not in init:
            continue
        scale = np.asarray(init[node.input[1]], dtype=np.float64)
        zp = (np.asarray(init[node.input[2]], dtype=np.float64) if len(node.input) > 2
              and node.input[2] in init else np.zeros_like(scale))
        low, high = (-128 - zp) * scale, (127 - zp) * scale
        out[node.input[0]] = {"scale": float(scale.max()), "zero_point": float(zp.flat[0]),
                              "low": float(low.min()), "high": float(high.max()),
                              "per_channel": scale.size > 1, "weight": node.input[0] in init}
    return out


def onnx_tensors(path: str | Path, names, x: torch.Tensor) -> dict:
    """The values the ONNX file at ``path`` computes for its intermediate
    tensors ``names`` on the input ``x`` (each made an extra output of a copy
    of the graph): what a calibration sees of one layer."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    have = {o.name for o in model.graph.output}
    known = {n for node in model.graph.node for n in node.output}
    missing = [n for n in names if n not in known]
    if missing:
        raise GancompError(f"{Path(path).name} computes no tensor named {missing[0]!r}")
    for n in names:
        if n not in have:
            model.graph.output.append(onnx.ValueInfoProto(name=n))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    values = session.run(list(names), {session.get_inputs()[0].name: x.float().numpy()})
    return dict(zip(names, values))
