"""Training a once-for-all supernet with GAN Compression's distiller.

:class:`SupernetObjective` is the distiller of :mod:`.distill`
(:class:`~.distill.DistillObjective`: reconstruction, GAN term with the
inherited discriminator, intermediate feature distillation through 1x1
mappings) with a :class:`~gancomp_lite.models.dynamic.SuperMobileResnetGenerator`
as the student.  Each step trains the subnets of :meth:`SupernetObjective.configs_of_step`:

* ``uniform`` (GAN Compression): one configuration, each entry drawn
  uniformly from its candidate list;
* ``sandwich`` (BigNAS/OFA's rule, an option here): the largest, the
  smallest and one uniformly drawn configuration; their losses are summed,
  so one optimizer step follows the accumulated gradient of all three.

The teacher runs once per step; the mappings are shared by every subnet and
take the leading input channels for a narrower one
(:class:`~gancomp_lite.losses.distill.MappedMSE` with
``any_student_width``).  The configurations are drawn with Python's
``random``, which the trainer seeds and checkpoints, so a run is repeatable
and resumes exactly.  As Fast GAN Compression does, the supernet is trained
from scratch at the width of its search space, with the ResNet teacher.

Explained in chapter ``nb/09_ofa``.
"""
from __future__ import annotations

import copy
import random

import torch
import torch.nn as nn

from ..compression.ofa import SearchSpace
from ..errors import GancompError
from ..losses.distill import MappedMSE
from ..models.dynamic import SuperMobileResnetGenerator
from ..models.hooks import capture_features, feature_shapes
from .distill import PRESETS, DistillObjective, default_layers
from .objectives import Context

SAMPLINGS = ("uniform", "sandwich")


