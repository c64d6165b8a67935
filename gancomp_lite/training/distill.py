"""GAN Compression's distiller: train a small student from a frozen teacher.

:class:`DistillObjective` is an :class:`~.objectives.Objective` for the one
training loop (:class:`~.loop.Trainer`).  Per step:

1. the teacher ``G'`` runs on the input ``x`` in eval mode without gradients
   (an input it has already seen is taken from a :class:`TeacherCache`);
   the student ``G`` runs on ``x``; forward hooks collect both networks'
   activations at the distilled layers (:func:`~gancomp_lite.models.hooks.capture_features`);
2. the discriminator is updated on real targets against the student's fakes;
3. the student (and the distillation loss's own parameters, the 1x1
   mappings) is updated on (GAN Compression, eq. 4)::

       L = lambda_gan L_GAN + lambda_recon L_recon + lambda_distill L_distill

   * paired tasks: ``L_recon = |G(x) - y|`` with the real target ``y`` and a
     conditional discriminator ``D(x, .)``;
   * unpaired tasks (**pseudo-pairs**): ``L_recon = |G(x) - G'(x)|``, the
     teacher's output as the target; ``D`` judges student fakes against real
     B images.  Only the A->B generator is compressed; no cycle loss.

The discriminator is either *inherited* (a copy of the teacher's, then
trained on) or freshly initialised; the student starts from random weights or
from the teacher's largest-L1 filters (:func:`~gancomp_lite.compression.prune.l1_select`).
:data:`PRESETS` holds the papers' loss weights per objective.

Extension points for later chapters: ``distill_loss`` takes any name of
:data:`~gancomp_lite.losses.distill.DISTILL_LOSSES` (or a ready
:class:`~gancomp_lite.losses.distill.FeatureDistillLoss`), and every term is
an ordinary ``add_term`` (CRD's relation losses are more terms on ``ctx``,
whose keys are listed in :meth:`DistillObjective.forward_step`).

Explained in chapters ``nb/05_pseudo_pairs`` and ``nb/06_distillation``.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError
from ..losses.distill import FeatureDistillLoss, build_distill_loss
from ..losses.gan import GANLoss
from ..models import NLayerDiscriminator, build_generator
from ..models.hooks import capture_features, feature_shapes
from .objectives import Context, Objective

#: the papers' loss weights.  ``cyclegan`` and ``pix2pix``: GAN Compression
#: (Table 5 and the official scripts), the defaults of an unpaired and a paired
#: task.  ``cat-*``: CAT's distillation scripts (KA loss): horse2zebra
#: (lsgan, lambda_recon 5, lambda_distill 1), pix2pix cityscapes (lambda_distill
#: 0.5) and map2sat (lambda_distill 1.3); CAT's pix2pix scripts keep the
#: default lambda_recon 100 and GAN loss of the pix2pix code base they build on.
#: ``gc-map2sat``: GAN Compression's map2sat distillation script, which sets
#: lambda_recon 10 and lambda_distill 0.01 over the pix2pix defaults.
PRESETS: dict[str, dict] = {
    "cyclegan": dict(gan_mode="lsgan", lambda_recon=10.0, lambda_distill=0.01, lambda_gan=1.0),
    "pix2pix": dict(gan_mode="hinge", lambda_recon=100.0, lambda_distill=1.0, lambda_gan=1.0),
    "cat-cyclegan": dict(gan_mode="lsgan", lambda_recon=5.0, lambda_distill=1.0, lambda_gan=1.0),
    "cat-pix2pix": dict(gan_mode="hinge", lambda_recon=100.0, lambda_distill=0.5, lambda_gan=1.0),
    "cat-map2sat": dict(gan_mode="hinge", lambda_recon=100.0, lambda_distill=1.3, lambda_gan=1.0),
    "gc-map2sat": dict(gan_mode="hinge", lambda_recon=10.0, lambda_distill=0.01, lambda_gan=1.0),
}

#: the objective each preset is written for (a paired preset on an unpaired task is an error)
PRESET_OBJECTIVE = {"cyclegan": "cyclegan", "pix2pix": "pix2pix", "cat-cyclegan": "cyclegan",
                    "cat-pix2pix": "pix2pix", "cat-map2sat": "pix2pix", "gc-map2sat": "pix2pix"}


def default_layers(net: nn.Module) -> tuple[str, ...]:
    """The layers a generator is distilled at (its ``DISTILL_LAYERS``)."""
    layers = getattr(type(net), "DISTILL_LAYERS", None)
    if not layers:
        raise GancompError(f"{type(net).__name__} names no default distillation layers: "
                           f"pass distill_layers explicitly")
    return tuple(layers)


class TeacherCache:
    """A frozen teacher's output and hooked activations, by input content.

    The teacher of :class:`DistillObjective` never changes and runs in eval
    mode, where every sample's output depends on that sample alone (the
    generators' norms are per-sample InstanceNorm).  So an input seen before
    gives the same result again, and at the ``ci`` scale, whose synthetic
    items repeat exactly every epoch, the distiller takes it from here instead
    of running the teacher again.  Keys are a BLAKE2 digest of the sample's
    bytes, shape and dtype: a different crop or flip is a different key.
    Entries are added until ``budget_mb`` MiB are used, then only read.
    """

    def __init__(self, budget_mb: float):
        if budget_mb < 0:
            raise GancompError(f"teacher cache budget must be >= 0 MiB, got {budget_mb}")
        self.budget = int(budget_mb * 2**20)
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._entries: dict[bytes, tuple[torch.Tensor, dict[str, torch.Tensor]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(sample: torch.Tensor) -> bytes:
        data = sample.detach().contiguous().cpu()
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{tuple(data.shape)}|{data.dtype}".encode())
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
        return h.digest()

    def __call__(self, teacher: nn.Module, layers: Sequence[str], x: torch.Tensor):
        """``teacher(x)`` and its activations at ``layers`` (a dict), running
        the teacher only on the samples of ``x`` not cached."""
        if not self.budget:
            with capture_features(teacher, layers) as feats:
                out = teacher(x)
            self.misses += len(x)
            return out, dict(feats)
        keys = [self.key(sample) for sample in x]
        missing = [i for i, k in enumerate(keys) if k not in self._entries]
        fresh = {}
        if missing:
            with capture_features(teacher, layers) as feats:
                out = teacher(x[missing])
            for j, i in enumerate(missing):
                entry = (out[j].clone(), {n: feats[n][j].clone() for n in layers})
                fresh[keys[i]] = entry
                size = entry[0].nbytes + sum(t.nbytes for t in entry[1].values())
                if keys[i] not in self._entries and self.used + size <= self.budget:
                    self._entries[keys[i]] = entry
                    self.used += size
        self.misses += len(missing)
        self.hits += len(x) - len(missing)
        rows = [fresh.get(k) or self._entries[k] for k in keys]
        dev = x.device  # entries stay where they were made; the objective may have moved since
        return (torch.stack([r[0].to(dev) for r in rows]),
                {n: torch.stack([r[1][n].to(dev) for r in rows]) for n in layers})

    def stats(self) -> dict:
        """Hits, misses, entries and MiB used."""
        return {"hits": self.hits, "misses": self.misses, "entries": len(self),
                "mib": self.used / 2**20}


class DistillObjective(Objective):
    """Student ``netG``, frozen ``teacher``, discriminator ``netD``.

    Args:
        teacher, student: generators; the objective keeps a frozen *copy* of
            the teacher, so the caller's teacher is never moved, changed or
            unfrozen (the student is the network being trained).
        netD: the discriminator (already inherited or fresh; see
            :func:`distill_objective`), or ``None`` for no GAN term.
        paired: reconstruct the real target (paired) or the teacher's
            output (unpaired: pseudo-pairs).
        distill_layers: layer names hooked in both networks; ``()`` turns
            feature distillation off.
        distill_loss: a name of ``DISTILL_LOSSES`` or a loss instance.
        image_size: used for the dry run that reads the layers' channels.
        teacher_cache_mb: memory for a :class:`TeacherCache` (``0``: the
            teacher runs on every batch; the result is the same either way).
    """

    update_order = ("D", "G")

    def __init__(self, teacher: nn.Module, student: nn.Module, netD: nn.Module | None,
                 paired: bool, gan_mode: str = "hinge", lambda_recon: float = 100.0,
                 lambda_distill: float = 1.0, lambda_gan: float = 1.0,
                 distill_layers: Sequence[str] | None = None,
                 distill_loss: str | FeatureDistillLoss = "mse", image_size: int = 32,
                 teacher_cache_mb: float = 0):
        super().__init__()
        # a private copy: moving, freezing or training this objective never
        # touches the caller's teacher (the chapters keep using theirs)
        self.add_module("teacher", self.frozen(copy.deepcopy(teacher).float()))
        self.add_to_group("G", "netG", student)
        self.paired = paired
        self.teacher_cache = TeacherCache(teacher_cache_mb)
        self.gan = GANLoss(gan_mode)
        layers = default_layers(student) if distill_layers is None else tuple(distill_layers)
        self.distill_layers = layers
        self.hparams = dict(paired=paired, gan_mode=gan_mode, lambda_recon=lambda_recon,
                            lambda_distill=lambda_distill, lambda_gan=lambda_gan,
                            distill_layers=list(layers))
        if netD is not None:
            self.add_to_group("D", "netD", netD)
            self.add_term("D", "gan", 1.0, self._d_loss)
            self.add_term("G", "gan", lambda_gan, self._g_gan)
        self.add_term("G", "recon", lambda_recon,
                      lambda c: F.l1_loss(c["fake_B"], c["real_B"] if paired else c["teacher_B"]))
        if layers:
            if isinstance(distill_loss, str):
                s_shapes = feature_shapes(student, layers, image_size)
                t_shapes = feature_shapes(self.teacher, layers, image_size)
                channels = [(s_shapes[n][0], t_shapes[n][0]) for n in layers]
                distill_loss = build_distill_loss(distill_loss, channels)
            self.hparams["distill_loss"] = type(distill_loss).__name__
            self.add_to_group("G", "distill_loss", distill_loss)
            self.add_term("G", "distill", lambda_distill, lambda c: self.distill_loss(
                [c["student_feats"][n] for n in layers], [c["teacher_feats"][n] for n in layers]))

    def train(self, mode: bool = True):
        """Train mode for everything but the teacher, which stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward_step(self, batch: dict) -> Context:
        """The step context: ``real_A``, ``real_B``, the student's ``fake_B``,
        the teacher's ``teacher_B`` and both networks' hooked activations
        (``student_feats``, ``teacher_feats``: dicts by layer name)."""
        real_A, real_B = batch["A"], batch["B"]
        with torch.no_grad():
            teacher_B, t_feats = self.teacher_cache(self.teacher, self.distill_layers, real_A)
        with capture_features(self.netG, self.distill_layers) as s_feats:
            fake_B = self.netG(real_A)
        return {"real_A": real_A, "real_B": real_B, "fake_B": fake_B, "teacher_B": teacher_B,
                "student_feats": s_feats, "teacher_feats": t_feats}

    def _judge(self, ctx: Context, image: torch.Tensor) -> torch.Tensor:
        return self.netD(torch.cat([ctx["real_A"], image], 1) if self.paired else image)

    def _d_loss(self, ctx: Context) -> torch.Tensor:
        return self.gan.discriminator_loss(self._judge(ctx, ctx["real_B"]),
                                           self._judge(ctx, ctx["fake_B"].detach()))

    def _g_gan(self, ctx: Context) -> torch.Tensor:
        return self.gan.generator_loss(self._judge(ctx, ctx["fake_B"]))

    def translator(self):
        return self.netG, getattr(self, "netD", None)


