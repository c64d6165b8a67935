"""Training: one loop, pluggable objectives, checkpoints (chapter ``nb/03_teachers``),
and the distiller of compressed students (chapters ``nb/05_pseudo_pairs``, ``nb/06_distillation``)."""
from .distill import PRESETS, DistillObjective, StudentRecipe, distill, distill_objective
from .loop import Trainer, linear_decay
from .objectives import (CycleGANObjective, ImagePool, LossTerm, Objective, Pix2PixObjective,
                         cyclegan, pix2pix)

__all__ = ["CycleGANObjective", "DistillObjective", "PRESETS", "StudentRecipe", "distill",
           "distill_objective", "ImagePool", "LossTerm", "Objective", "Pix2PixObjective",
           "Trainer", "cyclegan", "linear_decay", "pix2pix"]
