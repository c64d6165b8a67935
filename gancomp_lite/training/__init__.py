"""Training: one loop, pluggable objectives, checkpoints (chapter ``nb/03_teachers``)."""
from .loop import Trainer, linear_decay
from .objectives import (CycleGANObjective, ImagePool, LossTerm, Objective, Pix2PixObjective,
                         cyclegan, pix2pix)

__all__ = ["CycleGANObjective", "ImagePool", "LossTerm", "Objective", "Pix2PixObjective",
           "Trainer", "cyclegan", "linear_decay", "pix2pix"]