# -- building a student setup -------------------------------------------------

MODES = ("paired", "pseudo-pairs", "unpaired")
INITS = ("random", "l1")


@dataclass
class StudentRecipe:
    """Everything that defines one student run (stored beside its checkpoint)."""

    task: str
    student: str = "resnet"
    ngf: int = 8
    mode: str = "paired"             # paired | pseudo-pairs | unpaired
    init: str = "random"             # random | l1
    inherit_d: bool = True
    distill_layers: list[str] | None = None   # None: the student's defaults; []: off
    distill_loss: str = "mse"
    gan_mode: str | None = None      # None: the preset's
    lambda_recon: float | None = None
    lambda_distill: float | None = None
    ndf: int | None = None           # fresh D width; None: the teacher D's
    image_size: int = 64
    #: a network written by ``gancomp-lite prune`` to start from (its architecture;
    #: its weights too if the pruning kept the teacher's): overrides student/ngf
    student_file: str | None = None
    #: a name of :data:`PRESETS` for the loss weights (None: GAN Compression's
    #: preset of the mode; ``cat-pix2pix``/``cat-cyclegan``: CAT's scripts)
    loss_preset: str | None = None
    #: the deployment-friendly student (chapter 10): BatchNorm instead of the teacher's
    #: norm and zero padding instead of reflect, so every norm folds into its convolution
    #: at export.  A deviation from the papers' networks.
    deploy_friendly: bool = False

    def as_dict(self) -> dict:
        d = asdict(self)
        for key in ("student_file", "loss_preset"):
            if d[key] is None:   # recorded only when used: earlier manifests stay valid
                del d[key]
        if not d["deploy_friendly"]:
            del d["deploy_friendly"]
        return d

    def preset(self) -> str:
        """The name of the :data:`PRESETS` entry whose weights the run uses."""
        return self.loss_preset or ("pix2pix" if self.mode == "paired" else "cyclegan")

    def weights(self) -> dict:
        """The loss weights used: the preset's, overridden where given."""
        w = dict(PRESETS[self.preset()])
        for key in ("gan_mode", "lambda_recon", "lambda_distill"):
            if getattr(self, key) is not None:
                w[key] = getattr(self, key)
        return w


