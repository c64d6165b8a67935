"""Loss functions: adversarial losses (chapter ``nb/03_teachers``), feature
distillation losses (chapter ``nb/06_distillation``) and CAT's kernel
alignment (chapter ``nb/07_cat``), registered as the ``ka`` distillation loss."""
from .distill import DISTILL_LOSSES, FeatureDistillLoss, MappedMSE, build_distill_loss
from .gan import GAN_MODES, GANLoss
from .ka import KernelAlignmentLoss, kernel_alignment

DISTILL_LOSSES.setdefault("ka", KernelAlignmentLoss)

__all__ = ["DISTILL_LOSSES", "FeatureDistillLoss", "GAN_MODES", "GANLoss", "KernelAlignmentLoss",
           "MappedMSE", "build_distill_loss", "kernel_alignment"]
