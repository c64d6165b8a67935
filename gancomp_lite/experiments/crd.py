"""CRD's ablations (its Tables 3-6) and CRD against GAN Compression's distiller.

CRD's ablations are on horse2zebra with its CycleGAN student loss
(:data:`~gancomp_lite.training.online.PRESETS` ``crd-cyclegan``: 25 x RKD of
rows, columns and patches, style 1e4, feature 10, an adversarial term
through the frozen online teacher discriminator).  Here they run with that
loss on the paired synthetic task (``edges2shapes``), whose exact metric
(L1 to the true target) is the evidence; an online CycleGAN teacher trained
from scratch costs several times more steps than the CI budget allows.  The
student is OMGD's size: a Mobile ResNet a quarter as wide as the teacher.
On the offline ``ci`` backbone every student loss carries the colour anchor
(:data:`~gancomp_lite.training.online.CI_ANCHOR`), a stated deviation.

Two recorded experiments:

* ``ablation`` (:func:`ablation_arms`): one online teacher and discriminator
  per seed, shared by eleven students that differ only in their loss: the
  two official paired losses (``crd-pix2pix``, ``omgd-pix2pix``), and content
  relations (CRD), instance-level relations, no relations (Table 3); CRD
  without rows, columns or patches (Table 4); patches of half and twice the
  default side (Table 5: 16x16 and 64x64 at 256x256; a quarter of the side
  would make 1024 patches, whose angle tensor has 1024^3 entries per image);
  no adversarial term (Table 6's "online w/o D").
  The online teacher is evaluated at the end as one more row per seed.
* ``schemes`` (:data:`SCHEME_ARMS`): the discriminator schemes of Table 6
  that need their own run (D trained on the student's outputs, or a
  pre-trained teacher and D: the shipped teacher), and GAN Compression's
  distiller (:func:`~gancomp_lite.training.distill.student_trainer`, preset
  ``pix2pix``, inherited D) on the same student at the same MACs.  Its
  claims compare against the ``content`` arm of ``ablation`` (same seeds,
  steps and student), so the verdicts read both files.

Explained in chapter ``nb/08_crd``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from ..progress import tqdm

from ..data import open_dataset
from ..losses.perceptual import load_backbone
from ..losses.relations import default_patch_size
from ..metrics.cost import count_params, profile_macs
from ..metrics.quality import HIGHER_IS_BETTER, evaluate, test_set
from ..models import describe
from ..training.loop import Trainer
from ..training.online import StudentLoss, build_online, preset
from . import results

#: the student loss the ablations vary (CRD's CycleGAN loss, the paper's ablation setting)
BASE_PRESET = "crd-cyclegan"
CONVENTION = "in-excluded"   # OMGD/CRD count MACs without the (non-affine) InstanceNorm
#: every arm's student, GAN Compression's distiller included: OMGD's Mobile ResNet
STUDENT_ARCH = "mobile_resnet"


def ablation_arms(base: StudentLoss, image_size: int, backbone: str | None = None
                  ) -> dict[str, StudentLoss]:
    """The eleven students that share one online teacher (see the module
    docstring): nine variants of ``base`` and the two official paired losses
    (``crd-pix2pix``, ``omgd-pix2pix``), each with the colour anchor when
    ``backbone`` is the offline one (:func:`~gancomp_lite.training.online.preset`)."""
    p = default_patch_size(image_size)
    return {
        "crd": base,
        "instance": base.with_(relations=("instance",)),
        "no-relations": base.with_(relations=()),
        "no-rows": base.with_(relations=("columns", "patches")),
        "no-columns": base.with_(relations=("rows", "patches")),
        "no-patches": base.with_(relations=("rows", "columns")),
        "patch-half": base.with_(patch_size=max(1, p // 2)),
        "patch-double": base.with_(patch_size=2 * p),
        "online-no-D": base.with_(gan=0.0),
        "crd-pix2pix": preset("crd-pix2pix", backbone),
        "omgd-pix2pix": preset("omgd-pix2pix", backbone),
    }


#: arms of the ``schemes`` experiment: the discriminator scheme, or GC's distiller
SCHEME_ARMS = {
    "online-updating": "online-updating",
    "pretrained-frozen": "pretrained-frozen",
    "pretrained-updating": "pretrained-updating",
    "gc-distiller": None,
}

ABLATION_CLAIMS = {
    "content_beats_instance": "CRD Table 3: content-level relations (rows, columns, patches) give a "
                              "clearly better student than instance-level relations over the batch.",
    "content_beats_none": "CRD Table 3: the relation terms clearly improve the student over the "
                          "same loss without them.",
    "rows_help": "CRD Table 4: removing the row relations makes the student clearly worse.",
    "columns_help": "CRD Table 4: removing the column relations makes the student clearly worse.",
    "patches_help": "CRD Table 4: removing the patch relations makes the student clearly worse.",
    "default_patch_beats_half": "CRD Table 5: the default patch side (32 at 256x256) is clearly better "
                                "than half of it (16: a quarter of the area).",
    "default_patch_beats_double": "CRD Table 5: the default patch side is clearly better than twice "
                                  "it (64 at 256x256).",
    "online_d_beats_no_d": "CRD Table 6: an adversarial term through the frozen online teacher "
                           "discriminator clearly beats no adversarial term.",
}

SCHEME_CLAIMS = {
    "frozen_beats_updating": "CRD Table 6: the online teacher D frozen in the student's steps is "
                             "clearly better than the same D also trained on the student's outputs "
                             "(compared with the 'crd' arm of the ablation file).",
    "online_beats_pretrained_frozen": "CRD Table 6: the online teacher D (frozen) is clearly better "
                                      "than a pre-trained, frozen teacher and D.",
    "online_beats_pretrained_updating": "CRD Table 6: the online teacher D (frozen) is clearly better "
                                        "than a pre-trained teacher with its D trained on.",
    "crd_beats_gc": "CRD's headline: at a large cut (OMGD's student, a quarter of the teacher's width) "
                    "CRD gives a clearly better student than GAN Compression's distiller at the "
                    "same MACs.",
}


def _cost(G, costs: dict) -> tuple[float, float]:
    arch = json.dumps(describe(G), sort_keys=True)
    if arch not in costs:
        costs[arch] = profile_macs(G, 256, CONVENTION) / 1e9, count_params(G) / 1e6
    return costs[arch]


def _row(arm: str, G, seed: int, steps: int, task: str, data: dict, costs: dict, seconds: float,
         **extra) -> dict:
    G = G.cpu().eval()
    with torch.no_grad():
        q = evaluate(G, task, data=data, features="synthetic", baselines=False)
    gmacs, mparams = _cost(G, costs)
    return {"arm": arm, "ngf": G.config["ngf"], "seed": seed, "steps": steps, **extra,
            "gmacs_256": gmacs, "macs_convention": CONVENTION, "mparams": mparams,
            "train_seconds": seconds, **{k: v for k, v in q.items() if k != "n"}}


def run_ablation(task: str = "edges2shapes", seeds=(0,), steps: int = 600, size: int = 64,
                 batch_size: int = 4, n_train: int = 1000, n_eval: int = 512,
                 arms: dict[str, StudentLoss] | None = None, backbone: str = "synthetic",
                 curve_points: int = 0, progress: bool = True, device="cpu", record=None,
                 models: dict | None = None) -> list[dict]:
    """One online teacher per seed shared by the students of ``arms`` (default
    :func:`ablation_arms` of the ``crd-cyclegan`` loss); a row per student
    and seed, and an ``online-teacher`` row per seed.  ``models`` (a dict)
    receives the trained students keyed ``(arm, seed)``."""
    every = ablation_arms(preset(BASE_PRESET, backbone), size, backbone)
    arms = _select(every, arms)
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    data = test_set(task, n_eval, size, seed=0)
    probe = {k: v[:64] for k, v in data.items()}
    bb = load_backbone(backbone)
    rows, costs = [], {}
    for seed in tqdm(seeds, desc="online teachers", disable=not progress):
        if record is not None and all(record.has(arm=a, seed=seed) for a in [*arms, "online-teacher"]):
            continue   # finished in an earlier session of a resumed run
        obj = build_online(task, arms, "online-frozen", scale=_scale_of(size), arch=STUDENT_ARCH,
                           backbone=bb, seed=seed)
        trainer = Trainer(obj, train, steps, batch_size=batch_size, seed=seed, device=device,
                          progress=progress)
        t0 = time.perf_counter()
        gens = {obj.group_of(a): (lambda a=a: obj.student(a)) for a in arms}
        if curve_points:
            curves = results.fit_with_curves(trainer, gens, probe, task, curve_points,
                                             grad_groups={g: g for g in gens})
        else:
            trainer.fit()
            curves = {}
        seconds = time.perf_counter() - t0
        for arm, loss in arms.items():
            G = obj.student(arm)
            if models is not None:
                models[arm, seed] = G
            row = _row(arm, G, seed, steps, task, data, costs, seconds, scheme="online-frozen",
                       loss=loss.as_dict(), backbone=bb.name, shared_teacher=True)
            results.keep_row(rows, row, curves.get(obj.group_of(arm)), record)
        T = obj.teacher_G
        if models is not None:
            models["online-teacher", seed] = T
        results.keep_row(rows, _row("online-teacher", T, seed, steps, task, data, costs, seconds,
                                    scheme="-", shared_teacher=True), None, record)
    return rows


def _select(every: dict, arms) -> dict:
    """``arms``: ``None`` (all of ``every``), a dict (used as is) or names from ``every``."""
    from ..errors import GancompError

    if arms is None:
        return dict(every)
    if isinstance(arms, dict):
        return arms
    unknown = [a for a in arms if a not in every]
    if unknown or not arms:
        raise GancompError(f"unknown arm(s) {unknown}; choose from {', '.join(every)}")
    return {a: every[a] for a in arms}


def _scale_of(size: int):
    """The book's scale whose image side is ``size`` (the teacher recipe's discriminator width)."""
    from ..config import SCALES

    for s in SCALES.values():
        if s.image_size == size:
            return s
    from dataclasses import replace
    return replace(SCALES["ci"], image_size=size)


def run_schemes(task: str = "edges2shapes", seeds=(0,), steps: int = 600, size: int = 64,
                batch_size: int = 4, n_train: int = 1000, n_eval: int = 512, arms=None,
                backbone: str = "synthetic", curve_points: int = 0, progress: bool = True,
                device="cpu", record=None, models: dict | None = None,
                pretrained=None) -> list[dict]:
    """One run per arm of :data:`SCHEME_ARMS` and seed, each with its own
    teacher: online ones trained in the run, pre-trained ones the shipped
    teacher of ``task`` (or ``pretrained = (teacher, D)``), which is also
    recorded as a ``teacher`` row."""
    from ..training.distill import StudentRecipe, student_trainer
    from ..training.teachers import load_teacher

    arms = _select(SCHEME_ARMS, arms)
    scale = _scale_of(size)
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    data = test_set(task, n_eval, size, seed=0)
    probe = {k: v[:64] for k, v in data.items()}
    bb = load_backbone(backbone)
    base = preset(BASE_PRESET, backbone)
    teacher, teacher_D = pretrained or load_teacher(task, "ci", discriminator=True)
    student_ngf = max(1, teacher.config["ngf"] // 4)
    rows, costs = [], {}
    jobs = [(a, s) for a in arms for s in seeds]
    for arm, seed in tqdm(jobs, desc="schemes", disable=not progress):
        if record is not None and record.has(arm=arm, seed=seed):
            continue   # finished in an earlier session of a resumed run
        scheme = arms[arm]
        if scheme is None:   # GAN Compression's distiller on the same student
            recipe = StudentRecipe(task=task, student=STUDENT_ARCH, ngf=student_ngf, image_size=size,
                                   mode="paired")
            trainer = student_trainer(recipe, teacher, teacher_D, train, steps, batch_size, seed,
                                      device=device, progress=False)
            G_of, key, group = (lambda t=trainer: t.objective.translator()[0]), "G/total", "G"
            extra = {"scheme": "gc-distiller", "loss": {"preset": "pix2pix"}}
        else:
            obj = build_online(task, {"S": base}, scheme, scale=scale, arch=STUDENT_ARCH, backbone=bb,
                               seed=seed,
                               teacher_ngf=teacher.config["ngf"],
                               pretrained=(teacher, teacher_D) if scheme.startswith("pretrained")
                               else None)
            trainer = Trainer(obj, train, steps, batch_size=batch_size, seed=seed, device=device,
                              progress=False)
            G_of, key, group = (lambda o=obj: o.student("S")), "S/total", "S"
            extra = {"scheme": scheme, "loss": base.as_dict(), "backbone": bb.name}
        t0 = time.perf_counter()
        if curve_points:
            curve = results.fit_with_curves(trainer, {"run": G_of}, probe, task, curve_points,
                                            loss_keys={"run": key},
                                            grad_groups={"run": group})["run"]
        else:
            trainer.fit()
            curve = None
        seconds = time.perf_counter() - t0
        G = G_of()
        if models is not None:
            models[arm, seed] = G
        results.keep_row(rows, _row(arm, G, seed, steps, task, data, costs, seconds,
                                    shared_teacher=False, **extra), curve, record)
    if record is None or not record.has(arm="teacher"):
        results.keep_row(rows, _row("teacher", teacher, 0, 0, task, data, costs, 0.0, scheme="-",
                                    shared_teacher=False), None, record)
    return rows


EXPERIMENTS = {"ablation": (run_ablation, ABLATION_CLAIMS), "schemes": (run_schemes, SCHEME_CLAIMS)}


def command(experiment: str, settings: dict) -> str:
    """The command line that re-runs a recorded CRD sweep with ``settings``."""
    arms = f" --arms {' '.join(settings['arms'])}" if settings.get("arms") else ""
    save = f" --save-students {settings['save_students']}" if settings.get("save_students") else ""
    return ("gancomp-lite sweep-crd {exp} --task {task} --seeds {s} --steps {steps} --size {size} "
            "--batch-size {batch_size} --n {n_eval} --curve-points {curve_points}{arms}{save} "
            "--out {out}").format(exp=experiment, s=" ".join(map(str, settings["seeds"])), arms=arms,
                                  save=save, **{k: v for k, v in settings.items()
                                                if k not in ("arms", "save_students")})


#: the ``kind`` in the manifest of a network saved by a recorded sweep (``--save-students``)
SWEEP_STUDENT_KIND = "crd sweep student"


def student_file(directory, experiment: str, arm: str, seed: int = 0) -> Path:
    """Where ``--save-students DIRECTORY`` puts ``arm``'s network of ``seed``."""
    return Path(directory) / f"crd-{experiment}-{arm}-seed{seed}.pt"