def _check_recipe(r: StudentRecipe, paired_task: bool) -> None:
    if r.mode not in MODES:
        raise GancompError(f"unknown mode {r.mode!r}: expected one of {', '.join(MODES)}")
    if r.init not in INITS:
        raise GancompError(f"unknown init {r.init!r}: expected one of {', '.join(INITS)}")
    if paired_task != (r.mode == "paired"):
        want = "paired" if paired_task else "pseudo-pairs or unpaired"
        raise GancompError(f"task {r.task!r} is {'paired' if paired_task else 'unpaired'}: "
                           f"use mode {want}, not {r.mode!r}")
    if r.mode == "unpaired" and r.distill_layers:
        raise GancompError("the unpaired (CycleGAN) baseline has no teacher in its objective: "
                           "feature distillation needs pseudo-pairs")
    if r.deploy_friendly and r.student_file:
        raise GancompError("a pruned start (--student-from) fixes the student's norms and padding: "
                           "it cannot also be made deployment-friendly")
    if r.deploy_friendly and r.init == "l1":
        raise GancompError("L1 initialisation copies filters from a teacher of the same layout: a "
                           "deployment-friendly student (BatchNorm, zero padding) has another")
    if r.loss_preset is not None:
        if r.loss_preset not in PRESETS:
            raise GancompError(f"unknown loss preset {r.loss_preset!r}: expected one of "
                               f"{', '.join(PRESETS)}")
        want = "pix2pix" if r.mode == "paired" else "cyclegan"
        if PRESET_OBJECTIVE[r.loss_preset] != want:
            raise GancompError(f"loss preset {r.loss_preset!r} is written for {PRESET_OBJECTIVE[r.loss_preset]} "
                               f"training; mode {r.mode!r} needs a {want} preset")


