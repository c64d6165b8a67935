"""CAT's claims on one pruned inception student: KA vs MSE, pruned vs teacher.

One trained inception teacher is cut by one-step pruning
(:func:`~gancomp_lite.compression.one_step.one_step_prune`) to about
``1 / reduction`` of its MACs (CAT's convention, 256x256).  Every arm of
:data:`CAT_ARMS` trains *that same architecture* on the same data, steps and
seeds with CAT's loss weights (:data:`~gancomp_lite.training.distill.PRESETS`
``cat-pix2pix`` / ``cat-cyclegan``) and the teacher's discriminator, and
differs in one thing only:

* ``ka``: kernel-alignment distillation, the student re-initialised (CAT as
  released);
* ``mse``: GAN Compression's 1x1 mappings + MSE instead of KA (CAT's
  ``--distill_G_loss_type mse``, same weight);
* ``ka-no-recon``: KA without the reconstruction term (this package's
  ablation, motivated by CAT issue #27, where a user found KA distillation
  "does not work": FID 72-74 with artefacts);
* ``ka-inherited``: KA, the student starting from the teacher's kept weights;
* ``no-distill``: no feature distillation at all (does distilling help here?).

The teacher is evaluated on the same test images and recorded as one more
row.  It is a single trained network, so CAT's "similar or even better"
is tested the one way the rule supports: the student's per-seed values
against the teacher's score as a fixed number
(:func:`~.results.compare_to_value`), claim ``student_beats_teacher``.  The
first registered form, ``student_matches_teacher``, compared two arms with
the two-sample rule and could never be anything but inconclusive; it is
retired (:data:`RETIRED_CLAIMS`, recorded in each results file with its
reason).  Every verdict is gated: an arm that does not clearly beat the
trivial translators (:func:`~.results.trivial_scores`, registered before the
run) is not judged.

The budget: at ``ci`` the teacher is already ngf 16, a sixteenth of the
papers' MACs, so the papers' cuts (CAT's students are 1/10 to 1/22 of the
original models) push this teacher's encoder to CAT's channel floor and
leave a few thousand parameters.  :data:`CI_REDUCTION` is the cut the
recorded sweep uses instead; :func:`floor_layers` names the layers a
pruning leaves at the floor.  The wall seconds of the pruning itself are
measured ``prune_repeats`` times and recorded (the OFA chapter compares its
search cost with them).
Explained in chapter ``nb/07_cat``.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from ..compression.one_step import PruneReport, inherit_weights, one_step_prune
from ..metrics.cost import count_params, profile_macs
from ..metrics.quality import HIGHER_IS_BETTER, evaluate, test_set
from . import results
from .distillation import run as run_arms

#: the arms: StudentRecipe settings plus ``start`` (the pruned network re-initialised or inherited)
CAT_ARMS = {
    "ka": dict(distill_loss="ka", start="re-initialised"),
    "mse": dict(distill_loss="mse", start="re-initialised"),
    "ka-no-recon": dict(distill_loss="ka", lambda_recon=0.0, start="re-initialised"),
    "ka-inherited": dict(distill_loss="ka", start="inherited"),
    "no-distill": dict(distill_layers=[], start="re-initialised"),
}

#: the claims, registered in the results file before the run
CAT_CLAIMS = {
    "ka_beats_mse": "Distilling with kernel alignment gives a clearly better pruned student than "
                    "GAN Compression's MSE with 1x1 mappings (same architecture, steps, data, seeds).",
    "ka_needs_recon": "KA without the reconstruction term is clearly worse than KA with it "
                      "(this package's ablation, motivated by CAT issue #27, where a user found "
                      "KA distillation 'does not work').",
    "distill_helps": "KA distillation gives a clearly better pruned student than no feature "
                     "distillation.",
    "student_beats_teacher": "The pruned student is clearly better than the teacher it was cut "
                             "from (CAT: 'similar or even better image fidelity'). One teacher "
                             "is trained: its score is a fixed value, and the student's seeds are "
                             "tested against it by the one-sample form of the rule. A clearly "
                             "worse student is 'not confirmed'; a tie is inconclusive.",
    "inherit_helps": "Starting the pruned student from the teacher's kept weights is clearly "
                     "better than re-initialising it (CAT re-initialises).",
}

#: claims registered once and retired, with the reason (kept in every results file)
RETIRED_CLAIMS = {
    "student_matches_teacher": "retired: it compared the students with one teacher by the two-sample "
                               "rule, which needs two values per side, so it was inconclusive by "
                               "construction (a 2.8x gap read as a tie); replaced by "
                               "student_beats_teacher, the students' seeds against the teacher's "
                               "score as a fixed value.",
}

#: the cut of the recorded ``ci`` sweep: teacher MACs / 6 (CAT's convention, 256x256).  The
#: papers' cuts of 10-22x leave this ngf-16 teacher's encoder at CAT's floor (chapter 07 measures it)
CI_REDUCTION = 6.0

#: the cut per scale: the papers' 1/20 at ``full`` (CAT's ngf-64 teachers), :data:`CI_REDUCTION`
#: where the teacher is the narrower ngf-16 one (``ci``, and ``small``, which uses the ``ci``
#: teachers)
REDUCTIONS = {"ci": CI_REDUCTION, "small": CI_REDUCTION, "full": 20.0}

#: the ``kind`` in the manifest of a network saved by the recorded sweep (``--save-students``)
SWEEP_STUDENT_KIND = "cat sweep student"

#: task -> (CAT's loss preset, distillation mode, batch size of the recorded run)
TASKS = {"edges2shapes": ("cat-pix2pix", "paired", 4),
         "stripes": ("cat-cyclegan", "pseudo-pairs", 4)}


def describe_arm(settings: dict) -> dict:
    """The columns that tell the arms apart in a results table."""
    return {"distill_loss": "none" if settings.get("distill_layers") == []
            else settings.get("distill_loss", "mse"),
            "recon": settings.get("lambda_recon") != 0.0,
            "start": settings["start"]}


def prune_for(teacher, reduction: float = 20.0, size: int = 256, repeats: int = 3,
              convention: str = "cat"):
    """One-step pruning of ``teacher`` to its MACs / ``reduction`` at ``size``,
    timed over ``repeats`` runs.  Returns the report and the wall seconds of
    every repeat."""
    target = profile_macs(teacher, size, convention) / reduction
    seconds = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        _, report = one_step_prune(teacher, target, size=size, convention=convention)
        seconds.append(time.perf_counter() - t0)
    return report, seconds


def floor_layers(report) -> list[str]:
    """The encoder and decoder layers a pruning (``report``: a
    :class:`~gancomp_lite.compression.one_step.PruneReport` or its dict) left
    at the channel floor, as ``down.I`` / ``up.I``: where the budget, not the
    teacher's scales, chose the width."""
    d = report if isinstance(report, dict) else report.as_dict()
    cfg, floor = d["config"], d["floor"]
    return ([f"down.{i}" for i, w in enumerate(cfg["down"]) if w <= floor]
            + [f"up.{i}" for i, w in enumerate(cfg["up"]) if w <= floor])


