"""The CycleGAN/pix2pix ResNet generator and its MobileNet-style variant.

Layouts follow the official GAN Compression code exactly, down to the indices
of the ``nn.Sequential`` called ``model``, so that ``model.9``, ``model.12``,
``model.15`` and ``model.18`` name the same layers as there (the last encoder
ReLU and the outputs of residual blocks 3, 6 and 9: the layers that
intermediate distillation hooks) and official checkpoints load key for key::

    0 ReflectionPad(3)   1 Conv7x7 in->ngf       2 Norm  3 ReLU
    4 Conv3x3/2 ngf->2ngf                        5 Norm  6 ReLU
    7 Conv3x3/2 2ngf->4ngf                       8 Norm  9 ReLU
    10..18  nine residual blocks at width 4ngf
    19 ConvT3x3/2 4ngf->2ngf                     20 Norm 21 ReLU
    22 ConvT3x3/2 2ngf->ngf                      23 Norm 24 ReLU
    25 ReflectionPad(3)  26 Conv7x7 ngf->out     27 Tanh

A residual block is ``x + [pad, conv3x3, norm, relu, dropout, pad, conv3x3,
norm](x)`` with no ReLU after the addition.  The MobileNet-style generator
replaces only the two 3x3 convolutions inside each block by a depthwise
separable convolution (depthwise 3x3, norm, pointwise 1x1); everything else
stays dense.  Explained in chapter ``nb/01_cost`` (section ``sec-cost-models``).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .norm import conv_bias, get_norm_layer
from .subnet_config import parse_config, subnet_widths


def _pad(padding_type: str) -> tuple[list[nn.Module], int]:
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(1)], 0
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(1)], 0
    if padding_type == "zero":
        return [], 1
    raise ValueError(f"unknown padding {padding_type!r}: expected reflect, replicate or zero")


class SeparableConv2d(nn.Module):
    """Depthwise-separable convolution: depthwise kxk, norm, pointwise 1x1.

    ``conv.0`` is the depthwise convolution (``groups=in_channels``, one kxk
    filter per input channel), ``conv.1`` a norm over its output and
    ``conv.2`` the pointwise convolution that mixes channels.  Costs
    ``C_in*k*k*H*W + C_in*C_out*H*W`` MACs instead of ``C_in*C_out*k*k*H*W``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 0, norm: str = "instance",
                 bias: bool = True, expansion: int = 1):
        super().__init__()
        mid = in_channels * expansion
        norm_layer = get_norm_layer(norm)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, mid, kernel_size, stride, padding,
                      groups=in_channels, bias=bias),
            norm_layer(mid),
            nn.Conv2d(mid, out_channels, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SeparableConvTranspose2d(nn.Module):
    """A transposed convolution split like :class:`SeparableConv2d`.

    ``conv.0`` is a *depthwise* transposed convolution (``groups=in_channels``):
    it upsamples each channel on its own with a kxk kernel and the given
    stride; ``conv.1`` a norm; ``conv.2`` a pointwise 1x1 convolution that
    mixes channels at the output resolution.  Spatial work first, then channel
    mixing, the same order as the separable convolution; see
    :func:`gancomp_lite.compression.decompose.decompose` for why.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 2, padding: int = 1, output_padding: int = 1,
                 norm: str = "instance", bias: bool = True):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(in_channels, in_channels, kernel_size, stride, padding,
                               output_padding=output_padding, groups=in_channels, bias=bias),
            norm_layer(in_channels),
            nn.Conv2d(in_channels, out_channels, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ResnetBlock(nn.Module):
    """Residual block ``x + conv_block(x)``; dense or separable 3x3 convolutions."""

    def __init__(self, dim: int, norm: str = "instance", dropout: float = 0.0,
                 padding_type: str = "reflect", separable: bool = False,
                 hidden: int | None = None, separable_norm: str | None = None):
        super().__init__()
        hidden = dim if hidden is None else hidden
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        # the norm inside a separable convolution (and whether it has biases): the block's,
        # except in OMGD's deep teacher, whose separable convolutions keep InstanceNorm
        sep_norm = separable_norm or norm
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(((dim, hidden), (hidden, dim))):
            pad, p = _pad(padding_type)
            layers += pad
            if separable:
                layers.append(SeparableConv2d(c_in, c_out, 3, padding=p, norm=sep_norm,
                                              bias=conv_bias(sep_norm)))
            else:
                layers.append(nn.Conv2d(c_in, c_out, 3, padding=p, bias=bias))
            layers.append(norm_layer(c_out))
            if i == 0:
                layers += [nn.ReLU(True), nn.Dropout(dropout)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The 9-block ResNet generator of CycleGAN and pix2pix (official layout).

    Args:
        input_nc, output_nc: image channels in and out.
        ngf: base width; the residual blocks run at ``4 * ngf`` channels.
        norm: ``instance`` (non-affine, the default), ``instance_affine``,
            ``batch`` or ``none``.
        n_blocks: residual blocks (9 in the papers).
        dropout: dropout rate inside blocks (0 in the papers).
        separable_blocks: use depthwise-separable convolutions inside the
            residual blocks (see :class:`MobileResnetGenerator`).
        separable_down, separable_up: decompose the three convolutions before
            the blocks, or the two transposed convolutions after them (GAN
            Compression's Table 4; see :mod:`gancomp_lite.compression.decompose`).
    """

    #: names of the layers GAN Compression distils (forward-hook targets)
    DISTILL_LAYERS = ("model.9", "model.12", "model.15", "model.18")

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 norm: str = "instance", n_blocks: int = 9, dropout: float = 0.0,
                 padding_type: str = "reflect", separable_blocks: bool = False,
                 separable_down: bool = False, separable_up: bool = False):
        super().__init__()
        if ngf < 1 or n_blocks < 0:
            raise ValueError(f"ngf must be >= 1 and n_blocks >= 0, got ngf={ngf}, n_blocks={n_blocks}")
        self.config = dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, norm=norm,
                           n_blocks=n_blocks, dropout=dropout, padding_type=padding_type,
                           separable_blocks=separable_blocks)
        if separable_down or separable_up:  # only recorded when used: old configs stay valid
            self.config.update(separable_down=separable_down, separable_up=separable_up)
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)

        def edge_pad():
            # the 7x7 stem and head: reflect, as the official code always pads them, except in a
            # zero-padded (deployment-friendly) network, where every pad is zero (a module of its
            # own either way, so the layer indices stay those of the official networks)
            return nn.ZeroPad2d(3) if padding_type == "zero" else nn.ReflectionPad2d(3)

        def conv(c_in, c_out, k, stride, padding):
            if separable_down:
                return SeparableConv2d(c_in, c_out, k, stride, padding, norm=norm, bias=bias)
            return nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, bias=bias)

        layers: list[nn.Module] = [
            edge_pad(), conv(input_nc, ngf, 7, 1, 0), norm_layer(ngf), nn.ReLU(True),
        ]
        for mult in (1, 2):  # two stride-2 downsampling convolutions
            layers += [conv(ngf * mult, ngf * mult * 2, 3, 2, 1),
                       norm_layer(ngf * mult * 2), nn.ReLU(True)]
        dim = ngf * 4
        layers += [ResnetBlock(dim, norm, dropout, padding_type, separable=separable_blocks)
                   for _ in range(n_blocks)]
        for mult in (4, 2):  # two stride-2 transposed convolutions
            c_in, c_out = ngf * mult, ngf * mult // 2
            up = (SeparableConvTranspose2d(c_in, c_out, 3, 2, 1, 1, norm=norm, bias=bias)
                  if separable_up else
                  nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=bias))
            layers += [up, norm_layer(c_out), nn.ReLU(True)]
        layers += [edge_pad(), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            from ..errors import ImageSizeError
            raise ImageSizeError(
                f"the ResNet generator needs height and width divisible by 4, got {tuple(x.shape[-2:])}")
        return self.model(x)


class MobileResnetGenerator(ResnetGenerator):
    """GAN Compression's MobileNet-style ResNet generator.

    Same skeleton and indices as :class:`ResnetGenerator`; only the two 3x3
    convolutions of each residual block are depthwise separable.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 norm: str = "instance", n_blocks: int = 9, dropout: float = 0.0,
                 padding_type: str = "reflect"):
        super().__init__(input_nc, output_nc, ngf, norm, n_blocks, dropout, padding_type,
                         separable_blocks=True)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The official initialisation: conv/linear weights N(0, gain), biases 0,
    BatchNorm scales N(1, gain) and shifts 0 (affine InstanceNorm: 1 and 0)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


class SubMobileResnetGenerator(nn.Module):
    """A plain Mobile ResNet with one width per layer group: what a
    once-for-all subnet exports to (GAN Compression's ``SubMobileResnetGenerator``).

    ``channels`` is the 8-entry configuration of
    :mod:`gancomp_lite.models.dynamic` (``c0 .. c7`` in ngf units; the legacy
    6-entry form is accepted).  Layer indices and state-dict keys are those of
    :class:`MobileResnetGenerator` and of GAN Compression's sub-mobile
    generator, so its released compressed models load key for key.  With all
    entries equal to ``ngf`` it is exactly ``MobileResnetGenerator(ngf)``.
    Explained in chapter ``nb/09_ofa``.
    """

    DISTILL_LAYERS = ResnetGenerator.DISTILL_LAYERS

    def __init__(self, channels, input_nc: int = 3, output_nc: int = 3, norm: str = "instance",
                 n_blocks: int = 9, dropout: float = 0.0, padding_type: str = "reflect"):
        super().__init__()

        c = list(parse_config(channels))
        w = subnet_widths(c, n_blocks)
        self.config = dict(channels=c, input_nc=input_nc, output_nc=output_nc, norm=norm,
                           n_blocks=n_blocks, dropout=dropout, padding_type=padding_type)
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        first, down1, res = w["first"], w["down1"], w["residual"]
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, first, 7, bias=bias),
                                   norm_layer(first), nn.ReLU(True)]
        for c_in, c_out in ((first, down1), (down1, res)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=bias), norm_layer(c_out),
                       nn.ReLU(True)]
        layers += [ResnetBlock(res, norm, dropout, padding_type, separable=True, hidden=inner)
                   for inner in w["inner"]]
        for c_in, c_out in ((res, w["up1"]), (w["up1"], w["up2"])):
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias), norm_layer(c_out), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w["up2"], output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    forward = ResnetGenerator.forward