def distill_objective(recipe: StudentRecipe, teacher: nn.Module,
                      teacher_D: nn.Module | None, teacher_cache_mb: float | None = None) -> Objective:
    """The objective of ``recipe`` with a fresh student.

    ``teacher_cache_mb``: see :class:`TeacherCache` (default: the scale's
    ``teacher_cache_mb``).

    ``teacher`` and ``teacher_D`` are copied, never changed.  In ``unpaired``
    mode the student is trained the original way, a CycleGAN of two students
    and two discriminators (the baseline of GAN Compression's Fig. 7a): its
    A->B student and A->B discriminator are initialised like the distiller's,
    the B->A pair is fresh, ``lambda_recon`` weights the cycle loss, and there
    is no feature distillation (``distill_layers`` must be ``None`` or empty).
    """
    from ..config import get_scale
    from ..data import WORLDS
    from .objectives import CycleGANObjective

    paired_task = WORLDS[recipe.task].aligned if recipe.task in WORLDS else recipe.mode == "paired"
    _check_recipe(recipe, paired_task)
    w = recipe.weights()
    arch = recipe.student

    def student():
        if recipe.student_file:
            return _pruned_start(recipe.student_file)
        friendly = {"norm": teacher.config.get("norm")}
        if recipe.deploy_friendly:    # the U-Net pads with zeros already
            friendly = {"norm": "batch", **({} if arch == "unet" else {"padding_type": "zero"})}
        return build_generator(arch, ngf=recipe.ngf, input_nc=teacher.config.get("input_nc", 3),
                               output_nc=teacher.config.get("output_nc", 3), **friendly)

    G = student()
    if recipe.init == "l1":
        from ..compression.prune import l1_select
        l1_select(G, teacher)

    def discriminator(like: nn.Module | None, inherit: bool) -> nn.Module:
        if inherit:
            if like is None:
                raise GancompError("inheriting the discriminator needs the teacher's "
                                   "discriminator (load the teacher with discriminator=True)")
            return copy.deepcopy(like).float().train().requires_grad_(True)
        if like is not None:
            in_nc = like.config["input_nc"]
        else:
            out_nc = teacher.config.get("output_nc", 3)
            in_nc = out_nc + (teacher.config.get("input_nc", 3) if recipe.mode == "paired" else 0)
        ndf = recipe.ndf or (like.config["ndf"] if like is not None else 64)
        return NLayerDiscriminator(in_nc, ndf=ndf)

    D = discriminator(teacher_D, recipe.inherit_d)
    if recipe.mode == "unpaired":
        D_B = discriminator(teacher_D, False)
        return CycleGANObjective(G, student(), D, D_B, gan_mode=w["gan_mode"],
                                 lambda_cycle=w["lambda_recon"])
    layers = recipe.distill_layers
    return DistillObjective(teacher, G, D, paired=recipe.mode == "paired",
                            gan_mode=w["gan_mode"], lambda_recon=w["lambda_recon"],
                            lambda_distill=w["lambda_distill"], lambda_gan=w.get("lambda_gan", 1.0),
                            distill_layers=None if layers is None else tuple(layers),
                            distill_loss=recipe.distill_loss, image_size=recipe.image_size,
                            teacher_cache_mb=(get_scale().teacher_cache_mb if teacher_cache_mb is None
                                              else teacher_cache_mb))


