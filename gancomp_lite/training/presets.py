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

``distill --paper-preset NAME`` applies a GAN Compression or CAT student
preset, or GAN Compression's fine-tune of a searched subnet (:func:`schedule`: its epochs on the training set, decay included; its
batch size, loss weights, student, distilled layers and direction);
``train-supernet --paper-preset`` a supernet preset (its schedule, batch, loss
weights, search space and direction) and ``distill-online --paper-preset`` an
OMGD or CRD preset (its schedule, batch, student loss, method, widths and
direction).  Options given explicitly win.  Explained in
chapter ``nb/06_distillation``; what each costs in the page ``nb/12_gpu``.
"""
from __future__ import annotations

import functools
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
    direction: str = "AtoB"                    # BtoA: labels or maps to photos
    notes: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        d["distill_layers"] = list(self.distill_layers)
        return d


_GC_LAYERS = ("model.9", "model.12", "model.15", "model.18")
#: the discriminator the official fine-tune starts from (nb/09_ofa, nb/12_gpu)
_FINETUNE_D = ("the official fine-tune restores the supernet's D: give the supernet's run as "
               "--discriminator-from (else the teacher's D is the start)")
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
                distill_layers=_GC_LAYERS, notes="fine-tune: gc-edges2shoes-r-finetune"),
    PaperPreset("gc", "cityscapes", "distill", 100, 150, 1, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 96", student="mobile_resnet ngf 48",
                distill_layers=_GC_LAYERS, direction="BtoA",
                notes="labels to photos; supernet 200+300"),
    PaperPreset("gc", "map2sat", "distill", 100, 200, 1, 128, "hinge", "gc-map2sat",
                teacher="mobile_resnet ngf 96", student="mobile_resnet ngf 48",
                distill_layers=_GC_LAYERS, direction="BtoA",
                notes="maps to photos; lambda_recon 10, lambda_distill 0.01; supernet 200+400"),
    # fine-tuning a searched subnet (GAN Compression's finetune.sh: train_supernet.py on one
    # --config_str), at the search budgets of its Fast scripts; CycleGAN's subnets are not
    # fine-tuned in the official scripts
    PaperPreset("gc", "edges2shoes-r", "finetune", 5, 15, 4, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 64", student="a subnet searched to 4.9G MACs",
                distill_layers=_GC_LAYERS, notes=_FINETUNE_D),
    PaperPreset("gc", "cityscapes", "finetune", 100, 150, 1, 128, "hinge", "pix2pix",
                teacher="mobile_resnet ngf 96", student="a subnet searched to 5.7G MACs",
                distill_layers=_GC_LAYERS, direction="BtoA", notes=_FINETUNE_D),
    PaperPreset("gc", "map2sat", "finetune", 100, 200, 1, 128, "hinge", "gc-map2sat",
                teacher="mobile_resnet ngf 96", student="a subnet searched to 4.6G MACs",
                distill_layers=_GC_LAYERS, direction="BtoA", notes=_FINETUNE_D),
    PaperPreset("cat", "horse2zebra", "student", 500, 500, 80, 64, "lsgan", "cat-cyclegan",
                teacher="inception ngf 64", student="one-step pruned to 2.6G MACs",
                distill_layers=_CAT_LAYERS, notes="batch 80 on 4 GPUs; teacher batch 32 on 8 GPUs"),
    PaperPreset("cat", "cityscapes", "student", 500, 750, 80, 128, "hinge", "cat-pix2pix",
                teacher="inception ngf 64, BatchNorm", student="one-step pruned to 5.6G MACs",
                distill_layers=_CAT_LAYERS, direction="BtoA", notes="BatchNorm with running statistics"),
    PaperPreset("cat", "map2sat", "student", 500, 1000, 80, 128, "hinge", "cat-map2sat",
                teacher="inception ngf 64", student="one-step pruned to 4.6G MACs",
                distill_layers=_CAT_LAYERS, direction="BtoA", notes="teacher trained with lambda_recon 10"),
    PaperPreset("omgd", "horse2zebra", "joint", 100, 100, 1, 64, "lsgan", "omgd-cyclegan",
                teacher="mobile_resnet ngf 64 (online)", student="mobile_resnet ngf 16",
                notes="student epochs = n_dis (4) x save_epoch_freq (10) per round"),
    PaperPreset("omgd", "edges2shoes-r", "joint", 100, 100, 4, 128, "hinge", "omgd-pix2pix",
                teacher="wide mobile_resnet ngf 64 and deep mobile_deepest_resnet ngf 16 (online)",
                student="mobile_resnet ngf 16",
                notes="n_dis 1; the teachers' discriminator shares its first 3 stages"),
    PaperPreset("crd", "horse2zebra", "joint", 100, 100, 1, 64, "lsgan", "crd-cyclegan",
                teacher="mobile_resnet ngf 64 (online)", student="mobile_resnet ngf 16"),
    PaperPreset("crd", "edges2shoes-r", "joint", 100, 100, 4, 128, "hinge", "crd-pix2pix",
                teacher="mobile_resnet ngf 64 (online)", student="mobile_resnet ngf 16",
                notes="n_dis 1"),
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


def schedule(preset: PaperPreset, n_items: int, batch_size: int | None = None) -> tuple[int, int]:
    """``(steps, decay_steps)`` of the preset's schedule on ``n_items`` training
    items at ``batch_size`` (default: the preset's): the learning rate is constant
    for ``epochs`` epochs and decays over the last ``epochs_decay``
    (:func:`~.loop.epoch_schedule`; CAT's batch 80 on Cityscapes' 2,975 images:
    38 steps per official epoch, 37 per epoch of the package's loop)."""
    from .loop import epoch_schedule

    return epoch_schedule(preset.epochs + preset.epochs_decay, preset.epochs_decay, n_items,
                          batch_size or preset.batch_size)


#: the stages each training verb's ``--paper-preset`` applies
VERB_STAGES = {"distill": ("distill", "student", "finetune"), "train-supernet": ("supernet",),
               "distill-online": ("joint",)}


def preset_student(preset: PaperPreset) -> tuple[str, int] | None:
    """``(architecture, width)`` of a preset's student when it names one
    (``"mobile_resnet ngf 48"``); ``None`` for a pruned student (CAT's), which
    is built by ``prune`` and passed as a file, or a supernet."""
    import re

    m = re.match(r"(mobile_resnet|resnet|inception) ngf (\d+)", preset.student)
    return (m[1], int(m[2])) if m else None


def preset_teachers(preset: PaperPreset) -> dict | None:
    """The online teacher(s) a preset names, as ``{"arch", "ngf", "deep_ngf"}``:
    ``"mobile_resnet ngf 64 (online)"`` gives one Mobile ResNet of width 64
    (``deep_ngf`` ``None``); OMGD's edges2shoes recipe, ``"wide mobile_resnet
    ngf 64 and deep mobile_deepest_resnet ngf 16 (online)"``, its wide teacher
    and the deep one's width.  ``None`` when the words name no single teacher."""
    import re

    t = preset.teacher.strip()
    if m := re.match(r"wide (\w+) ngf (\d+) and deep mobile_deepest_resnet ngf (\d+)", t):
        return {"arch": m[1], "ngf": int(m[2]), "deep_ngf": int(m[3])}
    if m := re.match(r"(mobile_resnet|resnet) ngf (\d+)", t):
        return {"arch": m[1], "ngf": int(m[2]), "deep_ngf": None}
    return None


def preset_space(preset: PaperPreset) -> str:
    """The search space a supernet preset trains (``"supernet channels-48"``:
    ``channels-48``)."""
    if not preset.student.startswith("supernet "):
        raise GancompError(f"{preset.paper}-{preset.task}-{preset.stage} trains no supernet")
    return preset.student.split()[1]


def preset_for(name: str, verb: str) -> PaperPreset:
    """The preset ``name``, checked to be one that ``verb`` trains
    (:data:`VERB_STAGES`): any other is one clear error naming the verb that
    trains it."""
    p = paper_preset(name)
    if p.stage not in VERB_STAGES[verb]:
        other = next((v for v, stages in VERB_STAGES.items() if p.stage in stages), "another verb")
        raise GancompError(f"{name} is a {p.stage} recipe: `{other}` trains it, not `{verb}`")
    return p


def steps_for(preset: PaperPreset, n_items: int) -> int:
    """The optimizer steps of the preset's whole schedule on ``n_items``
    training items: (epochs + decay epochs) x ceil(items / batch)."""
    if n_items < 1:
        raise GancompError(f"a dataset needs at least one item, got {n_items}")
    return (preset.epochs + preset.epochs_decay) * math.ceil(n_items / preset.batch_size)


#: training items per epoch of each preset's script (official code):
#: GAN Compression trains on its ``train1`` meta split (the ``train2`` split is held out
#: for the search): horse2zebra 947 A / 1214 B, edges2shoes-r 45,929, cityscapes 2,775,
#: maps 796; CAT, OMGD and CRD train on the whole train folder, which the two meta
#: splits partition: horse2zebra 1,067 A / 1,334 B, edges2shoes-r 47,977, cityscapes
#: 2,975, maps 1,096.  An unpaired epoch is as long as its larger domain.
EPOCH_ITEMS: dict[tuple[str, str], int] = {
    ("gc", "horse2zebra"): 1214, ("gc", "edges2shoes-r"): 45929, ("gc", "cityscapes"): 2775,
    ("gc", "map2sat"): 796,
    **{(p, "horse2zebra"): 1334 for p in ("cat", "omgd", "crd")},
    **{(p, "edges2shoes-r"): 47977 for p in ("omgd", "crd")},
    ("cat", "cityscapes"): 2975, ("cat", "map2sat"): 1096,
}
#: stages whose script reads another split: GAN Compression's fine-tunes pass no meta file,
#: so they train on the whole train folder
STAGE_EPOCH_ITEMS: dict[tuple[str, str, str], int] = {
    ("gc", "edges2shoes-r", "finetune"): 47977, ("gc", "cityscapes", "finetune"): 2975,
    ("gc", "map2sat", "finetune"): 1096,
}


def epoch_items(preset: PaperPreset) -> int:
    """Training items per epoch of ``preset``'s official script (:data:`EPOCH_ITEMS`,
    :data:`STAGE_EPOCH_ITEMS`)."""
    return STAGE_EPOCH_ITEMS.get((preset.paper, preset.task, preset.stage),
                                 EPOCH_ITEMS[preset.paper, preset.task])

#: the sustained throughput the GPU-hour estimates assume: an assumption, not a measurement
#: (these networks' small convolutions run far below a GPU's peak); replace it by a
#: measured rate once a run has been timed
ASSUMED_TFLOPS = 20.0
UNPAIRED_TASKS = ("horse2zebra", "summer2winter")


@functools.lru_cache(maxsize=None)
def network_gmacs(description: str, size: int = 256) -> float:
    """Forward GMACs (``in-excluded`` convention) of one network a preset names in
    words: ``"<arch> ngf N"``, ``"ngf N"`` (a ResNet), ``"supernet channels-N"`` (its
    largest subnet, a Mobile ResNet of width N), ``"one-step pruned to XG MACs"`` or
    ``"a subnet searched to XG MACs"`` (a target at 256x256, scaled with the pixels), or
    OMGD's ``"wide <arch> ngf A and deep <arch> ngf B"`` (both teachers).  Any other wording is an error."""
    import re

    from ..metrics.cost import profile_macs
    from ..models import build_generator

    def of(arch, ngf):
        return profile_macs(build_generator(arch, ngf=ngf), size) / 1e9

    d = description.strip()
    if m := re.match(r"(mobile_deepest_resnet|mobile_resnet|resnet|inception) ngf (\d+)", d):
        return of(m[1], int(m[2]))
    if m := re.match(r"ngf (\d+)", d):
        return of("resnet", int(m[1]))
    if m := re.match(r"supernet channels-(\d+)", d):
        return of("mobile_resnet", int(m[1]))
    if m := re.search(r"(?:pruned|searched) to ([\d.]+)G MACs", d):   # the papers' targets: 256x256
        return float(m[1]) * (size / 256) ** 2
    if m := re.match(r"wide (\w+) ngf (\d+) and deep (\w+) ngf (\d+)", d):
        return of(m[1], int(m[2])) + of(m[3], int(m[4]))
    raise GancompError(f"cannot read a network from {description!r}")


@functools.lru_cache(maxsize=None)
def _discriminator_gmacs(channels: int, ndf: int, size: int) -> float:
    from ..metrics.cost import profile_macs
    from ..models.discriminator import NLayerDiscriminator

    return profile_macs(NLayerDiscriminator(channels, ndf), size, in_channels=channels) / 1e9


def training_estimate(preset: PaperPreset, size: int = 256) -> dict:
    """What one run of ``preset`` costs, estimated from MACs: the optimizer steps of its
    schedule on the official training set (:data:`EPOCH_ITEMS`), the forward GMACs of
    its networks, and the GPU hours at :data:`ASSUMED_TFLOPS`.

    Per training image: the student's forward and backward (3x its forward MACs), the
    discriminator on the real and the fake image for its update and on the fake image
    for the student's (3 forward+backward passes, 9x), and the frozen teacher's forward
    (1x); an online teacher (``joint``) trains too (3x), and OMGD's second, deep
    teacher has the discriminator's three passes of its own (9x more).  A supernet is
    counted at its largest subnet (an upper bound).  One MAC is two FLOPs."""
    items = epoch_items(preset)
    steps = steps_for(preset, items)
    teacher = network_gmacs(preset.teacher, size)
    student = network_gmacs(preset.student, size)
    channels = 3 if preset.task in UNPAIRED_TASKS else 6
    D = _discriminator_gmacs(channels, preset.ndf, size)
    deep = (preset_teachers(preset) or {}).get("deep_ngf") is not None
    per_image = (3 * student + (18 if deep else 9) * D
                 + (3 if preset.stage == "joint" else 1) * teacher)
    images = steps * preset.batch_size
    pflops = 2 * per_image * images / 1e6
    return {"preset": f"{preset.paper}-{preset.task}-{preset.stage}", "epoch_items": items,
            "epochs": preset.epochs + preset.epochs_decay, "batch_size": preset.batch_size,
            "steps": steps, "teacher_gmacs": teacher, "student_gmacs": student, "d_gmacs": D,
            "train_gmacs_per_image": per_image, "pflop": pflops,
            "gpu_hours": pflops * 1e15 / (ASSUMED_TFLOPS * 1e12) / 3600,
            "assumed_tflops": ASSUMED_TFLOPS, "convention": "in-excluded"}