def silencing_test(teacher, data: dict, fractions=(0.1, 0.25, 0.5), random_seeds=(0, 1, 2),
                   batch_size: int = 32) -> list[dict]:
    """Do the teacher's ``|gamma|`` carry the channels' importance?  For every
    fraction, the paired L1 on ``data`` (``{"A", "B"}``) of copies of the
    teacher whose lowest-, highest- or randomly chosen channels of every scored
    layer are silenced (:func:`~gancomp_lite.compression.one_step.silence_channels`),
    one row per copy (``fraction``, ``order``, ``seed``, ``l1``), and a first
    row for the teacher itself (fraction 0).  If the scales carry importance,
    the lowest cost least and the highest most, with random draws between.
    The teacher is not changed."""
    from ..compression.one_step import silence_channels
    from ..metrics.quality import paired_metrics, translate

    def l1(G):
        with torch.no_grad():
            return paired_metrics(translate(G, data["A"], batch_size), data["B"])["l1"]

    rows = [{"fraction": 0.0, "order": "none", "seed": 0, "l1": l1(teacher)}]
    for f in fractions:
        for order, seeds in (("lowest", (0,)), ("highest", (0,)), ("random", random_seeds)):
            for seed in seeds:
                rows.append({"fraction": float(f), "order": order, "seed": seed,
                             "l1": l1(silence_channels(teacher, f, order, seed))})
    return rows