def _pruned_start(path: str | Path) -> nn.Module:
    """The student a ``gancomp-lite prune`` file describes: its weights if the pruning
    inherited the teacher's, else the same architecture freshly initialised from the
    run's seed (as CAT's released code re-initialises the pruned network)."""
    from ..models import describe, from_config
    from .checkpoint import load_pruned

    G, inherited = load_pruned(path)
    return G.train() if inherited else from_config(describe(G))


def student_trainer(recipe: StudentRecipe, teacher: nn.Module, teacher_D: nn.Module | None,
                    data, steps: int, batch_size: int = 1, seed: int = 0, device=None,
                    progress: bool = True, amp: str | None = None, channels_last: bool = False,
                    decay_steps: int | None = None):
    """A :class:`~.loop.Trainer` for ``recipe`` on ``data``, seeded before
    the student is built (so the seed fixes its random initialisation too);
    ``amp``: the trainer's mixed precision (``bf16``/``fp16``, default float32);
    ``channels_last``: its memory format; ``decay_steps``: the steps of linear
    decay at the end (default: half the run)."""
    from ..config import seed_everything
    from .loop import Trainer

    seed_everything(seed)
    objective = distill_objective(recipe, teacher, teacher_D)
    return Trainer(objective, data, steps, batch_size=batch_size, seed=seed, device=device,
                   progress=progress, amp=amp, channels_last=channels_last, decay_steps=decay_steps)


def run_discriminator(run: str | Path, like: nn.Module) -> nn.Module:
    """The discriminator a training run ended with (its folder or its
    ``checkpoint.pt``), as a copy of ``like`` (the teacher's, same
    architecture) holding the run's weights; ``like`` is not changed.

    GAN Compression's ``finetune.sh`` starts the fine-tune of a searched subnet
    from the supernet run's discriminator (``--restore_D_path``), not the
    teacher's: ``distill --discriminator-from SUPERNET_RUN`` does the same.
    A file that is not a training checkpoint, a run without a discriminator,
    or one of another architecture is one :class:`CheckpointError`
    (:func:`~gancomp_lite.shipped.load_into` names the first mismatches)."""
    from ..errors import CheckpointError
    from ..shipped import load_into, read_torch_file
    from .loop import CHECKPOINT_FORMAT

    path = Path(run)
    path = path / "checkpoint.pt" if path.is_dir() else path
    state = read_torch_file(path, weights_only=False)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a gancomp-lite training checkpoint: pass the folder "
                              f"of a train-supernet (or distill) run")
    weights = {k[len("netD."):]: v for k, v in state["objective"].items() if k.startswith("netD.")}
    if not weights:
        raise CheckpointError(f"{path} holds no discriminator (netD): its run trained none")
    return load_into(copy.deepcopy(like).float(), weights,
                     f"{path}'s discriminator (the teacher's architecture)")


