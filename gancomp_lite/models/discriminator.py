"""The PatchGAN discriminator of pix2pix and CycleGAN (official layout).

``n_layers=3`` gives the 70x70 PatchGAN: 4x4 convolutions with strides
2, 2, 2, 1, 1, LeakyReLU(0.2), a norm after all but the first and last, and a
map of real/fake scores (30x30 for a 256x256 input).  pix2pix feeds it the
input and output concatenated (6 channels), CycleGAN the output alone.
Explained in chapter ``nb/03_teachers``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .norm import conv_bias, get_norm_layer
from .resnet import init_weights


class NLayerDiscriminator(nn.Module):
    """PatchGAN with ``n_layers`` stride-2 stages (official ``NLayerDiscriminator``)."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3,
                 norm: str = "instance"):
        super().__init__()
        self.config = dict(input_nc=input_nc, ndf=ndf, n_layers=n_layers, norm=norm)
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm) and norm != "none"
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias),
                       norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _Stage(nn.Module):
    """One stage of :class:`MultiNLayerDiscriminator`: conv, optional norm,
    optional LeakyReLU(0.2), under ``block`` (OMGD's ``ConvReLU``,
    ``ConvBNReLU`` and ``Conv`` modules, which name their layers so)."""

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str | None, relu: bool):
        super().__init__()
        bias = True if norm is None else conv_bias(norm) and norm != "none"
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=bias)]
        if norm is not None:
            layers.append(get_norm_layer(norm)(c_out))
        if relu:
            layers.append(nn.LeakyReLU(0.2, True))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class MultiNLayerDiscriminator(nn.Module):
    """OMGD's discriminator of its two online teachers (``multi_n_layers``).

    The five stages of the 70x70 PatchGAN (:class:`NLayerDiscriminator` with
    ``n_layers=3``), each held twice (``block1s`` .. ``block5s``): the first
    ``n_share`` stages are shared by both teachers (OMGD's code uses the second
    copy of a shared stage, so the first copy stays unused, as there), the rest
    has one copy per teacher.  ``forward(x, head)`` judges for teacher ``head``
    (0: the wide teacher, 1: the deep one), where OMGD's code reads a global
    flag.  OMGD's edges2shoes script shares 3 stages.  Explained in chapter
    ``nb/08_crd``.
    """

    def __init__(self, input_nc: int = 6, ndf: int = 64, n_share: int = 3, norm: str = "instance"):
        super().__init__()
        if not 0 <= n_share <= 5:
            raise ValueError(f"n_share must be between 0 and 5 stages, got {n_share}")
        self.config = dict(input_nc=input_nc, ndf=ndf, n_share=n_share, norm=norm)
        self.n_share = n_share
        stages = ((input_nc, ndf, 2, None, True), (ndf, ndf * 2, 2, norm, True),
                  (ndf * 2, ndf * 4, 2, norm, True), (ndf * 4, ndf * 8, 1, norm, True),
                  (ndf * 8, 1, 1, None, False))
        for i, spec in enumerate(stages, start=1):
            setattr(self, f"block{i}s", nn.ModuleList([_Stage(*spec) for _ in range(2)]))
        init_weights(self)

    def forward(self, x: torch.Tensor, head: int = 0) -> torch.Tensor:
        if head not in (0, 1):
            raise ValueError(f"head must be 0 (wide teacher) or 1 (deep teacher), got {head}")
        for i in range(1, 6):
            x = getattr(self, f"block{i}s")[-1 if self.n_share >= i else head](x)
        return x