def save_students(models: dict, directory, experiment: str, results_file, command_line: str,
                  version: str, seed: int = 0, force: bool = False) -> list[Path]:
    """Write the networks of ``seed`` a sweep trained (``models``: ``{(arm,
    seed): generator}``) into ``directory``, one file per arm
    (:func:`student_file`, by :func:`~.results.save_sweep_student`).  Returns
    the paths written."""
    return [results.save_sweep_student(G, student_file(directory, experiment, arm, seed),
                                       SWEEP_STUDENT_KIND, f"crd-{experiment}", arm, seed,
                                       results_file, command_line, version, force)
            for (arm, s), G in sorted(models.items(), key=lambda kv: str(kv[0])) if s == seed]


def run_recorded(experiment: str, out, task: str = "edges2shapes", seeds=(0, 1, 2),
                 steps: int = 600, size: int = 64, batch_size: int = 4, n_eval: int = 512,
                 curve_points: int = 8, arms: list[str] | None = None, allow_dirty: bool = False,
                 force: bool = False, resume: bool = False, progress: bool = True,
                 argv: list[str] | None = None, save_students_to=None):
    """A recorded CRD sweep (``arms``: names of the experiment's arms, default
    all): refuse a dirty tree (unless ``allow_dirty``), write ``out`` with its
    command, claims, code version, teacher checksum, the gate and the trivial
    translators' scores and the machine before training, append each run,
    mark it complete.  ``resume``: continue an interrupted ``out`` made by the
    same command and package, skipping its finished runs.  ``save_students_to``:
    a folder that receives the networks of the first seed (:func:`save_students`)."""
    from ..errors import GancompError
    from ..provenance import require_clean
    from ..training.checkpoint import read_manifest, teacher_path

    if experiment not in EXPERIMENTS:
        raise GancompError(f"unknown CRD experiment {experiment!r}: expected one of "
                           f"{', '.join(EXPERIMENTS)}")
    if task != "edges2shapes":
        raise GancompError("the recorded CRD sweeps run on edges2shapes (a paired task with an "
                           f"exact metric), not {task!r}")
    version = require_clean(allow_dirty, "record a sweep")
    settings = dict(task=task, seeds=list(seeds), steps=steps, size=size, batch_size=batch_size,
                    n_eval=n_eval, curve_points=curve_points, arms=list(arms) if arms else None)
    save = Path(save_students_to).as_posix() if save_students_to else None
    fn, claims = EXPERIMENTS[experiment]
    every = (ablation_arms(preset(BASE_PRESET, "synthetic"), size, "synthetic")
             if experiment == "ablation" else SCHEME_ARMS)
    _select(every, arms)   # unknown names fail before the file is written
    tpath = teacher_path(task, "ci")
    line = command(experiment, {**settings, "out": Path(out).as_posix(), "save_students": save})
    if save:
        from ..shipped import refuse_existing
        refuse_existing([student_file(save, experiment, a, seeds[0]) for a in every if arms is None
                         or a in arms], force or resume)
    record = results.ResultsFile(out, f"crd-{experiment}", line,
                                 version, settings, claims, force=force, resume=resume,
                                 allow_dirty=version.endswith("+dirty"),
                                 teacher={"file": tpath.name, "sha256": read_manifest(tpath)["sha256"]},
                                 base_preset=BASE_PRESET, backbone="synthetic",
                                 anchor=preset(BASE_PRESET, "synthetic").anchor,
                                 judged_if=results.LEARNED_RULE,
                                 baselines=baselines(task, n_eval, size), argv=argv)
    models = results.SavingDict(lambda key, G: save_students({key: G}, save, experiment, out, line, version,
                                                     seeds[0], force=True)) if save else None
    fn(progress=progress, record=record, models=models, **settings)
    return record.finish()