def distill(recipe: StudentRecipe, teacher_path: str | Path | None, out: str | Path | None,
            steps: int | None, batch_size: int = 1, seed: int = 0, n_train: int = 1000,
            device=None, progress: bool = True, evaluate_n: int | bool = True,
            data: str | Path | None = None, command: str | None = None,
            amp: str | None = None, channels_last: bool = False, direction: str = "AtoB",
            epochs: tuple[int, int] | None = None, paper_preset: str | None = None,
            discriminator_from: str | Path | None = None):
    """Train one student of ``recipe`` for ``steps`` steps, or, with ``epochs``
    ``(total, decaying)`` and ``steps=None``, for that many epochs of the training
    set, the last ones decaying (:func:`~.loop.epoch_schedule`); with explicit
    ``steps`` the epochs give only the decay's share.  ``paper_preset``: the name
    of the paper preset the caller took them from, recorded
    (``gancomp-lite distill --paper-preset``).

    ``teacher_path``: a shipped teacher file (default: the task's shipped
    teacher at the current scale).  With ``out``, the run writes
    ``out/checkpoint.pt``, ``out/recipe.json`` (recipe, command settings,
    code version) and, if ``evaluate_n`` (``True``: the scale's ``n_test``
    images; a number: that many; ``False``: none), ``out/metrics.json`` (test-split
    quality and the student's cost).  ``data``: a real dataset folder
    (needed at the ``full`` scale) instead of the synthetic task.
    ``command``: the command line that started the run, recorded for
    :func:`export_student`.  ``amp``, ``channels_last``: the trainer's mixed
    precision and memory format; ``direction``: how a paired ``data`` folder
    is read (recorded when BtoA).  Under ``torchrun`` the run is data-parallel
    (:mod:`.parallel`): ``batch_size`` is the global batch and rank 0 writes
    the files and evaluates.  ``discriminator_from``: a run whose
    discriminator the inherited one starts from instead of the teacher's
    (:func:`run_discriminator`; recorded).  Returns the trainer.
    """
    from ..config import get_scale
    from ..metrics.cost import count_params, profile_macs
    from ..metrics.quality import evaluate
    from ..provenance import code_version
    from .checkpoint import load_teacher_file, require_teacher_file, teacher_path as shipped_path
    from .loop import run_folder
    from .parallel import is_main
    from .teachers import task_data

    from ..shipped import read_manifest

    for what, value in (("steps", steps or 1), ("batch_size", batch_size), ("n_train", n_train)):
        if value < 1:
            raise GancompError(f"{what} must be a positive number, got {value}")
    ckpt = Path(out) / "checkpoint.pt" if out is not None else None
    if ckpt is not None and ckpt.exists():
        raise GancompError(f"{ckpt} exists: choose another output folder")
    scale = get_scale()
    path = Path(teacher_path) if teacher_path else shipped_path(recipe.task, scale.name)
    require_teacher_file(path, recipe.task, scale.name)
    teacher, teacher_D = load_teacher_file(path, discriminator=True)
    taught = read_manifest(path).get("task")
    if taught != recipe.task:
        raise GancompError(f"{path} is the teacher of {taught!r}, not of {recipe.task!r}: "
                           f"pass that task's teacher (--teacher)")
    if discriminator_from is not None:
        if not recipe.inherit_d:
            raise GancompError("--discriminator-from gives the discriminator a student inherits: "
                               "it cannot go with a fresh one (--fresh-d)")
        teacher_D = run_discriminator(discriminator_from, teacher_D)
    train_set = task_data(recipe.task, scale.name, recipe.image_size, n_train, 0, data, direction)
    from .loop import run_schedule, schedule_record

    steps, decay_steps = run_schedule(steps, epochs, len(train_set), batch_size)
    trainer = student_trainer(recipe, teacher, teacher_D, train_set, steps, batch_size, seed,
                              device=device, progress=progress, amp=amp,
                              channels_last=channels_last, decay_steps=decay_steps)
    objective = trainer.objective
    if out is None:
        trainer.fit()
        return trainer
    out = Path(out)
    with run_folder(out):
        if is_main():
            (out / "recipe.json").write_text(json.dumps(
                {"recipe": recipe.as_dict(), "teacher": str(path),
                 "data": str(data or f"synthetic:{recipe.task}"), "steps": steps,
                 "batch_size": batch_size, "seed": seed, "n_train": n_train,
                 "weights": recipe.weights(), "code_version": code_version(),
                 "command": command,
                 **trainer.recorded_options(),
                 **({"direction": direction} if direction != "AtoB" else {}),
                 **({"discriminator_from": str(discriminator_from)} if discriminator_from else {}),
                 **schedule_record(paper_preset, epochs, decay_steps)},
                indent=2) + "\n")
        trainer.fit(checkpoint=ckpt)
    if not is_main():      # rank 0 evaluates and writes the metrics
        return trainer
    if evaluate_n is True:
        evaluate_n = scale.n_test
    if evaluate_n and data is None:  # real data: `gancomp-lite evaluate`
        G = objective.translator()[0].cpu().eval()
        with torch.no_grad():
            q = evaluate(G, recipe.task, n=evaluate_n, size=recipe.image_size, seed=0,
                         baselines=False)
        metrics = {"eval_split": f"test, seed 0, n={evaluate_n}",
                   "gmacs": profile_macs(G, recipe.image_size) / 1e9,
                   "mparams": count_params(G) / 1e6, **q}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return trainer