def student_file(directory, arm: str, seed: int = 0) -> Path:
    """Where ``--save-students DIRECTORY`` puts ``arm``'s network of ``seed``."""
    return Path(directory) / f"cat-{arm}-seed{seed}.pt"


def save_student(G, directory, arm: str, seed: int, results_file, command_line: str,
                 version: str, force: bool = False) -> Path:
    """Write one network a recorded sweep trained into ``directory``
    (:func:`student_file`, by :func:`~.results.save_sweep_student`)."""
    return results.save_sweep_student(G, student_file(directory, arm, seed), SWEEP_STUDENT_KIND,
                                      "cat", arm, seed, results_file, command_line, version, force)


def teacher_row(teacher, task: str, data: dict) -> dict:
    """The teacher as a results row (one network: seed 0, no steps)."""
    with torch.no_grad():
        q = evaluate(teacher, task, data=data, features="synthetic", baselines=False)
    return {"arm": "teacher", "ngf": teacher.config["ngf"], "seed": 0, "steps": 0,
            "distill_loss": "-", "recon": True, "start": "-",
            "gmacs_256": profile_macs(teacher, 256, "cat") / 1e9, "macs_convention": "cat",
            "mparams": count_params(teacher) / 1e6, "train_seconds": 0.0,
            **{k: v for k, v in q.items() if k != "n"}}


def run(task: str, teacher, teacher_D, teacher_file, arms: dict | None = None, seeds=(0,),
        steps: int = 600, size: int = 64, batch_size: int = 4, n_train: int = 1000,
        n_eval: int = 512, reduction: float = 20.0, prune_repeats: int = 3, prune_size: int = 256,
        report=None, progress: bool = True, device="cpu", models: dict | None = None,
        record=None, curve_points: int = 0) -> dict:
    """Prune ``teacher`` once, train every arm at every seed from the result.

    Returns ``{"rows": [...], "prune": report, "prune_seconds": [...]}``; the
    rows are those of :func:`.distillation.run` (MACs in CAT's convention)
    and a last ``teacher`` row.  ``report``: a pruning of this teacher made
    already (:func:`~gancomp_lite.compression.one_step.one_step_prune`); it is
    used instead of a new, timed search (``prune_seconds`` is then empty).
    ``teacher_file``: the teacher's shipped file, named in the pruned
    networks' manifests (``None`` for a teacher trained in place).  The
    caller's networks are not changed.
    """
    from ..training.checkpoint import save_pruned

    arms = CAT_ARMS if arms is None else arms
    preset, mode, _ = TASKS[task]
    seconds = []
    stored = record.data.get("prune") if record is not None else None
    if report is None and stored:      # a resumed run: its pruning stands (checked on this teacher below)
        report = PruneReport(**{**stored, "reachable": tuple(stored["reachable"]),
                                "steps": [tuple(x) for x in stored["steps"]]})
        seconds = list(record.data.get("prune_seconds", []))
    elif report is None:
        report, seconds = prune_for(teacher, reduction, prune_size, repeats=prune_repeats)
    info = {"prune": report.as_dict(), "prune_seconds": seconds}
    if record is not None:
        record.data.update(info)
    kept = inherit_weights(teacher, report)
    with tempfile.TemporaryDirectory() as tmp:
        # one network, two files: re-initialised from the run's seed when loaded, or kept as is
        files = {start: save_pruned(kept, report, Path(tmp) / f"{start}.pt", teacher_file,
                                    inherit=start == "inherited", command="experiments.cat.run")
                 for start in ("re-initialised", "inherited")}
        settings = {name: {**arm, "student_file": str(files[arm["start"]]), "loss_preset": preset}
                    for name, arm in arms.items()}
        rows = run_arms(task, settings, teacher, teacher_D, widths=(teacher.config["ngf"],),
                        seeds=seeds, steps=steps, size=size, batch_size=batch_size,
                        n_train=n_train, n_eval=n_eval, mode=mode, progress=progress,
                        device=device, models=models, record=record, curve_points=curve_points,
                        convention="cat", describe_arm=describe_arm)
    if record is not None and record.has(arm="teacher"):   # a resumed run: it stands
        rows.append(next(r for r in record.data["rows"] if r["arm"] == "teacher"))
    else:
        results.keep_row(rows, teacher_row(teacher, task, test_set(task, n_eval, size, seed=0)),
                         None, record)
    return {"rows": rows, **info}


