"""Adversarial losses: least-squares, hinge and vanilla (non-saturating).

``GANLoss(mode)`` gives the discriminator's loss on real and fake
predictions and the generator's loss on fake predictions, as in the official
code: least squares is MSE to 1 (real) and 0 (fake) {cite:p}`mao2017least`;
vanilla is binary cross-entropy on logits; hinge trains the discriminator on
``relu(1 - D(real)) + relu(1 + D(fake))`` and the generator on ``-D(fake)``.
The discriminator's loss is the average of its real and fake parts (0.5 *
(real + fake)), as in the pix2pix and CycleGAN models.  A discriminator may
return a list of maps (multi-scale); their losses are averaged.
Explained in chapter ``nb/03_teachers`` (section ``sec-teachers-gan``).
"""
from __future__ import annotations

from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError

GAN_MODES = ("lsgan", "hinge", "vanilla")
Pred = Union[torch.Tensor, Sequence[torch.Tensor]]


def _as_list(pred: Pred) -> list[torch.Tensor]:
    return list(pred) if isinstance(pred, (list, tuple)) else [pred]


class GANLoss(nn.Module):
    """Adversarial loss of one of :data:`GAN_MODES`."""

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in GAN_MODES:
            raise GancompError(f"unknown GAN loss {mode!r}: expected one of {', '.join(GAN_MODES)}")
        self.mode = mode

    def _target(self, pred: torch.Tensor, real: bool) -> torch.Tensor:
        return torch.ones_like(pred) if real else torch.zeros_like(pred)

    def _single(self, pred: torch.Tensor, real: bool, for_discriminator: bool) -> torch.Tensor:
        if self.mode == "lsgan":
            return F.mse_loss(pred, self._target(pred, real))
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(pred, self._target(pred, real))
        if for_discriminator:  # hinge
            return F.relu(1 - pred).mean() if real else F.relu(1 + pred).mean()
        if not real:
            raise ValueError("the hinge generator loss is defined on fake predictions only")
        return -pred.mean()

    def loss(self, pred: Pred, real: bool, for_discriminator: bool) -> torch.Tensor:
        """Loss of ``pred`` judged as ``real`` (or fake), averaged over scales."""
        parts = [self._single(p, real, for_discriminator) for p in _as_list(pred)]
        return torch.stack(parts).mean()

    def discriminator_loss(self, real_pred: Pred, fake_pred: Pred) -> torch.Tensor:
        """0.5 * (loss on real predictions + loss on fake predictions)."""
        return 0.5 * (self.loss(real_pred, True, True) + self.loss(fake_pred, False, True))

    def generator_loss(self, fake_pred: Pred) -> torch.Tensor:
        """The generator's loss: its fakes should be judged real."""
        return self.loss(fake_pred, True, False)
