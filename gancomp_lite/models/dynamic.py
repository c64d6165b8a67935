"""Dynamic-width layers and GAN Compression's once-for-all supernet.

A *supernet* holds the weights of the widest network; a *subnet* runs on the
leading slice of every layer's weights.  For a convolution with weight
``W[out, in, k, k]`` a subnet of ``c_out`` output channels fed ``c_in``
channels uses ``W[:c_out, :c_in]`` and ``b[:c_out]``; a transposed
convolution (PyTorch stores ``W[in, out, k, k]``) uses ``W[:c_in, :c_out]``;
a depthwise-separable convolution uses the first ``c_in`` depthwise filters
and the pointwise ``W[:c_out, :c_in]``.  The input width is always read from
the incoming tensor, the output width from the active configuration, so the
subnets share weights and a narrow subnet is literally the top-left corner
of a wide one (GAN Compression's ``super_modules.py``).

:class:`SuperMobileResnetGenerator` is the Mobile ResNet of
:mod:`~gancomp_lite.models.resnet` built from these layers, with the same
``model.<i>`` indices (so ``model.9``, ``model.12``, ``model.15`` and
``model.18`` are still the layers distillation hooks).  A configuration is
GAN Compression's eight numbers ``c0..c7`` in "ngf units" (string form
``c0_c1_..._c7``, :func:`parse_config`):

===== ==============================================================
entry width it sets
===== ==============================================================
c0    the first 7x7 convolution: ``c0`` channels
c1    the first stride-2 convolution: ``2*c1``
c2    the second stride-2 convolution: ``4*c2``, the residual width
      shared by all nine blocks
c3    inner width of blocks 1-3: ``4*c3`` (the output of each
      block's first separable convolution)
c4    inner width of blocks 4-6: ``4*c4``
c5    inner width of blocks 7-9: ``4*c5``
c6    the first transposed convolution: ``2*c6``
c7    the second transposed convolution: ``c7``
===== ==============================================================

The last 7x7 convolution always outputs the image.  GAN Compression's
released early models use a 6-entry ("legacy") form ``c0 c1 c2 c3 c4 c5``
with one inner width ``4*c3`` for all blocks and ``c4``, ``c5`` for the two
upsamplings; :func:`parse_config` turns it into the 8-entry form.

Norms: non-affine InstanceNorm (the papers' supernets) needs no slicing;
affine InstanceNorm slices its scale and shift.  Norms with running
statistics (BatchNorm) would need re-calibration per subnet and are refused.

Explained in chapter ``nb/09_ofa``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError
from .resnet import _pad, init_weights
# the configurations live in a module of their own, which models.resnet also imports
from .subnet_config import (N_ENTRIES, ConfigError, format_config,  # noqa: F401
                            parse_config, subnet_widths)

# -- dynamic layers ---------------------------------------------------------------
def _check(name: str, want: int, have: int, what: str) -> None:
    if want > have:
        raise ConfigError(f"{name}: a subnet asks for {want} {what} channels, the supernet has "
                          f"only {have}")


class DynamicConv2d(nn.Conv2d):
    """A convolution that runs on ``W[:out, :in]`` (``in`` from the input)."""

    def forward(self, x: torch.Tensor, out_channels: int | None = None) -> torch.Tensor:
        out = self.out_channels if out_channels is None else out_channels
        c_in = x.shape[1]
        _check("conv", out, self.out_channels, "output")
        _check("conv", c_in, self.in_channels, "input")
        bias = self.bias[:out] if self.bias is not None else None
        return F.conv2d(x, self.weight[:out, :c_in], bias, self.stride, self.padding, self.dilation)


class DynamicConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution that runs on ``W[:in, :out]`` (PyTorch's layout)."""

    def forward(self, x: torch.Tensor, out_channels: int | None = None) -> torch.Tensor:
        out = self.out_channels if out_channels is None else out_channels
        c_in = x.shape[1]
        _check("transposed conv", out, self.out_channels, "output")
        _check("transposed conv", c_in, self.in_channels, "input")
        bias = self.bias[:out] if self.bias is not None else None
        return F.conv_transpose2d(x, self.weight[:c_in, :out], bias, self.stride, self.padding,
                                  self.output_padding, 1, self.dilation)