def command(settings: dict) -> str:
    """The command line that re-runs a recorded CAT sweep with ``settings``."""
    save = f" --save-students {settings['save_students']}" if settings.get("save_students") else ""
    return ("gancomp-lite sweep-cat --task {task} --seeds {s} --steps {steps} --size {size} "
            "--batch-size {batch_size} --n {n_eval} --reduction {reduction} "
            "--curve-points {curve_points}{save} --out {out}").format(
        s=" ".join(map(str, settings["seeds"])), save=save,
        **{k: v for k, v in settings.items() if k != "save_students"})


def run_recorded(out, task: str = "edges2shapes", seeds=(0, 1, 2), steps: int | None = None,
                 size: int = 64, batch_size: int | None = None, n_eval: int = 512,
                 reduction: float = CI_REDUCTION, curve_points: int = 8, allow_dirty: bool = False,
                 force: bool = False, resume: bool = False, progress: bool = True,
                 argv: list[str] | None = None, save_students_to=None):
    """The recorded CAT sweep from the task's shipped inception teacher: refuse
    a dirty tree (unless ``allow_dirty``), write ``out`` with its command,
    claims (and the retired ones), code version, teacher checksum, the gate and
    the trivial translators' scores and the machine before training, add the
    pruning report and seconds, append each run, mark it complete.  ``steps``:
    default the teacher's own steps (a student trains as long as its teacher
    did).  ``resume``: continue an interrupted ``out`` of the same command and
    package, keeping its finished runs.  ``save_students_to``: a folder that
    receives the first seed's networks, one file per arm, as each is trained."""
    from ..errors import GancompError
    from ..provenance import require_clean
    from ..shipped import refuse_existing
    from ..training.checkpoint import read_manifest, teacher_path
    from ..training.teachers import load_teacher

    if task not in TASKS:
        raise GancompError(f"the CAT sweep runs on {', '.join(TASKS)}, not {task!r}")
    if force and resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")
    version = require_clean(allow_dirty, "record a sweep")
    tpath = teacher_path(task, "ci", "inception")
    manifest = read_manifest(tpath)
    steps = steps or int(manifest["recipe"]["steps"])
    settings = dict(task=task, seeds=list(seeds), steps=steps, size=size,
                    batch_size=batch_size or TASKS[task][2], n_eval=n_eval, reduction=reduction,
                    curve_points=curve_points)
    save = Path(save_students_to).as_posix() if save_students_to else None
    line = command({**settings, "out": Path(out).as_posix(), "save_students": save})
    if save:
        refuse_existing([student_file(save, a, seeds[0]) for a in CAT_ARMS], force or resume)
    teacher, teacher_D = load_teacher(task, "ci", discriminator=True, arch="inception")
    record = results.ResultsFile(out, "cat", line, version, settings, CAT_CLAIMS, force=force,
                                 resume=resume, allow_dirty=version.endswith("+dirty"),
                                 teacher={"file": tpath.name, "sha256": manifest["sha256"],
                                          "steps": int(manifest["recipe"]["steps"]),
                                          "batch_size": int(manifest["recipe"]["batch_size"])},
                                 retired_claims=RETIRED_CLAIMS, judged_if=results.LEARNED_RULE,
                                 baselines=results.trivial_scores(task, n_eval, size), argv=argv)

    def keep(key, G):
        arm, _, seed = key
        if seed == seeds[0]:
            save_student(G, save, arm, seed, out, line, version, force=True)

    run(teacher=teacher, teacher_D=teacher_D, teacher_file=tpath, progress=progress, record=record,
        models=results.SavingDict(keep) if save else None, **settings)
    return record.finish()


