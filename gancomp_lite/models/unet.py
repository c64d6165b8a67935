"""The pix2pix U-Net generator (official layout, so official checkpoints load).

``num_downs`` stride-2 4x4 convolutions take the image down to 1x1 (8 for
256x256 images, 6 for 64x64), each mirrored by a transposed convolution whose
input is the concatenation of the skip connection and the deeper output.
Down path: LeakyReLU(0.2), conv, norm; up path: ReLU, transposed conv, norm.
BatchNorm by default, as in pix2pix and OMGD.  Explained in chapter
``nb/01_cost`` (section ``sec-cost-models``).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..errors import ImageSizeError
from .norm import get_norm_layer
from .resnet import init_weights


class UnetSkipConnectionBlock(nn.Module):
    """One level of the U-Net: ``cat(x, up(sub(down(x))))`` (outermost: no cat)."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False,
                 innermost: bool = False, norm: str = "batch", use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        norm_layer = get_norm_layer(norm)
        bias = norm in ("instance", "instance_affine", "none")
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        if outermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
            layers = [downconv, submodule, *up]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=bias),
                      norm_layer(outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc), submodule,
                      nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=bias),
                      norm_layer(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix U-Net: ``unet_256`` is ``UnetGenerator(num_downs=8)``.

    Args:
        num_downs: downsamplings; the input side must be divisible by
            ``2**num_downs``.  ``None`` picks ``log2`` of ``image_size``.
        ngf: width of the outermost level; deeper levels use 2, 4 and then
            8 times that.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int | None = 8,
                 ngf: int = 64, norm: str = "batch", use_dropout: bool = False,
                 image_size: int | None = None):
        super().__init__()
        if num_downs is None:
            if not image_size or image_size & (image_size - 1):
                raise ImageSizeError(f"U-Net needs a power-of-two image size to pick num_downs, got {image_size}")
            num_downs = int(math.log2(image_size))
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5, got {num_downs}")
        self.num_downs = num_downs
        self.config = dict(input_nc=input_nc, output_nc=output_nc, num_downs=num_downs,
                           ngf=ngf, norm=norm, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm,
                                            use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm=norm)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        step = 2 ** self.num_downs
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ImageSizeError(
                f"this U-Net ({self.num_downs} downsamplings) needs height and width divisible "
                f"by {step}, got {tuple(x.shape[-2:])}")
        return self.model(x)
