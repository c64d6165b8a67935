"""The papers' training recipes per task and stage, as their official scripts set them.

One :class:`PaperPreset` per (paper, task, stage): the schedule (Adam's
learning rate constant for ``epochs``, then falling linearly to 0 over
``epochs_decay``), the batch size, the discriminator width and GAN loss, the
loss weights (:data:`~gancomp_lite.training.distill.PRESETS` for GAN
Compression's and CAT's distillers, :data:`~gancomp_lite.training.online.PRESETS`
for OMGD and CRD), the student's and teacher's widths and the distilled layers.
The numbers come from the official scripts as the project's digest of them
records them (official-implementations §2, §4, §7).  ``gancomp-lite info
--preset NAME`` prints one; :func:`steps_for` turns its epochs into the
optimizer steps of a dataset of a given size.

Not yet selected by ``train``/``distill`` themselves (``--preset``): a preset
is read and printed, and the README's full-scale section says which options
carry it.  Explained in chapter ``nb/06_distillation``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import GancompError


@dataclass(frozen=True)
class PaperPreset:
    """One official training recipe (see the module docstring)."""

    paper: str
    task: str
    stage: str
    epochs: int
    epochs_decay: int
    batch_size: int
    ndf: int
    gan_mode: str
    loss: str                                  # the loss-weight preset's name
    teacher: str = ""
    student: str = ""
    distill_layers: tuple[str, ...] = ()
    lr: float = 2e-4
    notes: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        d["distill_layers"] = list(self.distill_layers)
        return d


_GC_LAYERS = ("model.9", "model.12", "model.15", "model.18")
_CAT_LAYERS = ("down_sampling.9", "features.2", "features.5", "features.8")

#: the official recipes, keyed ``<paper>-<task>-<stage>``
PAPER_PRESETS: dict[str, PaperPreset] = {p.paper + "-" + p.task + "-" + p.stage: p for p in (
    PaperPreset("gc", "horse2zebra", "distill", 100, 100, 1, 64, "lsgan", "cyclegan",
                teacher="mobile_resnet ngf 64", student="mobile_resnet ngf 32",
                distill_layers=_GC_LAYERS, notes="pseudo-pairs: L1 to the teacher's output"),
    PaperPreset("gc", "horse2zebra", "supernet", 200, 200, 1, 64, "lsgan", "cyclegan",
                teacher="mobile_resnet ngf 64", student="supernet channels-32",
                distill_layers=_GC_LAYERS, notes="Fast GAN Compression: ngf-64 supernet, full ResNet teacher"),
    PaperPreset("gc", "edges2shoes-r", "distill", 5, 15, 4, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 64", student="mobile_resnet ngf 48",
                distill_layers=_GC_LAYERS),
    PaperPreset("gc", "edges2shoes-r", "supernet", 10, 30, 4, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 64", student="supernet channels-48",
                distill_layers=_GC_LAYERS, notes="fine-tune 5+15"),
    PaperPreset("gc", "cityscapes", "distill", 100, 150, 1, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 96", student="mobile_resnet ngf 48",
                distill_layers=_GC_LAYERS, notes="direction BtoA (labels to photos); supernet 200+300"),
    PaperPreset("gc", "map2sat", "distill", 100, 200, 1, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 96", student="mobile_resnet ngf 48",
                distill_layers=_GC_LAYERS, notes="lambda_recon 10 (not the preset's 100); supernet 200+400"),
    PaperPreset("cat", "horse2zebra", "student", 500, 500, 80, 64, "lsgan", "cat-cyclegan",
                teacher="inception ngf 64", student="one-step pruned to 2.6G MACs",
                distill_layers=_CAT_LAYERS, notes="batch 80 on 4 GPUs; teacher batch 32 on 8 GPUs"),
    PaperPreset("cat", "cityscapes", "student", 500, 750, 80, 128, "hinge", "cat-pix2pix",
                teacher="inception ngf 64, BatchNorm", student="one-step pruned to 5.6G MACs",
                distill_layers=_CAT_LAYERS, notes="BatchNorm with running statistics"),
    PaperPreset("cat", "map2sat", "student", 500, 1000, 80, 128, "hinge", "cat-map2sat",
                teacher="inception ngf 64", student="one-step pruned to 4.6G MACs",
                distill_layers=_CAT_LAYERS, notes="teacher trained with lambda_recon 10"),
    PaperPreset("omgd", "horse2zebra", "joint", 100, 100, 1, 64, "lsgan", "omgd-cyclegan",
                teacher="mobile_resnet ngf 64 (online)", student="mobile_resnet ngf 16",
                notes="student epochs = n_dis (4) x save_epoch_freq (10) per round"),
    PaperPreset("omgd", "edges2shoes-r", "joint", 100, 100, 4, 128, "hinge", "omgd-pix2pix",
                teacher="wide ngf 64 and deep ngf 16 (online)", student="mobile_resnet ngf 16",
                notes="n_dis 1"),
    PaperPreset("crd", "horse2zebra", "joint", 100, 100, 1, 64, "lsgan", "crd-cyclegan",
                teacher="mobile_resnet ngf 64 (online)", student="mobile_resnet ngf 16"),
    PaperPreset("crd", "edges2shoes-r", "joint", 100, 100, 4, 128, "hinge", "crd-pix2pix",
                teacher="ngf 64 (online)", student="mobile_resnet ngf 16", notes="n_dis 1"),
)}


def paper_preset(name: str) -> PaperPreset:
    """The preset called ``name`` (a key of :data:`PAPER_PRESETS`)."""
    if name not in PAPER_PRESETS:
        raise GancompError(f"unknown paper preset {name!r}; choose from {', '.join(PAPER_PRESETS)}")
    return PAPER_PRESETS[name]


def loss_weights(preset: PaperPreset) -> dict:
    """The loss weights a preset names, from the distiller's or the online presets."""
    from .distill import PRESETS as DISTILL
    from .online import PRESETS as ONLINE

    if preset.loss in DISTILL:
        return dict(DISTILL[preset.loss])
    return ONLINE[preset.loss].as_dict()


def steps_for(preset: PaperPreset, n_items: int) -> int:
    """The optimizer steps of the preset's whole schedule on ``n_items``
    training items: (epochs + decay epochs) x ceil(items / batch)."""
    if n_items < 1:
        raise GancompError(f"a dataset needs at least one item, got {n_items}")
    return (preset.epochs + preset.epochs_decay) * math.ceil(n_items / preset.batch_size)