def summarise(rows: list[dict], metric: str) -> list[dict]:
    """Mean and spread of ``metric`` per arm (the teacher is one value)."""
    return results.summarise(rows, ("arm",), metric, carry=("gmacs_256", "mparams"))


def verdicts(rows: list[dict], metric: str | None = None,
             trivial: dict[str, float] | None = None, seeds: int | None = None) -> dict[str, dict]:
    """Verdicts on :data:`CAT_CLAIMS` by the one rule, judged on ``metric``
    (default: the task's primary metric), each with its reason.  With
    ``trivial`` (the trivial translators' scores on ``metric``, as registered
    in the results file), a claim on an arm that does not clearly beat them is
    :data:`~.results.NOT_JUDGED`.  ``seeds``: the number of seeds the sweep
    registered; a claim on an arm with fewer finished runs (an unfinished
    sweep) is inconclusive, and says so."""
    metric = metric or results.primary_of(rows)
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    worse = "lower" if better == "higher" else "higher"
    lower_is_better = better == "lower"
    t = {s["arm"]: s for s in summarise(rows, metric)}

    def m(a):
        s = t[a]
        return f"{a} {s[f'{metric}_mean']:.4g}" + (f"±{s[f'{metric}_std']:.2g}" if s["seeds"] > 1 else "")

    def unfinished(*arms):
        short = [f"{a} ({t[a]['seeds'] if a in t else 0} of {seeds} seeds)" for a in arms
                 if a != "teacher" and seeds and (t[a]["seeds"] if a in t else 0) < seeds]
        return f"not finished yet: {', '.join(short)}" if short else None

    def judge(a, b, direction):
        if unfinished(a, b):
            return "inconclusive", unfinished(a, b)
        if a not in t or b not in t:
            return "inconclusive", f"{a} or {b} was not run"
        v, why = results.judged_verdict(t[a], t[b], metric, direction, trivial, lower_is_better)
        return v, f"{m(a)} vs {m(b)}: {why}"

    def against_teacher(a):
        if unfinished(a):
            return "inconclusive", unfinished(a)
        if a not in t or "teacher" not in t:
            return "inconclusive", f"{a} or the teacher was not run"
        if trivial:
            ok, failed = results.learned(t[a], trivial, metric, lower_is_better)
            if not ok:
                return results.NOT_JUDGED, f"{m(a)} does not clearly beat {', '.join(failed)}"
        value = t["teacher"][f"{metric}_mean"]
        v = results.verdict(results.compare_to_value(t[a][f"{metric}_values"], value), better)
        return v, f"{m(a)} vs the teacher's {value:.4g} (one network, a fixed value): {v}"

    out = {"ka_beats_mse": judge("ka", "mse", better),
           "ka_needs_recon": judge("ka-no-recon", "ka", worse),
           "distill_helps": judge("ka", "no-distill", better),
           "student_beats_teacher": against_teacher("ka"),
           "inherit_helps": judge("ka-inherited", "ka", better)}
    return {k: {"verdict": v, "reason": r, "metric": metric, "claim": k} for k, (v, r) in out.items()}