def export_student(run_dir: str | Path, name: str, out_dir: str | Path | None = None,
                   n_eval: int = 64, allow_dirty: bool = False, command: str | None = None,
                   force: bool = False, features: str | None = None) -> dict:
    """Ship the student trained by :func:`distill` in ``run_dir`` as ``out_dir/NAME.pt``.

    Writes the A->B generator in half precision and a manifest beside it
    with the sha256, the commands that re-create it (the recorded ``distill``
    command and ``command``, this export's command line, assembled when not
    given), the seed, the code version that trained it, the teacher it
    learnt from (with the teacher file's sha256) and the metrics of the
    *shipped* weights on the task's test split.  Raises
    :class:`~gancomp_lite.provenance.DirtyTreeError` when the package tree
    now, or the code that trained the run, has uncommitted changes, unless
    ``allow_dirty`` (recorded in the manifest).  ``name`` must be a plain file
    name; an existing file is an :class:`~gancomp_lite.errors.OutputExistsError`
    unless ``force``; if anything fails, nothing is written.  A run on a real
    folder is scored on that folder's test split (``features``: default
    Inception; :func:`~.teachers.score_shipped`).  Returns the manifest.
    """
    from ..errors import CheckpointError
    from ..models import from_config
    from ..provenance import require_clean, require_clean_run
    from ..shipped import (check_name, load_into, read_torch_file, refuse_existing, staged,
                           write_manifest, write_shipped)
    from .checkpoint import STUDENTS_DIR, load_student_file, student_payload

    check_name(name, "student name")
    run_dir = Path(run_dir)
    if not (run_dir / "recipe.json").exists():
        raise GancompError(f"{run_dir} has no recipe.json: is it a folder written by "
                           f"`gancomp-lite distill`?")
    from .teachers import read_run_record, run_data, score_shipped

    info = read_run_record(run_dir)
    if "teacher" not in info:
        raise GancompError(f"{run_dir} is a teacher run (written by `gancomp-lite train`): "
                           f"ship it with `gancomp-lite export-teacher`")
    export_version = require_clean(allow_dirty, what="export a student")
    require_clean_run(info.get("code_version"), run_dir, allow_dirty, what="export a student")
    recipe = StudentRecipe(**info["recipe"])
    state = read_torch_file(run_dir / "checkpoint.pt", weights_only=False)
    if not isinstance(state, dict) or "networks" not in state or "step" not in state:
        raise CheckpointError(f"{run_dir / 'checkpoint.pt'} is not a training checkpoint")
    if state["step"] < info["steps"]:
        raise GancompError(f"{run_dir} stopped at step {state['step']} of {info['steps']}")
    key = "G_A" if recipe.mode == "unpaired" else "netG"
    prefix = key + "."
    G = load_into(from_config(state["networks"][key]),
                  {k[len(prefix):]: v for k, v in state["objective"].items() if k.startswith(prefix)},
                  str(run_dir / "checkpoint.pt"))
    out_dir = Path(out_dir) if out_dir else STUDENTS_DIR
    path = out_dir / f"{name}.pt"
    refuse_existing([path, path.with_suffix(".json")], force)
    objective = "CycleGANObjective" if recipe.mode == "unpaired" else "DistillObjective"
    with staged(path, force) as tmp:
        write_shipped(student_payload(G, objective), tmp, {}, name=path.name)
        shipped = load_student_file(tmp)
        folder, direction = run_data(info)
        with torch.no_grad():
            q = score_shipped(shipped, recipe.task, recipe.image_size, n_eval, folder, direction,
                              features, baselines=False)
        manifest = _student_manifest(recipe, info, run_dir, name, out_dir, n_eval, command,
                                     export_version, allow_dirty, shipped, q)
        manifest = write_manifest(tmp, manifest, name=path.name)
    return manifest


