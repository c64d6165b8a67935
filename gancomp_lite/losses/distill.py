"""Intermediate feature distillation losses.

GAN Compression (eq. 3) distils the teacher's intermediate activations into
the student::

    L_distill = sum_t || G_t(x) - f_t(G'_t(x)) ||

where ``G_t`` and ``G'_t`` are the activations at the t-th chosen layer of
student and teacher and ``f_t`` is a learnable 1x1 convolution that maps the
student's channels to the teacher's, trained together with the generator.
(The paper's equation puts ``f_t`` on the teacher side; its text and the
official code map the *student* to the teacher's width, as here.)  The
official code uses the mean squared error per layer, summed over layers.

Every distillation loss of the book is a :class:`FeatureDistillLoss`: it is
built from the (student, teacher) channel pairs of the hooked layers, owns
whatever it needs to learn (the 1x1 mappings here), and maps two lists of
feature maps to one scalar.  The distiller trains its parameters with the
generator, so another loss (CAT's kernel alignment, for example) replaces
the mean squared error by registering in :data:`DISTILL_LOSSES`, without any
change to the training loop.

Explained in chapter ``nb/06_distillation`` (section ``sec-distill-loss``).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError


class FeatureDistillLoss(nn.Module):
    """Base class: ``loss(student_feats, teacher_feats) -> scalar``.

    Args:
        channels: one ``(student_channels, teacher_channels)`` pair per layer.
    """

    def __init__(self, channels: Sequence[tuple[int, int]]):
        super().__init__()
        self.channels = [(int(s), int(t)) for s, t in channels]
        if not self.channels:
            raise GancompError("a distillation loss needs at least one layer")

    #: whether a student map may be narrower than its layer's channels (a
    #: once-for-all subnet: the loss then uses the leading slice of its weights)
    any_student_width = False

    def check(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> None:
        if len(student) != len(self.channels) or len(teacher) != len(self.channels):
            raise GancompError(f"expected features of {len(self.channels)} layers, got "
                               f"{len(student)} student and {len(teacher)} teacher maps")
        for i, ((cs, ct), s, t) in enumerate(zip(self.channels, student, teacher)):
            narrower = self.any_student_width and s.shape[1] <= cs
            if (s.shape[1] != cs and not narrower) or t.shape[1] != ct:
                raise GancompError(f"layer {i}: expected {cs} student and {ct} teacher channels, "
                                   f"got {s.shape[1]} and {t.shape[1]}")
            if s.shape[2:] != t.shape[2:]:
                raise GancompError(f"layer {i}: student and teacher maps differ in size: "
                                   f"{tuple(s.shape[2:])} vs {tuple(t.shape[2:])}")

    def forward(self, student: Sequence[torch.Tensor],
                teacher: Sequence[torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class MappedMSE(FeatureDistillLoss):
    """GAN Compression's loss: per layer, a learnable 1x1 convolution (with
    bias, initialised N(0, 0.02)) maps the student's channels to the
    teacher's; the loss is the sum over layers of the mean squared error.

    ``any_student_width=True`` (a once-for-all supernet's loss, chapter
    ``nb/09_ofa``): ``channels`` give the widest student, and a narrower
    student map goes through the first input channels of the mapping's weight,
    as GAN Compression's super mapping layers do, so every subnet shares one
    set of mappings."""

    def __init__(self, channels: Sequence[tuple[int, int]], init_gain: float = 0.02,
                 any_student_width: bool = False):
        super().__init__(channels)
        self.any_student_width = any_student_width
        self.mappings = nn.ModuleList(nn.Conv2d(s, t, 1) for s, t in self.channels)
        for conv in self.mappings:
            nn.init.normal_(conv.weight, 0.0, init_gain)
            nn.init.zeros_(conv.bias)

    def forward(self, student, teacher):
        self.check(student, teacher)
        return sum(F.mse_loss(F.conv2d(s, f.weight[:, :s.shape[1]], f.bias), t)
                   for f, s, t in zip(self.mappings, student, teacher))


class ChannelDistillLoss(FeatureDistillLoss):
    """OMGD's channel distillation {cite:p}`ren2021online`: per layer a
    connector (1x1 convolution without bias from the student's to the
    teacher's channels, BatchNorm, ReLU; initialised N(0, 0.02), BN scale
    N(1, 0.02), as OMGD's ``init_net`` leaves it) maps the student's map; the
    loss is the mean over batch and channels of the squared difference of the
    global-average-pooled maps, summed over layers.  Only *which channels are
    active on average* is matched, not where.  Explained in chapter
    ``nb/08_crd`` (section ``sec-crd-omgd``)."""

    def __init__(self, channels: Sequence[tuple[int, int]], init_gain: float = 0.02):
        super().__init__(channels)
        self.connectors = nn.ModuleList(
            nn.Sequential(nn.Conv2d(s, t, 1, bias=False), nn.BatchNorm2d(t), nn.ReLU())
            for s, t in self.channels)
        for conn in self.connectors:
            nn.init.normal_(conn[0].weight, 0.0, init_gain)
            nn.init.normal_(conn[1].weight, 1.0, init_gain)
            nn.init.zeros_(conn[1].bias)

    def forward(self, student, teacher):
        self.check(student, teacher)
        return sum(F.mse_loss(f(s).mean(dim=(2, 3)), t.mean(dim=(2, 3)))
                   for f, s, t in zip(self.connectors, student, teacher))


#: name -> constructor ``f(channels) -> FeatureDistillLoss``; later chapters add theirs
DISTILL_LOSSES: dict[str, Callable[[Sequence[tuple[int, int]]], FeatureDistillLoss]] = {
    "mse": MappedMSE,
    "cd": ChannelDistillLoss,
}


def build_distill_loss(name: str, channels: Sequence[tuple[int, int]]) -> FeatureDistillLoss:
    """The distillation loss ``name`` (see :data:`DISTILL_LOSSES`) for these channel pairs."""
    if name not in DISTILL_LOSSES:
        raise GancompError(f"unknown distillation loss {name!r}: expected one of "
                           f"{', '.join(sorted(DISTILL_LOSSES))}")
    return DISTILL_LOSSES[name](channels)