class DynamicNorm(nn.Module):
    """InstanceNorm over any leading slice of its channels (affine parameters
    sliced too); ``norm="none"`` is the identity."""

    def __init__(self, num_channels: int, norm: str = "instance"):
        super().__init__()
        if norm not in SUPERNET_NORMS:
            raise GancompError(f"a supernet needs a norm without running statistics "
                               f"({', '.join(SUPERNET_NORMS)}), not {norm!r}")
        self.num_channels = num_channels
        self.kind = norm
        if norm == "instance_affine":
            self.weight = nn.Parameter(torch.ones(num_channels))
            self.bias = nn.Parameter(torch.zeros(num_channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return x
        c = x.shape[1]
        _check("norm", c, self.num_channels, "")
        w = self.weight[:c] if self.weight is not None else None
        b = self.bias[:c] if self.bias is not None else None
        return F.instance_norm(x, weight=w, bias=b, eps=1e-5)


#: norms a supernet accepts
SUPERNET_NORMS = ("instance", "instance_affine", "none")


class DynamicSeparableConv2d(nn.Module):
    """:class:`~gancomp_lite.models.resnet.SeparableConv2d` on leading slices:
    the first ``c_in`` depthwise filters, then the pointwise ``W[:out, :c_in]``.
    Same layout (``conv.0`` depthwise, ``conv.1`` norm, ``conv.2`` pointwise)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 0, norm: str = "instance", bias: bool = True):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding, groups=in_channels,
                      bias=bias),
            DynamicNorm(in_channels, norm),
            nn.Conv2d(in_channels, out_channels, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor, out_channels: int | None = None) -> torch.Tensor:
        dw, norm, pw = self.conv
        out = pw.out_channels if out_channels is None else out_channels
        c_in = x.shape[1]
        _check("separable conv", out, pw.out_channels, "output")
        _check("separable conv", c_in, dw.in_channels, "input")
        h = F.conv2d(x, dw.weight[:c_in], dw.bias[:c_in] if dw.bias is not None else None,
                     dw.stride, dw.padding, dw.dilation, groups=c_in)
        h = norm(h)
        return F.conv2d(h, pw.weight[:out, :c_in], pw.bias[:out] if pw.bias is not None else None)


class DynamicResnetBlock(nn.Module):
    """The Mobile ResNet block on leading slices: the first separable
    convolution outputs the configured inner width, the second returns to the
    width of the block's input (the residual width).  Same layout as
    :class:`~gancomp_lite.models.resnet.ResnetBlock` with ``separable=True``."""

    def __init__(self, dim: int, norm: str = "instance", dropout: float = 0.0,
                 padding_type: str = "reflect"):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(2):
            pad, p = _pad(padding_type)
            layers += pad
            layers.append(DynamicSeparableConv2d(dim, dim, 3, padding=p, norm=norm))
            layers.append(DynamicNorm(dim, norm))
            if i == 0:
                layers += [nn.ReLU(True), nn.Dropout(dropout)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, inner: int | None = None) -> torch.Tensor:
        h, seen = x, 0
        for layer in self.conv_block:
            if isinstance(layer, DynamicSeparableConv2d):
                h = layer(h, inner if seen == 0 else x.shape[1])
                seen += 1
            else:
                h = layer(h)
        return x + h


class SuperMobileResnetGenerator(nn.Module):
    """GAN Compression's once-for-all Mobile ResNet (see the module docstring).

    Allocated at width ``ngf`` (every entry of the largest configuration is
    ``ngf``); ``forward(x, config)`` runs the subnet ``config`` (default:
    :attr:`active`, initially the largest).  Setting :attr:`active` is how a
    training objective that owns the supernet picks the subnet of a step;
    functions handed a supernet pass ``config`` instead, so they never change
    the caller's network.
    """

    #: the layers GAN Compression distils (same indices as the Mobile ResNet)
    DISTILL_LAYERS = ("model.9", "model.12", "model.15", "model.18")

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 32,
                 norm: str = "instance", n_blocks: int = 9, dropout: float = 0.0,
                 padding_type: str = "reflect"):
        super().__init__()
        if norm not in SUPERNET_NORMS:
            raise GancompError(f"a supernet needs a norm without running statistics "
                               f"({', '.join(SUPERNET_NORMS)}), not {norm!r}")
        if ngf < 1 or n_blocks < 3 or n_blocks % 3:
            raise GancompError(f"a supernet needs ngf >= 1 and a multiple of 3 blocks, got "
                               f"ngf={ngf}, n_blocks={n_blocks}")
        self.config = dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, norm=norm,
                           n_blocks=n_blocks, dropout=dropout, padding_type=padding_type)
        bias = True   # InstanceNorm (or no norm): convolutions carry a bias, as officially
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), DynamicConv2d(input_nc, ngf, 7),
                                   DynamicNorm(ngf, norm), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [DynamicConv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=bias),
                       DynamicNorm(ngf * mult * 2, norm), nn.ReLU(True)]
        layers += [DynamicResnetBlock(4 * ngf, norm, dropout, padding_type) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [DynamicConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, 1, bias=bias),
                       DynamicNorm(ngf * mult // 2, norm), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), DynamicConv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)
        self.active: tuple[int, ...] = self.largest()

    def largest(self) -> tuple[int, ...]:
        """The configuration that uses every weight."""
        return (self.config["ngf"],) * N_ENTRIES

    def check(self, config: Sequence[int]) -> tuple[int, ...]:
        """``config`` as 8 ints; a :class:`ConfigError` if it needs more channels than allocated."""
        c = parse_config(config)
        big = [i for i, v in enumerate(c) if v > self.config["ngf"]]
        if big:
            raise ConfigError(f"configuration {format_config(c)} needs entries "
                              f"{', '.join(f'c{i}={c[i]}' for i in big)} above the supernet's "
                              f"width ngf={self.config['ngf']}")
        return c

    def _plan(self, config: Sequence[int]) -> dict[int, int | None]:
        """The output width passed to each dynamic layer, by index in ``model``."""
        w = subnet_widths(config, self.config["n_blocks"])
        plan = {1: w["first"], 4: w["down1"], 7: w["residual"]}
        for b, inner in enumerate(w["inner"]):
            plan[10 + b] = inner
        first_up = 10 + self.config["n_blocks"]
        plan[first_up] = w["up1"]
        plan[first_up + 3] = w["up2"]
        plan[first_up + 7] = None    # the output convolution: the image channels
        return plan

    def forward(self, x: torch.Tensor, config: Sequence[int] | None = None) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            from ..errors import ImageSizeError
            raise ImageSizeError(
                f"the ResNet generator needs height and width divisible by 4, got {tuple(x.shape[-2:])}")
        plan = self._plan(self.check(self.active if config is None else config))
        for i, layer in enumerate(self.model):
            x = layer(x, plan[i]) if i in plan else layer(x)
        return x


class SubnetView(nn.Module):
    """One subnet of a supernet as a network of its own, *without copying*:
    ``SubnetView(supernet, config)(x) == supernet(x, config)``.  For looking
    at a subnet (evaluation, figures); a plain network with exactly its
    weights is :func:`~gancomp_lite.compression.ofa.export_subnet`."""

    def __init__(self, supernet: SuperMobileResnetGenerator, config: Sequence[int]):
        super().__init__()
        self.supernet = supernet
        self.subnet_config = supernet.check(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, config=self.subnet_config)
