"""CAT's kernel-alignment (KA) distillation loss.

CAT (Jin et al., CVPR 2021) compares how a batch's samples relate to each
other in the teacher and in the student, instead of the activations
themselves: flatten each sample's activation at a layer into a row of ``X``
(``B x C*H*W``), form the ``B x B`` Gram matrix ``K_X = X X^T``, and measure
how aligned the two Gram matrices are::

    KA(X, Y) = <K_X, K_Y>_F / (||K_X||_F ||K_Y||_F)

uncentred and with a linear kernel, as in CAT's code.  KA lies in [0, 1] for
activations after ReLU, is 1 when ``Y`` is a positively scaled copy of ``X``,
and needs no mapping layer: ``X`` and ``Y`` may have different channels and
spatial sizes.  The loss is ``-KA`` summed over the distilled layers.  With
one sample in the batch both Gram matrices are 1x1 and KA is identically 1,
so a batch of 1 is an error.  Explained in chapter ``nb/07_cat``.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..errors import GancompError
from .distill import FeatureDistillLoss


def kernel_alignment(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KA of two activations of the same batch (any channels and sizes)."""
    if x.shape[0] != y.shape[0]:
        raise GancompError(f"kernel alignment compares one batch: got {x.shape[0]} and "
                           f"{y.shape[0]} samples")
    if x.shape[0] < 2:
        raise GancompError("kernel alignment needs a batch of at least 2 (with one sample it "
                           "is identically 1): use a batch size of 2 or more")
    fx, fy = x.flatten(1), y.flatten(1)
    kx, ky = fx @ fx.T, fy @ fy.T
    return (kx * ky).sum() / (kx.norm() * ky.norm()).clamp_min(eps)


class KernelAlignmentLoss(FeatureDistillLoss):
    """``-sum_layers KA(student, teacher)``: no mapping layers, nothing to learn."""

    def forward(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(student) != len(self.channels) or len(teacher) != len(self.channels):
            raise GancompError(f"expected features of {len(self.channels)} layers, got "
                               f"{len(student)} student and {len(teacher)} teacher maps")
        return -sum(kernel_alignment(s, t) for s, t in zip(student, teacher))
