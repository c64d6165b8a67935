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