def _student_manifest(recipe, info, run_dir, name, out_dir, n_eval, command, export_version,
                      allow_dirty, shipped, q) -> dict:
    from ..metrics.cost import count_params, profile_macs
    from ..paths import REPO_ROOT
    from ..shipped import read_manifest

    teacher = Path(info["teacher"])
    shown_out = (out_dir.resolve().relative_to(REPO_ROOT) if out_dir.resolve().is_relative_to(REPO_ROOT)
                 else out_dir)
    manifest = {
        "kind": f"{recipe.mode} student", "task": recipe.task, "recipe": recipe.as_dict(),
        "weights": info["weights"], "steps": info["steps"], "batch_size": info["batch_size"],
        "seed": info["seed"], "n_train": info["n_train"], "data": info.get("data"),
        "teacher": {"file": teacher.name, "sha256": read_manifest(teacher)["sha256"]
                    if teacher.with_suffix(".json").exists() else None},
        "commands": [info.get("command") or "(not recorded)",
                     command or (f"gancomp-lite export-student {run_dir.as_posix()} --name {name} "
                                 f"--out {shown_out.as_posix()} --n {n_eval}"
                                 + (" --allow-dirty" if allow_dirty else ""))],
        "command_recorded": bool(info.get("command")),
        "code_version": info["code_version"],
        "export_code_version": export_version, "allow_dirty": allow_dirty,
        "metrics": {"gmacs_256": profile_macs(shipped, 256) / 1e9,
                    "mparams": count_params(shipped) / 1e6, **{k: v for k, v in q.items() if k != "n"}},
    }
    return manifest


def load_or_train_student(name: str, recipe: StudentRecipe, teacher: nn.Module,
                          teacher_D: nn.Module | None, steps: int, batch_size: int = 1,
                          seed: int = 0, scale=None, device=None, progress: bool = True) -> nn.Module:
    """The shipped student ``data/students/NAME-SCALE.pt`` if there is one, else train it now.

    A shipped student must have been trained with exactly ``recipe``,
    ``steps``, ``batch_size``, ``seed`` and the scale's number of training
    images (its manifest says); anything else
    is a :class:`~gancomp_lite.errors.CheckpointError`, never a silent
    substitute.  Training uses the scale's training set and returns the A->B
    generator in eval mode.
    """
    from ..config import Scale, get_scale
    from ..errors import CheckpointError
    from .checkpoint import STUDENTS_DIR, load_student, read_manifest
    from .teachers import task_data

    scale = scale if isinstance(scale, Scale) else get_scale(scale)
    path = STUDENTS_DIR / f"{name}-{scale.name}.pt"
    if path.exists():
        m = read_manifest(path)
        want = {"recipe": recipe.as_dict(), "steps": steps, "batch_size": batch_size, "seed": seed,
                "n_train": scale.n_train}
        got = {k: m.get(k) for k in want}
        if got != want:
            diff = [k for k in want if got[k] != want[k]]
            raise CheckpointError(f"{path} was trained with other settings ({', '.join(diff)}): "
                                  f"shipped {[got[k] for k in diff]}, asked for {[want[k] for k in diff]}")
        print(f"loading the shipped student {path.name}")
        return load_student(path.stem)
    print(f"no shipped student {path.name}: training it ({steps} steps)")
    data = task_data(recipe.task, scale.name, recipe.image_size, scale.n_train, 0)
    trainer = student_trainer(recipe, teacher, teacher_D, data, steps, batch_size, seed,
                              device=device, progress=progress)
    trainer.fit()
    return trainer.objective.translator()[0].eval()
