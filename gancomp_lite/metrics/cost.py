"""What a generator costs: multiply-accumulates (MACs) and parameters.

The papers count MACs with ``torchprofile`` on one image, and parameters as
the sum of ``numel`` over the generator's parameters (biases included).  They
mix torchprofile versions that count norms differently: 0.0.1 (pinned by GAN
Compression, whose README numbers use it) counts every InstanceNorm and
LayerNorm as ``numel(output)``, affine or not, and every BatchNorm as 0;
from 0.0.3 on (OMGD, CRD, GAN Compression's Colab notebooks) any norm costs
``numel(output)`` if it is affine and 0 otherwise.  Both conventions below
run the *installed* torchprofile (>= 0.0.4; 0.1.0 in the lock file), and
every result names its convention:

``in-excluded``
    torchprofile's own count: non-affine InstanceNorm is free, affine norms
    (BatchNorm included) cost ``numel(output)``.  Mobile ResNet ngf 16 at
    256x256: 1.408G, OMGD/CRD's number.
``in-counted``
    the same count plus ``numel(output)`` for every non-affine
    ``InstanceNorm2d``.  On networks whose norms are all InstanceNorm (the
    ResNet and Mobile ResNet generators) this is torchprofile 0.0.1's count,
    GAN Compression's README convention (same network: 1.421G).  It is not
    0.0.1's count on networks with affine BatchNorm (the U-Net): 0.0.1
    counted those as 0, this convention as ``numel(output)``.  Non-affine
    LayerNorm, which 0.0.1 also counted, is not added (no generator here
    has one).
``exact``
    true MACs from PyTorch's ``FlopCounterMode`` (FLOPs / 2), convolutions
    only.  torchprofile counts a transposed convolution over its *output*
    grid, ``stride**2`` times too many; this convention does not.  Not what
    any paper reports; shown to explain the others.
``cat``
    CAT's own profiler (its pruning targets are in these units): convolutions
    as torchprofile counts them, every norm without running statistics
    (InstanceNorm, affine or not) counted as ``numel(output)``, BatchNorm with
    running statistics not counted.  It equals ``in-counted`` on InstanceNorm
    networks and differs on BatchNorm ones.  CAT's inception teacher (ngf 64,
    affine InstanceNorm, 256x256): 43.53G.

Convolution MACs in torchprofile: ``numel(output) * C_in_per_group * k_h * k_w``.
Padding, ReLU, tanh and the residual additions cost nothing in any of them
(nor does the U-Net's in-place LeakyReLU, which torchprofile 0.1 does not see).
Explained in chapter ``nb/01_cost`` (section ``sec-cost-counting``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn

from ..errors import ImageSizeError

CONVENTIONS = {
    "in-excluded": "installed torchprofile (>=0.0.3 rules, as OMGD/CRD): affine norms counted "
                   "as numel(output), non-affine InstanceNorm not counted",
    "in-counted": "installed torchprofile plus numel(output) per non-affine InstanceNorm: "
                  "torchprofile 0.0.1's count (GAN Compression README) on InstanceNorm "
                  "networks; above it where affine BatchNorm is used, which 0.0.1 counted as 0",
    "exact": "FlopCounterMode (FLOPs/2): true convolution MACs, transposed convs over "
             "their input grid, norms not counted",
    "cat": "CAT's profiler: convs as torchprofile (transposed over the output grid), a norm "
           "without running statistics counted as numel(output) (affine or not), BatchNorm "
           "with running statistics not counted",
}


@dataclass(frozen=True)
class Cost:
    """MACs of one forward pass on one image, and the parameter count."""

    macs: int
    params: int
    convention: str
    input_size: tuple[int, int]

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def mparams(self) -> float:
        return self.params / 1e6

    def as_dict(self) -> dict:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    def __str__(self) -> str:
        return (f"{self.gmacs:.3f}G MACs, {self.mparams:.3f}M params "
                f"[{self.convention}, {self.input_size[0]}x{self.input_size[1]}]")


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Sum of ``numel`` over the model's parameters (biases included)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _example_input(model: nn.Module, size, in_channels: int | None) -> torch.Tensor:
    if isinstance(size, int):
        size = (size, size)
    h, w = (int(s) for s in size)
    if h <= 0 or w <= 0:
        raise ImageSizeError(f"input size must be positive, got {h}x{w}")
    if in_channels is None:
        cfg = getattr(model, "config", {})
        in_channels = cfg.get("input_nc", 3)
    try:
        param = next(model.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    return torch.zeros(1, in_channels, h, w, device=device, dtype=dtype)


def _norm_macs(model: nn.Module, x: torch.Tensor, which) -> int:
    """``numel(output)`` summed over the norm layers for which ``which(m)`` holds."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)) and which(m)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def profile_macs(model: nn.Module, size=(256, 256), convention: str = "in-excluded",
                 in_channels: int | None = None) -> int:
    """MACs of ``model`` on one ``in_channels x size`` image, in ``convention``."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown MAC convention {convention!r}: expected one of "
                         f"{', '.join(CONVENTIONS)}")
    x = _example_input(model, size, in_channels)
    was_training = model.training
    model.eval()
    try:
        if convention == "exact":
            from torch.utils.flop_counter import FlopCounterMode

            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                model(x)
            return int(counter.get_total_flops()) // 2
        from torchprofile import profile_macs as _tp_macs

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No handlers found: aten::pad", jit notices
            macs = int(_tp_macs(model, args=(x,)))
        if convention == "in-counted":
            macs += _norm_macs(model, x, lambda m: isinstance(m, nn.InstanceNorm2d) and not m.affine)
        elif convention == "cat":  # torchprofile counts exactly the affine norms
            macs += _norm_macs(model, x, lambda m: not m.affine and not m.track_running_stats)
            macs -= _norm_macs(model, x, lambda m: m.affine and m.track_running_stats)
        return macs
    finally:
        model.train(was_training)


def profile(model: nn.Module, size=(256, 256), convention: str = "in-excluded",
            in_channels: int | None = None) -> Cost:
    """:class:`Cost` (MACs and params) of ``model`` in one convention."""
    if isinstance(size, int):
        size = (size, size)
    macs = profile_macs(model, size, convention, in_channels)
    return Cost(macs=macs, params=count_params(model), convention=convention,
                input_size=(int(size[0]), int(size[1])))


def profile_all(model: nn.Module, size=(256, 256), in_channels: int | None = None,
                conventions=("in-excluded", "in-counted", "exact")) -> dict[str, Cost]:
    """:func:`profile` under each of ``conventions`` (a dict keyed by name)."""
    return {c: profile(model, size, c, in_channels) for c in conventions}


def _module_macs(module: nn.Module, inputs, output, convention: str) -> int:
    """MACs of one leaf module, following torchprofile's rules (see module doc)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):
            if convention == "exact":  # each input pixel meets C_out*k*k weights
                return inputs[0].numel() * module.out_channels * k // module.groups
            return output.numel() * module.in_channels * k // module.groups
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, (nn.InstanceNorm2d, nn.BatchNorm2d)):
        if convention == "exact":
            return 0
        if convention == "cat":
            return 0 if module.track_running_stats else output.numel()
        if getattr(module, "affine", False):
            return output.numel()
        if isinstance(module, nn.InstanceNorm2d) and convention == "in-counted":
            return output.numel()
        return 0
    return 0


