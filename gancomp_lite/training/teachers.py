"""Teachers: the recipe that trains one per task, and loading the shipped ones.

Every compression chapter starts from a trained teacher.  The recipe here is
the only place that says how one is made at each scale: CycleGAN (ResNet
generator, least-squares GAN, cycle 10, identity 0.5) for the unpaired
``stripes`` task, pix2pix (ResNet generator, hinge GAN, L1 100, as GAN
Compression) for the paired tasks.  ``gancomp-lite train TASK`` runs it; the
teachers trained at the ``ci`` scale ship in ``data/teachers/`` with a
manifest (command, seed, code commit, sha256, metrics) and are loaded by
:func:`load_teacher`; :func:`load_or_train_teacher` trains at the current
scale when no shipped teacher fits.  :func:`export_teacher` refuses to ship a
teacher trained, or exported, by uncommitted code (see
:mod:`gancomp_lite.provenance`).  Explained in chapter ``nb/03_teachers``.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from pathlib import Path

from .. import provenance
from ..config import Scale, get_scale
from ..data import WORLDS, open_dataset
from ..errors import GancompError
from .objectives import Objective, cyclegan, pix2pix

UNPAIRED, PAIRED = "cyclegan", "pix2pix"


@dataclass(frozen=True)
class TeacherRecipe:
    """Everything that defines how a teacher is trained."""

    task: str
    scale: str
    objective: str          # "cyclegan" or "pix2pix"
    arch: str
    ngf: int
    ndf: int
    image_size: int
    n_train: int            # synthetic training images (per domain)
    steps: int
    batch_size: int
    seed: int
    #: the generator's norm (None: the architecture's default; CAT's inception
    #: teachers: BatchNorm for paired tasks, affine InstanceNorm for unpaired)
    norm: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


#: training length per scale and objective: (steps, batch size).  At ``full``
#: these are the papers' schedules in steps (CycleGAN horse2zebra: 200 epochs
#: of 1,067 images at batch 1; pix2pix edges2shoes: 20 epochs of 49,825 at batch 4).
#: ``small`` trains none of its own: it uses the ``ci`` teachers (``Scale.teachers``).
SCHEDULES = {
    ("ci", UNPAIRED): (6000, 1), ("ci", PAIRED): (2000, 4),
    ("full", UNPAIRED): (213_400, 1), ("full", PAIRED): (249_125, 4),
}


#: teacher architectures: GAN Compression's ResNet generator, CAT's inception generator
TEACHER_ARCHS = ("resnet", "inception")


def teacher_recipe(task: str, scale: Scale | str | None = None, steps: int | None = None,
                   seed: int = 0, arch: str = "resnet") -> TeacherRecipe:
    """The teacher recipe for ``task`` at ``scale`` (default: ``$GANCOMP_SCALE``);
    ``arch="inception"`` gives CAT's teacher (same schedule, its norms).  A
    scale that uses another scale's teachers (``small``: ``ci``) gets that
    scale's recipe."""
    scale = (scale if isinstance(scale, Scale) else get_scale(scale)).teacher_source()
    if task not in WORLDS:
        raise GancompError(f"unknown task {task!r}: expected one of {', '.join(sorted(WORLDS))}")
    if arch not in TEACHER_ARCHS:
        raise GancompError(f"unknown teacher architecture {arch!r}: expected one of "
                           f"{', '.join(TEACHER_ARCHS)}")
    kind = PAIRED if WORLDS[task].aligned else UNPAIRED
    default_steps, batch = SCHEDULES[scale.name, kind]
    norm = None if arch == "resnet" else ("batch" if kind == PAIRED else "instance_affine")
    base_ndf = 128 if kind == PAIRED else 64  # GAN Compression's pix2pix / CycleGAN
    ndf = max(32, base_ndf * scale.teacher_ngf // 64)
    return TeacherRecipe(task=task, scale=scale.name, objective=kind, arch=arch,
                         ngf=scale.teacher_ngf, ndf=ndf, image_size=scale.image_size,
                         n_train=max(scale.n_train, 1),
                         steps=default_steps if steps is None else steps,
                         batch_size=batch, seed=seed, norm=norm)


def build_objective(recipe: TeacherRecipe) -> Objective:
    """Fresh networks and losses for ``recipe``."""
    if recipe.objective == UNPAIRED:
        return cyclegan(recipe.arch, ngf=recipe.ngf, ndf=recipe.ndf, image_size=recipe.image_size,
                        norm=recipe.norm)
    return pix2pix(recipe.arch, ngf=recipe.ngf, ndf=recipe.ndf, image_size=recipe.image_size,
                   norm=recipe.norm)


def training_data(recipe: TeacherRecipe, data: str | Path | None = None):
    """The training set: the synthetic task, or a real dataset folder ``data``."""
    return task_data(recipe.task, recipe.scale, recipe.image_size, recipe.n_train, recipe.seed, data)


def task_data(task: str, scale: str, image_size: int, n: int, seed: int = 0,
              data: str | Path | None = None, direction: str = "AtoB"):
    """Training images of ``task``: a real dataset folder ``data`` if given,
    else the synthetic task (an error at scales that need real data).  A folder
    is read in the layout of the task's kind (paired: ``train/`` of AB images,
    read ``direction``, ``"BtoA"`` for Cityscapes' and maps' labels/maps to
    photos; unpaired: ``trainA/``, ``trainB/``), even where it holds both, as
    the official Cityscapes layout does."""
    if direction not in ("AtoB", "BtoA"):
        raise GancompError(f"direction must be AtoB or BtoA, got {direction!r}")
    if data is None and direction != "AtoB":
        raise GancompError("--direction says how to read a --data folder: a synthetic task "
                           "has one direction")
    if data is not None:
        from ..data import WORLDS
        from ..data.datasets import AlignedFolderDataset, UnalignedFolderDataset
        from ..errors import DatasetLayoutError

        root = Path(data)
        paired = WORLDS[task].aligned if task in WORLDS else None
        has_pairs = (root / "train").is_dir()
        has_domains = (root / "trainA").is_dir() and (root / "trainB").is_dir()
        if paired is not None and root.is_dir() and (has_pairs or has_domains) and \
                not (has_pairs if paired else has_domains):
            want = ("aligned (train/ of side-by-side AB images): a paired task needs pairs"
                    if paired else
                    "unaligned (trainA/ and trainB/): an unpaired task trains on two domains")
            raise DatasetLayoutError(f"{data} has the other layout for task {task!r}: expected {want}")
        options = dict(phase="train", size=image_size, preprocess="resize_and_crop", seed=seed)
        if paired is True:
            return AlignedFolderDataset(root, direction=direction, **options)
        if paired is False:
            return UnalignedFolderDataset(root, **options)
        return open_dataset(root, direction=direction, **options)
    if get_scale(scale).real_data:
        from ..data.download import ASSETS, local_folder

        known = [a for a in ASSETS.values() if a.extract_to]
        raise GancompError(
            f"the {get_scale(scale).name} scale trains on a real dataset: pass its folder as "
            f"data=/--data, for example {local_folder('horse2zebra')} (made by "
            f"`gancomp-lite download horse2zebra`; known: {', '.join(a.name for a in known)})")
    return open_dataset(task, phase="train", size=image_size, n=n, seed=seed)


def train_teacher(task: str, out: str | Path, scale: Scale | str | None = None,
                  steps: int | None = None, seed: int = 0, resume: bool = False,
                  data: str | Path | None = None, device=None, progress: bool = True,
                  checkpoint_every: int = 500, command: str | None = None, arch: str = "resnet",
                  amp: str | None = None, channels_last: bool = False, direction: str = "AtoB"):
    """Train the teacher of ``task`` into ``out/checkpoint.pt`` (resumable).

    ``out/recipe.json`` records the recipe, the code version and ``command``
    (the command line that started the run, for :func:`export_teacher`).
    With ``resume`` an existing checkpoint in ``out`` is continued (the
    record keeps the command that started the run and lists every session's
    code version in ``code_versions``); without it an existing checkpoint is
    an error (nothing is silently overwritten).  ``amp``, ``channels_last``:
    the trainer's mixed precision and memory format (recorded when used);
    ``direction``: how a paired ``data`` folder is read (recorded when BtoA).
    Under ``torchrun`` the run is data-parallel and rank 0 writes the files
    (:mod:`.parallel`).  Returns the :class:`~gancomp_lite.training.loop.Trainer`.
    """
    from ..config import seed_everything
    from .loop import Trainer, run_folder

    if steps is not None and steps < 1:
        raise GancompError(f"steps must be a positive number, got {steps}")
    asked = scale if isinstance(scale, Scale) else get_scale(scale)
    if asked.teacher_scale != asked.name:
        raise GancompError(f"the {asked.name} scale trains no teachers of its own: it uses the "
                           f"{asked.teacher_scale} teachers (train them with --scale "
                           f"{asked.teacher_scale})")
    recipe = teacher_recipe(task, scale, steps, seed, arch)
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise GancompError(f"{ckpt} exists: pass resume=True (--resume) to continue it, "
                           f"or choose another output folder")
    if resume and not ckpt.exists():
        raise GancompError(f"nothing to resume: {ckpt} does not exist (start without --resume)")
    seed_everything(recipe.seed)
    train_set = task_data(recipe.task, recipe.scale, recipe.image_size, recipe.n_train,
                          recipe.seed, data, direction)
    trainer = Trainer(build_objective(recipe), train_set, recipe.steps,
                      batch_size=recipe.batch_size, seed=recipe.seed, device=device,
                      progress=progress, amp=amp, channels_last=channels_last)
    if resume:
        trainer.load(ckpt)
    with run_folder(out):
        _record_and_fit(trainer, recipe, out, ckpt, resume, data, task, command, checkpoint_every,
                        direction)
    return trainer


def _record_and_fit(trainer, recipe, out, ckpt, resume, data, task, command, checkpoint_every,
                    direction="AtoB"):
    import json

    from .parallel import is_main

    version = provenance.code_version()
    record = {"recipe": recipe.as_dict(), "code_version": version, "command": command,
              "data": str(data) if data else f"synthetic:{task}",
              **trainer.recorded_options(),
              **({"direction": direction} if direction != "AtoB" else {})}
    earlier = out / "recipe.json"
    if resume and earlier.exists():  # a continued run keeps its history
        before = json.loads(earlier.read_text())
        versions = before.get("code_versions") or [before.get("code_version")]
        record["code_versions"] = list(dict.fromkeys([v for v in versions if v] + [version]))
        record["command"] = before.get("command") or command
    if is_main():
        earlier.write_text(json.dumps(record, indent=2) + "\n")
    trainer.fit(checkpoint=ckpt, checkpoint_every=checkpoint_every)


def run_data(info: dict) -> tuple[str | None, str]:
    """The real dataset folder a run record trained on (``None`` for a synthetic
    task) and the direction it was read in."""
    data = info.get("data")
    folder = None if data is None or str(data).startswith("synthetic:") else str(data)
    return folder, info.get("direction", "AtoB")


def score_shipped(G, task: str, size: int, n_eval: int, folder: str | None, direction: str,
                  features: str | None = None, baselines: bool = True) -> dict:
    """The quality a shipped manifest records: on the synthetic task's test split
    (``n_eval`` images), or, for a run on a real folder, on that folder's test split
    (every image, Inception features unless ``features`` says otherwise), so a
    real-data network is never scored on synthetic images."""
    from ..metrics.quality import evaluate, evaluate_folder

    if folder is None:
        q = evaluate(G, task, n=n_eval, size=size, seed=0, features=features or "synthetic",
                     baselines=baselines)
        return {"eval_split": f"test, seed 0, n={n_eval}", **q}
    from ..data import WORLDS

    q = evaluate_folder(G, folder, direction, size=size, features=features or "inception",
                        paired=WORLDS[task].aligned if task in WORLDS else None)
    return {"eval_split": f"{folder} test split, n={int(q['n'])}", **q}


def read_run_record(run_dir: Path) -> dict:
    """The ``recipe.json`` of a run folder written by ``train`` or ``distill``."""
    import json

    try:
        info = json.loads((run_dir / "recipe.json").read_text())
    except (OSError, ValueError) as err:
        raise GancompError(f"{run_dir / 'recipe.json'} is unreadable ({type(err).__name__}): "
                           f"is {run_dir} a run folder?") from err
    if not isinstance(info, dict) or not isinstance(info.get("recipe"), dict):
        raise GancompError(f"{run_dir / 'recipe.json'} is not a run record")
    return info


def export_teacher(run_dir: str | Path, out_dir: str | Path | None = None, n_eval: int | None = None,
                   features: str | None = None, allow_dirty: bool = False,
                   command: str | None = None, force: bool = False) -> dict:
    """Ship the teacher trained in ``run_dir``: half-precision weights and a manifest.

    Evaluates it on the task's test split (``n_eval`` images, default the
    scale's ``n_test``) with the trivial baselines, and writes
    ``out_dir/TASK-SCALE.pt`` with ``TASK-SCALE.json`` beside it recording
    the sha256, the commands that re-create it (the ``train`` command the
    run recorded, and ``command``, this export's command line; either is
    assembled from the recipe when not given, and ``command_recorded`` says
    whether the first was recorded), the seed, the code version that trained
    it and the metrics.  Raises
    :class:`~gancomp_lite.provenance.DirtyTreeError` when the package tree
    now, or the code that trained the run, has uncommitted changes, unless
    ``allow_dirty`` (recorded in the manifest).  An existing file in
    ``out_dir`` is an :class:`~gancomp_lite.errors.OutputExistsError` unless
    ``force``; if anything fails, nothing is written (see
    :func:`~gancomp_lite.shipped.staged`).  Returns the manifest.
    """

    import torch

    from ..shipped import refuse_existing, staged, write_manifest, write_shipped
    from .checkpoint import TEACHERS_DIR, load_teacher_file, teacher_file_name, teacher_payload
    from .loop import Trainer

    run_dir = Path(run_dir)
    if not (run_dir / "recipe.json").exists():
        raise GancompError(f"{run_dir} has no recipe.json: is it a folder written by "
                           f"`gancomp-lite train`?")
    info = read_run_record(run_dir)
    if "teacher" in info:
        raise GancompError(f"{run_dir} is a student run (written by `gancomp-lite distill`): "
                           f"ship it with `gancomp-lite export-student`")
    export_version = provenance.require_clean(allow_dirty, what="export a teacher")
    provenance.require_clean_run(info.get("code_versions") or info.get("code_version"), run_dir,
                                 allow_dirty, what="export a teacher")
    recipe = TeacherRecipe(**info["recipe"])
    folder, direction = run_data(info)
    train_set = task_data(recipe.task, recipe.scale, recipe.image_size, recipe.n_train,
                          recipe.seed, folder, direction)
    # the run's own precision and memory format, which its checkpoint records and load checks
    trainer = Trainer(build_objective(recipe), train_set, recipe.steps,
                      batch_size=recipe.batch_size, seed=recipe.seed, device="cpu", progress=False,
                      amp=info.get("amp"), channels_last=bool(info.get("channels_last")))
    trainer.load(run_dir / "checkpoint.pt")
    if trainer.step < recipe.steps:
        raise GancompError(f"{run_dir} stopped at step {trainer.step} of {recipe.steps}: "
                           f"finish it with `gancomp-lite train ... --resume` first")
    out_dir = Path(out_dir) if out_dir else TEACHERS_DIR
    path = out_dir / teacher_file_name(recipe.task, recipe.scale, recipe.arch)
    scale = get_scale(recipe.scale)
    n_eval = n_eval or scale.n_test
    train_cmd = info.get("command") or (
        f"gancomp-lite train {recipe.task} --scale {recipe.scale} --steps {recipe.steps} "
        f"--seed {recipe.seed} --out {run_dir.as_posix()}")
    export_cmd = command or (f"gancomp-lite export-teacher {run_dir.as_posix()} "
                             f"--out {out_dir.as_posix()} --n {n_eval}"
                             + (" --allow-dirty" if allow_dirty else ""))
    refuse_existing([path, path.with_suffix(".json")], force)
    with staged(path, force) as tmp:
        # write first, then evaluate the *shipped* (half-precision) weights
        write_shipped(teacher_payload(trainer.objective), tmp, {}, name=path.name)
        G = load_teacher_file(tmp)
        with torch.no_grad():
            metrics = score_shipped(G, recipe.task, recipe.image_size, n_eval, folder, direction,
                                    features)
        features = features or ("synthetic" if folder is None else "inception")
        manifest = _teacher_manifest(recipe, info, trainer.history, train_cmd, export_cmd,
                                     export_version, allow_dirty, n_eval, features, metrics)
        manifest = write_manifest(tmp, manifest, name=path.name)
    return manifest


def _teacher_manifest(recipe, info, history, train_cmd, export_cmd, export_version, allow_dirty,
                      n_eval, features, metrics) -> dict:
    manifest = {"kind": f"{recipe.objective} teacher", "task": recipe.task, "scale": recipe.scale,
                "recipe": recipe.as_dict(), "commands": [train_cmd, export_cmd],
                "command_recorded": bool(info.get("command")),
                "seed": recipe.seed, "code_version": info["code_version"],
                **({"code_versions": info["code_versions"]}
                   if len(info.get("code_versions", [])) > 1 else {}),
                "export_code_version": export_version, "allow_dirty": allow_dirty,
                "data": info["data"],
                "metrics": {"fid_features": features, **metrics},
                "final_losses": {k: v for k, v in history[-1].items() if k != "step"} if history else {}}
    return manifest


def load_teacher(task: str, scale: Scale | str | None = None, discriminator: bool = False,
                 directory: str | Path | None = None, arch: str = "resnet"):
    """The shipped teacher of ``task`` at ``scale``: checksum verified, weights
    checked against the architecture.  Raises
    :class:`~gancomp_lite.errors.CheckpointError` when there is none."""
    from .checkpoint import TEACHERS_DIR, load_teacher_file, require_teacher_file, teacher_file_name

    scale = scale if isinstance(scale, Scale) else get_scale(scale)
    path = Path(directory or TEACHERS_DIR) / teacher_file_name(task, scale.teacher_scale, arch)
    require_teacher_file(path, task, scale.name)
    return load_teacher_file(path, discriminator=discriminator)


def load_or_train_teacher(task: str, scale: Scale | str | None = None, discriminator: bool = False,
                          run_dir: str | Path | None = None, progress: bool = True,
                          arch: str = "resnet"):
    """The shipped teacher if there is one for this scale, else train one now.

    Training follows :func:`teacher_recipe` at ``scale`` into ``run_dir``
    (default ``runs/teacher-TASK-SCALE``; an interrupted run resumes).
    Returns the generator (and the discriminator if asked), and says which it
    did.
    """
    from .checkpoint import teacher_path

    scale = scale if isinstance(scale, Scale) else get_scale(scale)
    shipped = teacher_path(task, scale.name, arch)
    if shipped.exists():
        print(f"loading the shipped {task} teacher ({shipped.name})")
        return load_teacher(task, scale, discriminator, arch=arch)
    from ..paths import REPO_ROOT

    run_dir = Path(run_dir or REPO_ROOT / "runs" / f"teacher-{shipped.stem}")
    print(f"no shipped {task} teacher for scale {scale.name}: training one in {run_dir}")
    trainer = train_teacher(task, run_dir, scale=scale.teacher_source(), progress=progress, arch=arch,
                            resume=(run_dir / "checkpoint.pt").exists())
    G, D = trainer.objective.eval().translator()
    return (G, D) if discriminator else G
