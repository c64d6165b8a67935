"""Loss functions: adversarial losses (chapter ``nb/03_teachers``) and feature
distillation losses (chapter ``nb/06_distillation``)."""
from .distill import DISTILL_LOSSES, FeatureDistillLoss, MappedMSE, build_distill_loss
from .gan import GAN_MODES, GANLoss

__all__ = ["DISTILL_LOSSES", "FeatureDistillLoss", "GAN_MODES", "GANLoss", "MappedMSE",
           "build_distill_loss"]