def layer_costs(model: nn.Module, size=(256, 256), convention: str = "in-excluded",
                in_channels: int | None = None, depth: int = 1) -> list[dict]:
    """Per-layer cost of ``model``, grouped by module name at ``depth``.

    Each row: ``name`` (for example ``model.9``), ``type``, output ``shape``,
    ``macs`` (same rules as :func:`profile_macs`, computed with forward
    hooks) and ``params``.  The rows add up to the whole network's cost,
    which the tests check against the traced count.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown MAC convention {convention!r}")
    x = _example_input(model, size, in_channels)
    names = {m: n for n, m in model.named_modules()}
    groups: dict[str, dict] = {}

    def key_of(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:depth + 1]) if name else "(root)"

    for name, module in model.named_modules():
        if name and len(name.split(".")) == depth + 1:
            groups[name] = {"name": name, "type": type(module).__name__, "shape": None,
                            "macs": 0, "params": sum(p.numel() for p in module.parameters())}

    def hook(module, inputs, output):
        name = names[module]
        row = groups.get(key_of(name))
        if row is None:
            return
        row["macs"] += _module_macs(module, inputs, output, convention)
        if name == row["name"] and isinstance(output, torch.Tensor):
            row["shape"] = tuple(output.shape[1:])

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return list(groups.values())
