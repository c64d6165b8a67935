"""CAT's inception residual blocks and the generator built from them.

CAT (Jin et al., CVPR 2021) replaces each residual block of the ResNet
generator by an *inception residual block*: for every kernel size ``k`` in
``(1, 3, 5)`` a **res** branch (``k x k`` conv ``C -> m``, norm, ReLU, ``k x k``
conv ``m -> C``) and a **dw** branch (1x1 conv ``C -> m``, norm, ReLU,
depthwise ``k x k`` conv, norm, ReLU, 1x1 conv ``m -> C``).  The block returns
``x + norm(sum of its branches)``.  Each branch has its own width ``m``
(the teacher: ``C // 6``), so pruning can narrow branches unevenly and drop a
branch altogether (width 0); a block with no branch left is the identity.

:class:`InceptionGenerator` keeps the ResNet skeleton and CAT's container
names, so layer names stay the paper's: ``down_sampling`` (ten modules; index
9 is the encoder's last ReLU), ``features`` (the nine blocks) and
``up_sampling``.  Every width is explicit in its config (``down``, ``up``,
``branches``), which is what lets a pruned network be rebuilt from a
checkpoint.  CAT prunes by the scale of the norm after each scored layer, so
its norms must be affine: affine InstanceNorm for unpaired tasks, BatchNorm
for paired ones (CAT's choice).  Explained in chapter ``nb/07_cat``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .norm import conv_bias, get_norm_layer
from .resnet import init_weights

#: kernel sizes of the branches, res then dw (CAT's scripts: 1 3 5)
KERNELS = (1, 3, 5)
#: branch names in config order
BRANCHES = tuple(f"res{k}" for k in KERNELS) + tuple(f"dw{k}" for k in KERNELS)
#: CAT's teacher branch width: C // CHANNELS_REDUCTION
CHANNELS_REDUCTION = 6


def _pad(k: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d((k - 1) // 2)] if k > 1 else []


class InceptionBlock(nn.Module):
    """``x + norm(sum of branches)`` on ``dim`` channels.

    Args:
        dim: the residual width ``C``.
        widths: one width per branch of :data:`BRANCHES` (``0`` drops it).
        norm: an affine norm name (``instance_affine`` or ``batch``).
    """

    def __init__(self, dim: int, widths: Sequence[int], norm: str = "instance_affine"):
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) != len(BRANCHES) or min(widths) < 0:
            raise ValueError(f"an inception block needs {len(BRANCHES)} branch widths >= 0 "
                             f"({', '.join(BRANCHES)}), got {widths}")
        self.widths = widths
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        self.res_ops = nn.ModuleList()
        self.dw_ops = nn.ModuleList()
        for k, m in zip(KERNELS, widths[:len(KERNELS)]):
            if m:
                self.res_ops.append(nn.Sequential(
                    *_pad(k), nn.Conv2d(dim, m, k, bias=bias), norm_layer(m), nn.ReLU(True),
                    *_pad(k), nn.Conv2d(m, dim, k, bias=bias)))
        for k, m in zip(KERNELS, widths[len(KERNELS):]):
            if m:
                self.dw_ops.append(nn.Sequential(
                    nn.Conv2d(dim, m, 1, bias=bias), norm_layer(m), nn.ReLU(True),
                    *_pad(k), nn.Conv2d(m, m, k, groups=m, bias=bias), norm_layer(m), nn.ReLU(True),
                    nn.Conv2d(m, dim, 1, bias=bias)))
        self.pw_norm = norm_layer(dim) if (self.res_ops or self.dw_ops) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [op(x) for op in self.res_ops] + [op(x) for op in self.dw_ops]
        if not branches:
            return x
        return x + self.pw_norm(torch.stack(branches).sum(0))


class InceptionGenerator(nn.Module):
    """CAT's generator: the ResNet skeleton with inception residual blocks.

    Args:
        input_nc, output_nc: image channels.
        ngf: base width; with nothing else given, the teacher's widths follow
            from it (encoder ``ngf, 2ngf, 4ngf``, decoder ``2ngf, ngf``,
            every branch ``4ngf // 6``).
        norm: ``instance_affine`` (unpaired tasks) or ``batch`` (paired).
        n_blocks: inception blocks (9).
        down, up: explicit encoder / decoder widths (a pruned network); the
            residual width is ``down[-1]``.
        branches: explicit branch widths, one list of six per block.
    """

    #: CAT's distilled layers: the encoder's end and the outputs of blocks 3, 6 and 9
    DISTILL_LAYERS = ("down_sampling.9", "features.2", "features.5", "features.8")
    #: the norms whose |scale| CAT's one-step pruning scores (besides each branch's first)
    SCORED_DOWN = ("down_sampling.2", "down_sampling.5", "down_sampling.8")
    SCORED_UP = ("up_sampling.1", "up_sampling.4")

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 norm: str = "instance_affine", n_blocks: int = 9,
                 down: Sequence[int] | None = None, up: Sequence[int] | None = None,
                 branches: Sequence[Sequence[int]] | None = None):
        super().__init__()
        if norm not in ("instance_affine", "batch"):
            raise ValueError(f"CAT's generator needs an affine norm (pruning scores its scales): "
                             f"instance_affine or batch, got {norm!r}")
        down = [ngf, 2 * ngf, 4 * ngf] if down is None else [int(c) for c in down]
        up = [2 * ngf, ngf] if up is None else [int(c) for c in up]
        dim = down[-1]
        if branches is None:
            branches = [[dim // CHANNELS_REDUCTION] * len(BRANCHES)] * n_blocks
        branches = [[int(w) for w in b] for b in branches]
        if len(down) != 3 or len(up) != 2 or min(down + up) < 1 or len(branches) != n_blocks:
            raise ValueError(f"bad inception widths: down {down} (3 > 0), up {up} (2 > 0), "
                             f"{len(branches)} branch lists for {n_blocks} blocks")
        self.config = dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, norm=norm,
                           n_blocks=n_blocks, down=down, up=up, branches=branches)
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        self.down_sampling = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(input_nc, down[0], 7, bias=bias), norm_layer(down[0]),
            nn.ReLU(True),
            nn.Conv2d(down[0], down[1], 3, stride=2, padding=1, bias=bias), norm_layer(down[1]),
            nn.ReLU(True),
            nn.Conv2d(down[1], down[2], 3, stride=2, padding=1, bias=bias), norm_layer(down[2]),
            nn.ReLU(True))
        self.features = nn.Sequential(*[InceptionBlock(dim, b, norm) for b in branches])
        self.up_sampling = nn.Sequential(
            nn.ConvTranspose2d(dim, up[0], 3, stride=2, padding=1, output_padding=1, bias=bias),
            norm_layer(up[0]), nn.ReLU(True),
            nn.ConvTranspose2d(up[0], up[1], 3, stride=2, padding=1, output_padding=1, bias=bias),
            norm_layer(up[1]), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(up[1], output_nc, 7), nn.Tanh())
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            from ..errors import ImageSizeError
            raise ImageSizeError(
                f"the inception generator needs height and width divisible by 4, got {tuple(x.shape[-2:])}")
        return self.up_sampling(self.features(self.down_sampling(x)))