# -- verdicts ----------------------------------------------------------------------
def baselines(task: str, n_eval: int, size: int) -> dict[str, float]:
    """The trivial translators' L1 on the test images every arm is scored on
    (:func:`~.results.trivial_scores`)."""
    return results.trivial_scores(task, n_eval, size)



def summarise(rows: list[dict], metric: str) -> list[dict]:
    """Mean and spread of ``metric`` per arm."""
    return results.summarise(rows, ("arm",), metric, carry=("gmacs_256", "mparams"))


def verdicts(rows: list[dict], metric: str | None = None,
             trivial: dict[str, float] | None = None) -> dict[str, dict]:
    """Each registered claim of both experiments judged by the one rule on
    ``metric`` (default: the task's exact metric); ``rows`` from both files.
    With ``trivial`` (the trivial translators' scores on ``metric``, see
    :func:`baselines`), a claim on an arm that does not clearly beat them is
    :data:`~gancomp_lite.experiments.results.NOT_JUDGED`."""
    metric = metric or results.primary_of(rows)
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    table = {r["arm"]: r for r in results.summarise(rows, ("arm",), metric)}
    claims = {"content_beats_instance": ("crd", "instance"), "content_beats_none": ("crd", "no-relations"),
              "rows_help": ("crd", "no-rows"), "columns_help": ("crd", "no-columns"),
              "patches_help": ("crd", "no-patches"),
              "default_patch_beats_half": ("crd", "patch-half"),
              "default_patch_beats_double": ("crd", "patch-double"),
              "online_d_beats_no_d": ("crd", "online-no-D"),
              "frozen_beats_updating": ("crd", "online-updating"),
              "online_beats_pretrained_frozen": ("crd", "pretrained-frozen"),
              "online_beats_pretrained_updating": ("crd", "pretrained-updating"),
              "crd_beats_gc": ("crd", "gc-distiller")}

    def m(a):
        s = table[a]
        return f"{a} {s[f'{metric}_mean']:.4g}" + (f"±{s[f'{metric}_std']:.2g}" if s["seeds"] > 1 else "")

    out = {}
    for claim, (a, b) in claims.items():
        if a not in table or b not in table:   # a registered claim whose arm was not run
            missing = " and ".join(x for x in (a, b) if x not in table)
            out[claim] = {"claim": claim, "better": a, "worse": b, "verdict": "inconclusive",
                          "metric": metric, "ran": False, "judged": False,
                          "reason": f"{missing} was not run",
                          "a_mean": None, "b_mean": None}
            continue
        v, why = results.judged_verdict(table[a], table[b], metric, better, trivial,
                                        lower_is_better=better == "lower")
        out[claim] = {"claim": claim, "better": a, "worse": b, "verdict": v, "metric": metric,
                      "ran": True, "judged": v != results.NOT_JUDGED,
                      "reason": f"{m(a)} vs {m(b)}: {why}",
                      "a_mean": table[a][f"{metric}_mean"], "b_mean": table[b][f"{metric}_mean"]}
    return out
