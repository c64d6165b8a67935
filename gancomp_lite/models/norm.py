"""Normalisation layers, selectable by name.

The papers' generators use non-affine InstanceNorm (GAN Compression, OMGD,
CRD); CAT needs affine norms because it prunes by the norm's scale, and its
pix2pix models use BatchNorm.  Explained in chapter ``nb/01_cost``.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch.nn as nn

from ..errors import GancompError

NORMS = ("instance", "instance_affine", "batch", "none")


class UnknownNormError(GancompError, ValueError):
    """A norm name that :func:`get_norm_layer` does not know."""


def get_norm_layer(norm: str = "instance") -> Callable[[int], nn.Module]:
    """Return a constructor ``f(num_channels) -> nn.Module`` for ``norm``.

    ``instance``: InstanceNorm, no affine parameters, no running statistics
    (the official default); ``instance_affine``: the same with a learnable
    scale and shift; ``batch``: BatchNorm with running statistics; ``none``.
    """
    if norm == "instance":
        return partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "instance_affine":
        return partial(nn.InstanceNorm2d, affine=True, track_running_stats=False)
    if norm == "batch":
        return partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "none":
        return lambda num_channels: nn.Identity()
    raise UnknownNormError(f"unknown norm {norm!r}: expected one of {', '.join(NORMS)}")


def conv_bias(norm: str) -> bool:
    """Whether a convolution followed by ``norm`` carries a bias.

    As in the official code: biases iff the norm is an InstanceNorm (BatchNorm
    has its own shift; with no norm a bias is needed too).
    """
    return norm in ("instance", "instance_affine", "none")