class SupernetObjective(DistillObjective):
    """GAN Compression's distiller training every subnet of ``space`` in ``supernet``.

    ``teacher`` and ``netD`` as in :class:`~.distill.DistillObjective`
    (the teacher is copied and frozen; ``netD`` is trained).  ``sampling``:
    one of :data:`SAMPLINGS`.
    """

    def __init__(self, teacher: nn.Module, supernet: SuperMobileResnetGenerator,
                 netD: nn.Module | None, space: SearchSpace, sampling: str = "uniform",
                 paired: bool = True, image_size: int = 64, **weights):
        if not isinstance(supernet, SuperMobileResnetGenerator):
            raise GancompError(f"a supernet objective trains a SuperMobileResnetGenerator, "
                               f"not {type(supernet).__name__}")
        if sampling not in SAMPLINGS:
            raise GancompError(f"unknown sampling {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
        for c in (space.largest(), space.smallest()):
            supernet.check(c)
        layers = default_layers(supernet)
        s = feature_shapes(supernet, layers, image_size)
        t = feature_shapes(teacher, layers, image_size)
        loss = MappedMSE([(s[n][0], t[n][0]) for n in layers], any_student_width=True)
        super().__init__(teacher, supernet, netD, paired=paired, distill_layers=layers,
                         distill_loss=loss, image_size=image_size, **weights)
        self.space = space
        self.sampling = sampling
        self.hparams.update(space=space.as_dict(), sampling=sampling)

    def configs_of_step(self) -> list[tuple[int, ...]]:
        """The subnets one step trains (drawn with the trainer's ``random``)."""
        if self.sampling == "uniform":
            return [self.space.sample(random)]
        return [self.space.largest(), self.space.smallest(), self.space.sample(random)]

    def forward_step(self, batch: dict) -> Context:
        """``{"subnets": [ctx, ...]}``: one distiller context (see
        :meth:`~.distill.DistillObjective.forward_step`) per trained subnet,
        each with its ``config``; the teacher's output is computed once."""
        real_A, real_B = batch["A"], batch["B"]
        with torch.no_grad():
            teacher_B, t_feats = self.teacher_cache(self.teacher, self.distill_layers, real_A)
        subnets = []
        for config in self.configs_of_step():
            with capture_features(self.netG, self.distill_layers) as s_feats:
                fake_B = self.netG(real_A, config=config)
            subnets.append({"real_A": real_A, "real_B": real_B, "fake_B": fake_B,
                            "teacher_B": teacher_B, "student_feats": dict(s_feats),
                            "teacher_feats": t_feats, "config": config})
        return {"subnets": subnets}

    def group_loss(self, group: str, ctx: Context):
        """The sum of ``group``'s loss over the step's subnets (logged: their mean)."""
        total, parts = None, {}
        subs = ctx["subnets"]
        for sub in subs:
            loss, p = super().group_loss(group, sub)
            total = loss if total is None else total + loss
            for k, v in p.items():
                parts[k] = parts.get(k, 0.0) + v / len(subs)
        return total, parts


def build_supernet(space: SearchSpace, teacher: nn.Module) -> SuperMobileResnetGenerator:
    """A fresh supernet wide enough for ``space``, with the teacher's image channels and norm."""
    cfg = teacher.config
    return SuperMobileResnetGenerator(input_nc=cfg.get("input_nc", 3), output_nc=cfg.get("output_nc", 3),
                                      ngf=space.ngf, norm=cfg.get("norm", "instance"))


def supernet_objective(space: SearchSpace, teacher: nn.Module, teacher_D: nn.Module | None,
                       sampling: str = "uniform", paired: bool = True, preset: str | None = None,
                       image_size: int = 64, teacher_cache_mb: float | None = None) -> SupernetObjective:
    """A fresh supernet for ``space`` and its objective: the preset's loss
    weights (default GAN Compression's ``pix2pix`` for paired tasks,
    ``cyclegan`` for pseudo-pairs) and a copy of the teacher's discriminator
    (inherited, as GAN Compression).  ``teacher`` and ``teacher_D`` are not changed."""
    from ..config import get_scale

    preset = preset or ("pix2pix" if paired else "cyclegan")
    if preset not in PRESETS:
        raise GancompError(f"unknown loss preset {preset!r}: expected one of {', '.join(PRESETS)}")
    if teacher_D is None:
        raise GancompError("a supernet inherits the teacher's discriminator: load the teacher "
                           "with discriminator=True")
    w = PRESETS[preset]
    D = copy.deepcopy(teacher_D).float().train().requires_grad_(True)
    return SupernetObjective(teacher, build_supernet(space, teacher), D, space, sampling,
                             paired=paired, image_size=image_size, gan_mode=w["gan_mode"],
                             lambda_recon=w["lambda_recon"], lambda_distill=w["lambda_distill"],
                             lambda_gan=w.get("lambda_gan", 1.0),
                             teacher_cache_mb=(get_scale().teacher_cache_mb if teacher_cache_mb is None
                                               else teacher_cache_mb))


def supernet_trainer(space: SearchSpace, teacher: nn.Module, teacher_D: nn.Module | None, data,
                     steps: int, batch_size: int = 4, seed: int = 0, sampling: str = "uniform",
                     paired: bool = True, preset: str | None = None, image_size: int = 64,
                     device=None, progress: bool = True, amp: str | None = None,
                     channels_last: bool = False, decay_steps: int | None = None):
    """A :class:`~.loop.Trainer` of a fresh supernet on ``data``, seeded before
    the supernet is built (the seed fixes its initialisation and the subnets drawn);
    ``decay_steps``: the learning rate's linear decay (default: the trainer's)."""
    from ..config import seed_everything
    from .loop import Trainer

    seed_everything(seed)
    objective = supernet_objective(space, teacher, teacher_D, sampling, paired, preset, image_size)
    return Trainer(objective, data, steps, batch_size=batch_size, seed=seed, device=device,
                   progress=progress, amp=amp, channels_last=channels_last, decay_steps=decay_steps)


def train_supernet(task: str, space: SearchSpace, out, steps: int, sampling: str = "uniform",
                   batch_size: int = 4, seed: int = 0, n_train: int | None = None, n_val: int = 32,
                   image_size: int | None = None, teacher_path=None, data=None, preset: str | None = None,
                   resume: bool = False, device=None, progress: bool = True,
                   command: str | None = None, checkpoint_every: int = 500,
                   amp: str | None = None, channels_last: bool = False,
                   direction: str = "AtoB", epochs: tuple[int, int] | None = None,
                   paper_preset: str | None = None) -> tuple:
    """Train a supernet for ``space`` into the run folder ``out``:
    ``out/checkpoint.pt`` (resumable with ``resume``), ``out/recipe.json`` and,
    at the end, ``out/supernet.pt`` with its manifest (the recipe, the
    teacher's checksum, the command and code version).  The last ``n_val``
    of ``n_train + n_val`` training items are held out for the search
    (:func:`~gancomp_lite.compression.ofa.search_split`).  ``amp``,
    ``channels_last``, ``direction``: as for ``train``; under ``torchrun`` the
    run is data-parallel and rank 0 writes the files (:mod:`.parallel`).
    ``epochs``, ``paper_preset``: a paper preset's schedule and name, as for
    :func:`~.distill.distill` (``steps=None``: the preset's).
    Returns the trainer and the manifest (``None`` on other ranks)."""
    import json
    from pathlib import Path

    from ..compression.ofa import search_split
    from ..config import get_scale
    from ..data import WORLDS
    from ..provenance import code_version, sha256_of
    from .checkpoint import (load_teacher_file, read_manifest, require_teacher_file, save_supernet,
                             teacher_path as shipped_path)
    from .loop import run_folder
    from .teachers import task_data

    if steps is not None and steps < 1:
        raise GancompError(f"steps must be a positive number, got {steps}")
    scale = get_scale()
    n_train = n_train or scale.n_train
    image_size = image_size or scale.image_size
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise GancompError(f"{ckpt} exists: pass --resume to continue it, or choose another folder")
    if resume and not ckpt.exists():
        raise GancompError(f"nothing to resume: {ckpt} does not exist (start without --resume)")
    path = Path(teacher_path) if teacher_path else shipped_path(task, scale.name)
    require_teacher_file(path, task, scale.name)
    taught = read_manifest(path).get("task")
    if taught != task:
        raise GancompError(f"{path} is the teacher of {taught!r}, not of {task!r}: pass that "
                           f"task's teacher (--teacher)")
    teacher, teacher_D = load_teacher_file(path, discriminator=True)
    paired = WORLDS[task].aligned if task in WORLDS else True
    train_set, _ = search_split(task_data(task, scale.name, image_size, n_train + n_val, 0, data,
                                          direction), n_val)
    from .loop import run_schedule, schedule_record

    steps, decay_steps = run_schedule(steps, epochs, len(train_set), batch_size)
    trainer = supernet_trainer(space, teacher, teacher_D, train_set, steps, batch_size, seed, sampling,
                               paired, preset, image_size, device=device, progress=progress,
                               amp=amp, channels_last=channels_last, decay_steps=decay_steps)
    if resume:
        trainer.load(ckpt)
    recipe = supernet_recipe(task, space, sampling, steps, batch_size, seed, n_train, n_val,
                             image_size, preset, data, direction)
    from .parallel import is_main

    with run_folder(out):
        if is_main():
            (out / "recipe.json").write_text(json.dumps(
                {"recipe": recipe, "kind": "supernet", "code_version": code_version(),
                 "command": command,
                 **trainer.recorded_options(),
                 **({"direction": direction} if direction != "AtoB" else {}),
                 **schedule_record(paper_preset, epochs, decay_steps)},
                indent=2) + "\n")
        trainer.fit(checkpoint=ckpt, checkpoint_every=checkpoint_every)
    if not is_main():
        return trainer, None
    G = trainer.objective.netG
    manifest = save_supernet(G.cpu().eval(), out / "supernet.pt", {
        "recipe": recipe, "teacher": {"file": path.name, "sha256": sha256_of(path)},
        "commands": [command or "(not recorded)"], "code_version": code_version()},
        force=True)
    trainer.objective.to(trainer.device)
    return trainer, manifest


# -- shipped supernets -------------------------------------------------------------
def supernet_recipe(task: str, space: SearchSpace, sampling: str, steps: int, batch_size: int,
                    seed: int, n_train: int, n_val: int, image_size: int, preset: str | None = None,
                    data=None, direction: str = "AtoB") -> dict:
    """The recipe a supernet file records (one place, so that training, the
    shipped-file check and the recorded sweep describe a supernet alike):
    ``preset`` defaults to pix2pix for a paired task and CycleGAN otherwise,
    ``data`` to the synthetic task."""
    from ..data import WORLDS

    paired = WORLDS[task].aligned if task in WORLDS else True
    return {"task": task, "space": space.as_dict(), "sampling": sampling, "steps": steps,
            "batch_size": batch_size, "seed": seed, "n_train": n_train, "n_val": n_val,
            "image_size": image_size, "preset": preset or ("pix2pix" if paired else "cyclegan"),
            "data": str(data or f"synthetic:{task}"),
            **({"direction": direction} if direction != "AtoB" else {})}


def supernet_name(task: str, space: str, sampling: str, seed: int) -> str:
    """The file name (without ``.pt``) of a shipped supernet in ``data/supernets/``."""
    return f"{task}-{space}-{sampling}-seed{seed}"


def score_table_of(path):
    """The score table (a :class:`~gancomp_lite.compression.ofa.ScoreCache` file)
    shipped beside the supernet file ``path``."""
    from pathlib import Path

    path = Path(path)
    return path.with_name(path.stem + ".scores.json")


def load_or_train_supernet(task: str, space: SearchSpace, sampling: str, seed: int, steps: int,
                           batch_size: int = 4, scale=None, n_val: int = 32, device=None,
                           progress: bool = True):
    """The shipped supernet ``data/supernets/TASK-SPACE-SAMPLING-seedSEED.pt`` if
    there is one, else one trained now on the scale's training set.  A shipped
    supernet must have been trained with exactly this space, rule, seed, steps,
    batch size and the scale's training-set size (its manifest says): anything
    else is a :class:`~gancomp_lite.errors.CheckpointError`, never a silent
    substitute.  Returns the supernet (eval mode), its manifest (a trained one
    gets a manifest of the same form) and the path of the shipped score table
    (``None`` if there is none).  A scale that uses another scale's teachers
    (``small``: ``ci``) uses that scale's supernets and training set too."""
    import time

    from ..config import Scale, get_scale
    from ..data import WORLDS
    from ..errors import CheckpointError
    from .checkpoint import SUPERNETS_DIR, load_supernet
    from .teachers import load_or_train_teacher, task_data

    # small: the ci teachers, and so the ci supernets
    scale = (scale if isinstance(scale, Scale) else get_scale(scale)).teacher_source()
    path = SUPERNETS_DIR / f"{supernet_name(task, space.name, sampling, seed)}.pt"
    if path.exists():
        net, manifest = load_supernet(path)
        r = manifest["recipe"]
        want = {"space": space.as_dict(), "sampling": sampling, "seed": seed, "steps": steps,
                "batch_size": batch_size, "n_train": scale.n_train, "image_size": scale.image_size}
        diff = [k for k in want if r.get(k) != want[k]]
        if diff:
            raise CheckpointError(f"{path} was trained with other settings ({', '.join(diff)}): "
                                  f"shipped {[r.get(k) for k in diff]}, asked for {[want[k] for k in diff]}")
        print(f"loading the shipped supernet {path.name}")
        table = score_table_of(path)
        return net.to(device or "cpu"), manifest, (table if table.exists() else None)
    print(f"no shipped supernet {path.name}: training it ({steps} steps)")
    from ..compression.ofa import search_split

    teacher, teacher_D = load_or_train_teacher(task, scale, discriminator=True)
    data, _ = search_split(task_data(task, scale.name, scale.image_size, scale.n_train + n_val, 0), n_val)
    trainer = supernet_trainer(space, teacher, teacher_D, data, steps, batch_size, seed, sampling,
                               WORLDS[task].aligned, image_size=scale.image_size, device=device,
                               progress=progress)
    t0 = time.perf_counter()
    trainer.fit()
    manifest = {"recipe": supernet_recipe(task, space, sampling, steps, batch_size, seed, scale.n_train,
                                          n_val, scale.image_size),
                "train_seconds": time.perf_counter() - t0}
    return trainer.objective.netG.eval(), manifest, None
