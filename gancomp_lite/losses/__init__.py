"""Loss functions: adversarial losses now; distillation losses join later."""
from .gan import GAN_MODES, GANLoss

__all__ = ["GAN_MODES", "GANLoss"]
