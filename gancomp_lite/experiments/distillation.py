"""GAN Compression's training-objective ablations: Fig. 7a and Table 3.

Both experiments train students of one width under one budget from the same
teacher and differ only in *how* the student is trained, so each is a dict of
named arms (:class:`~gancomp_lite.training.distill.StudentRecipe` settings)
run by :func:`run` at several widths and seeds:

* :data:`PSEUDO_PAIR_ARMS` (Fig. 7a, unpaired ``stripes``): the original
  unpaired CycleGAN training of the small model against training it on
  pseudo-pairs ``(x, G'(x))`` made by the teacher.  Both start from random
  weights with a fresh discriminator and no feature distillation, so only the
  objective differs.  Quality is FID and, because the synthetic world knows
  the true zebra of every horse, the oracle colour distance inside the animals.
* :data:`ABLATION_ARMS` (Table 3, a paired task): the paper's combinations of
  pruning (L1 filter selection from the teacher), intermediate distillation
  and keeping the teacher's discriminator, plus plain from-scratch training.
* :data:`DEPLOY_ARMS` (issue 25, a paired task): the same distillation recipe
  (feature distillation, the teacher's discriminator kept) for the papers'
  student (InstanceNorm, reflect padding) and for its deployment-friendly
  variant (BatchNorm, zero padding: every norm folds into its convolution at
  export), the quality cost of a network that a CPU runs faster.

:func:`pseudo_pair_verdicts` and :func:`ablation_verdicts` turn the rows into a
verdict per claim of the paper with the reason, using the one rule of
:func:`~gancomp_lite.experiments.results.compare`.
Explained in chapters ``nb/05_pseudo_pairs``, ``nb/06_distillation`` and
``nb/10b_deployment`` (the deployment-friendly student).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch
from ..progress import tqdm

from ..data import open_dataset
from ..metrics.cost import count_params, profile_macs
from ..models import describe
from ..metrics.quality import HIGHER_IS_BETTER, evaluate, test_set
from ..training.distill import StudentRecipe, student_trainer
from . import results

_RECIPE_FIELDS = {f.name for f in dataclasses.fields(StudentRecipe)}

#: Fig. 7a: only the objective differs
PSEUDO_PAIR_ARMS = {
    "unpaired": dict(mode="unpaired", init="random", inherit_d=False, distill_layers=[]),
    "pseudo-pairs": dict(mode="pseudo-pairs", init="random", inherit_d=False, distill_layers=[]),
}

#: Table 3: pruning (L1 init), distillation, keeping the teacher's D
ABLATION_ARMS = {
    "scratch": dict(init="random", inherit_d=False, distill_layers=[]),
    "keep-D": dict(init="random", inherit_d=True, distill_layers=[]),
    "prune+keep-D": dict(init="l1", inherit_d=True, distill_layers=[]),
    "distill+keep-D": dict(init="random", inherit_d=True, distill_layers=None),
    "prune+distill": dict(init="l1", inherit_d=False, distill_layers=None),
    "prune+distill+keep-D": dict(init="l1", inherit_d=True, distill_layers=None),
}

#: the paper's Table 3 (edges2shoes, FID, teacher ngf 64, student ngf 48), by arm
PAPER_TABLE3_FID = {"teacher": 24.91, "keep-D": 28.60, "prune+keep-D": 27.25,
                    "distill+keep-D": 26.32, "prune+distill": 46.24,
                    "prune+distill+keep-D": 24.45}


#: the deployment-friendly student against the standard one, by the same recipe (L1
#: initialisation is left out: it copies filters of an InstanceNorm teacher, whose scales
#: a BatchNorm student does not share)
DEPLOY_ARMS = {
    "standard": dict(init="random", inherit_d=True, distill_layers=None, deploy_friendly=False),
    "deploy-friendly": dict(init="random", inherit_d=True, distill_layers=None,
                            deploy_friendly=True),
}


def arm_flags(arm: dict) -> dict:
    """Pr. / Dstl. / Keep D flags of an arm, as Table 3 writes them (and
    ``deploy_friendly`` where an arm sets it)."""
    flags = {"prune": arm.get("init") == "l1", "distill": arm.get("distill_layers") is None,
             "keep_d": bool(arm.get("inherit_d"))}
    if "deploy_friendly" in arm:
        flags["deploy_friendly"] = bool(arm["deploy_friendly"])
    return flags


#: Fig. 7a claims, registered in the results file before the run
PSEUDO_PAIR_CLAIMS = {
    "pseudo_pairs_better": "Training the small model on pseudo-pairs gives clearly better "
                           "quality than training it unpaired (CycleGAN), at every width.",
    "gap_grows": "The advantage of pseudo-pairs is clearly larger at the smallest width than "
                 "at the largest ('as the computation budget reduces, unpaired training "
                 "degrades dramatically').",
}

#: Table 3 claims, registered in the results file before the run
ABLATION_CLAIMS = {
    "full_recipe_best": "Pruning + distillation + keeping D is clearly better than every other arm.",
    "alone_not_significant": "Pruning alone and distillation alone are not significantly better "
                             "than the keep-D baseline (a claim of no effect: a tie cannot "
                             "confirm it, a clear improvement refutes it).",
    "keep_d_helps": "For a pruned, distilled student, keeping the teacher's discriminator is "
                    "clearly better than resetting it.",
    "reset_d_below_scratch": "Pruning + distillation with a reset discriminator is clearly worse "
                             "than the keep-D from-scratch baseline.",
}


#: issue 25's claim, registered in the results file before the run
DEPLOY_CLAIMS = {
    "deploy_friendly_not_worse": "The deployment-friendly student (BatchNorm, zero padding) is not "
                                 "clearly worse than the standard student (InstanceNorm, reflect "
                                 "padding) trained by the same recipe (a tie cannot confirm it, a "
                                 "clear loss refutes it, a clear gain confirms it).",
}


def run(task: str, arms: dict[str, dict], teacher, teacher_D, widths=(8,), seeds=(0,),
        steps: int = 500, size: int = 64, batch_size: int = 1, n_train: int = 1000,
        n_eval: int = 512, mode: str | None = None, progress: bool = True, device: str = "cpu",
        models: dict | None = None, record=None, curve_points: int = 0,
        convention: str = "in-excluded", describe_arm=arm_flags) -> list[dict]:
    """Train every arm at every width and seed from ``teacher``; one row per run.

    ``mode`` (paired for paired tasks) applies to arms that set none.  An
    arm's keys that are not :class:`StudentRecipe` fields only describe it
    (they reach ``describe_arm``).  Pass a
    dict as ``models`` to get the trained A->B students back, keyed by
    ``(arm, ngf, seed)``; a :class:`~.results.ResultsFile` as ``record`` to
    append each row as it finishes; ``curve_points`` > 0 for a learning curve
    per run.  Each row: arm, ngf, seed, steps, ``describe_arm(settings)``
    (default: Table 3's flags), its MACs at 256x256 in ``convention`` (named in
    the row) and parameters, training seconds and the test-split metrics of
    :func:`~gancomp_lite.metrics.quality.evaluate`.  The caller's ``teacher``
    and ``teacher_D`` are never changed.
    """
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    data = test_set(task, n_eval, size, seed=0)
    probe = {k: v[:64] for k, v in data.items()}
    rows = []
    costs: dict[str, tuple[float, float]] = {}   # by architecture: profiling traces a whole forward
    jobs = [(a, w, s) for w in widths for a in arms for s in seeds]
    for arm, ngf, seed in tqdm(jobs, desc=f"{task} students", disable=not progress):
        if record is not None and record.has(arm=arm, ngf=ngf, seed=seed):
            # finished in an earlier session of a resumed run: its stored row stands
            rows.append(next(r for r in record.data["rows"]
                             if (r["arm"], r["ngf"], r["seed"]) == (arm, ngf, seed)))
            continue
        settings = {"mode": mode or "paired", **arms[arm]}
        recipe = StudentRecipe(task=task, ngf=ngf, image_size=size,
                               **{k: v for k, v in settings.items() if k in _RECIPE_FIELDS})
        trainer = student_trainer(recipe, teacher, teacher_D, train, steps, batch_size, seed,
                                  device=device, progress=False)
        t0 = time.perf_counter()
        G = trainer.objective.translator()[0]
        curve = (results.fit_with_curve(trainer, lambda: G, probe, task, curve_points)
                 if curve_points else (trainer.fit(), None)[1])
        seconds = time.perf_counter() - t0
        G = G.cpu().eval()
        if models is not None:
            models[arm, ngf, seed] = G
        with torch.no_grad():
            q = evaluate(G, task, data=data, features="synthetic", baselines=False)
        arch = json.dumps(describe(G), sort_keys=True)
        if arch not in costs:
            costs[arch] = profile_macs(G, 256, convention) / 1e9, count_params(G) / 1e6
        row = {"arm": arm, "ngf": ngf, "seed": seed, "steps": steps, **describe_arm(settings),
               "gmacs_256": costs[arch][0], "macs_convention": convention, "mparams": costs[arch][1],
               "train_seconds": seconds, **{k: v for k, v in q.items() if k != "n"}}
        results.keep_row(rows, row, curve, record)
    return rows


EXPERIMENTS = {"pseudo-pairs": ("stripes", 1), "ablation": ("edges2shapes", 4),
               "deploy-friendly": ("edges2shapes", 4)}
#: each experiment's arms and registered claims
_ARMS = {"pseudo-pairs": (PSEUDO_PAIR_ARMS, PSEUDO_PAIR_CLAIMS),
         "ablation": (ABLATION_ARMS, ABLATION_CLAIMS),
         "deploy-friendly": (DEPLOY_ARMS, DEPLOY_CLAIMS)}


#: the manifest kind of a network saved by ``sweep-distillation --save-students``
SWEEP_STUDENT_KIND = "distillation sweep student"


def command(experiment: str, settings: dict) -> str:
    """The command line that re-runs a recorded sweep with ``settings``."""
    save = f" --save-students {settings['save_students']}" if settings.get("save_students") else ""
    return ("gancomp-lite sweep-distillation {exp} --task {task} --widths {w} --seeds {s} "
            "--steps {steps} --size {size} --batch-size {batch_size} --n {n_eval} "
            "--curve-points {curve_points} --out {out}{save}").format(
        exp=experiment, w=" ".join(map(str, settings["widths"])),
        s=" ".join(map(str, settings["seeds"])), save=save,
        **{k: v for k, v in settings.items() if k != "save_students"})


def student_file(directory, experiment: str, arm: str, ngf: int, seed: int) -> Path:
    """Where ``--save-students DIRECTORY`` puts ``arm``'s network of width ``ngf`` and ``seed``."""
    return Path(directory) / f"{experiment}-{arm}-ngf{ngf}-seed{seed}.pt"


def run_recorded(experiment: str, out, task: str | None = None, widths=(8, 4), seeds=(0, 1, 2),
                 steps: int = 500, size: int = 64, batch_size: int | None = None,
                 n_eval: int = 512, curve_points: int = 8, allow_dirty: bool = False,
                 force: bool = False, resume: bool = False, progress: bool = True,
                 argv: list[str] | None = None, save_students_to=None):
    """A recorded sweep (``pseudo-pairs`` = Fig. 7a, ``ablation`` = Table 3,
    ``deploy-friendly`` = issue 25's quality check) from the task's shipped teacher: refuse a dirty tree (unless
    ``allow_dirty``), write ``out`` with its command, claims, code version,
    teacher checksum and machine *before* training, append each run, mark it
    complete at the end.  ``resume``: continue an interrupted ``out`` made by
    the same command and package, keeping its finished runs.
    ``save_students_to``: a folder that receives every arm's network of the
    first seed as it finishes (:func:`student_file`)."""
    from ..errors import GancompError
    from ..provenance import require_clean
    from ..shipped import refuse_existing
    from ..training.checkpoint import read_manifest, teacher_path
    from ..training.teachers import load_or_train_teacher

    if experiment not in EXPERIMENTS:
        raise GancompError(f"unknown experiment {experiment!r}: expected one of "
                           f"{', '.join(EXPERIMENTS)}")
    version = require_clean(allow_dirty, "record a sweep")
    default_task, default_batch = EXPERIMENTS[experiment]
    task = task or default_task
    settings = dict(task=task, widths=list(widths), seeds=list(seeds), steps=steps, size=size,
                    batch_size=batch_size or default_batch, n_eval=n_eval,
                    curve_points=curve_points)
    teacher, teacher_D = load_or_train_teacher(task, discriminator=True)
    tpath = teacher_path(task, "ci")
    tinfo = {"file": tpath.name, "sha256": read_manifest(tpath)["sha256"]} if tpath.exists() else None
    arms, claims = _ARMS[experiment]
    save = Path(save_students_to).as_posix() if save_students_to else None
    if save:
        refuse_existing([student_file(save, experiment, a, w, seeds[0]) for a in arms
                         for w in widths], force or resume)
    extra = ({"judged_if": results.LEARNED_RULE,
              "baselines": results.trivial_scores(task, n_eval, size)}
             if experiment == "deploy-friendly" else {})
    record = results.ResultsFile(out, f"distillation-{experiment}",
                                 command(experiment, {**settings, "out": Path(out).as_posix(),
                                                      "save_students": save}),
                                 version, settings, claims, force=force, resume=resume,
                                 allow_dirty=version.endswith("+dirty"), teacher=tinfo, argv=argv,
                                 **extra)
    def keep(key, G):
        arm, ngf, seed = key
        if seed == seeds[0]:
            results.save_sweep_student(G, student_file(save, experiment, arm, ngf, seed),
                                       SWEEP_STUDENT_KIND, f"distillation-{experiment}", arm, seed,
                                       out, record.data["command"], version, force=True)

    run(arms=arms, teacher=teacher, teacher_D=teacher_D,
        mode="pseudo-pairs" if experiment == "pseudo-pairs" else None, progress=progress,
        record=record, models=results.SavingDict(keep) if save else None, **settings)
    return record.finish()


def summarise(rows: list[dict], metric: str = "fid") -> list[dict]:
    """Mean and spread of ``metric`` per arm and width."""
    return results.summarise(rows, ("ngf", "arm"), metric, carry=("gmacs_256", "mparams"))


def _table(rows, metric):
    return {(s["ngf"], s["arm"]): s for s in summarise(rows, metric)}


def _better(metric: str) -> tuple[str, str]:
    return ("higher", "lower") if metric in HIGHER_IS_BETTER else ("lower", "higher")


def pseudo_pair_verdicts(rows: list[dict], metrics=None) -> dict[str, dict]:
    """Verdicts on :data:`PSEUDO_PAIR_CLAIMS`, one per claim and metric
    (``CLAIM_METRIC``; default metrics: the oracle colour distance, the
    primary evidence, then FID and KID), each naming its metric.

    * ``pseudo_pairs_better``: pseudo-pairs clearly better at every width;
    * ``gap_grows``: the seed-matched advantage (unpaired minus pseudo-pairs,
      per seed) is clearly larger at the smallest width than at the largest.
    """
    metrics = metrics or [m for m in ("oracle_animal_w1", "fid", "kid") if m in rows[0]]
    out = {}
    for metric in metrics:
        better, worse = _better(metric)
        t = _table(rows, metric)
        widths = sorted({w for w, _ in t}, reverse=True)
        parts = {w: results.verdict(results.compare(t[w, "pseudo-pairs"], t[w, "unpaired"], metric),
                                    better) for w in widths}
        out[f"pseudo_pairs_better_{metric}"] = {
            "verdict": results.combine(list(parts.values())), "metric": metric,
            "claim": "pseudo_pairs_better",
            "reason": "; ".join(f"ngf {w}: pseudo-pairs {t[w, 'pseudo-pairs'][f'{metric}_mean']:.3g} "
                                f"vs unpaired {t[w, 'unpaired'][f'{metric}_mean']:.3g}: {p}"
                                for w, p in parts.items())}

        def gaps(w):
            by_seed = {r["seed"]: r[metric] for r in rows if r["ngf"] == w and r["arm"] == "unpaired"}
            return [by_seed[r["seed"]] - r[metric] for r in sorted(rows, key=lambda r: r["seed"])
                    if r["ngf"] == w and r["arm"] == "pseudo-pairs" and r["seed"] in by_seed]

        big, small = widths[0], widths[-1]
        if len(widths) < 2:
            v, why = "inconclusive", "needs two widths"
        else:
            g_big, g_small = gaps(big), gaps(small)
            # the advantage is "unpaired minus pseudo-pairs": larger means pseudo-pairs help more
            # for a lower-is-better metric; for higher-is-better ones the sign flips
            outcome = results.compare_values(g_small, g_big)
            v = results.verdict(outcome, "higher" if better == "lower" else "lower")
            mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
            why = (f"advantage {mean(g_big):.3g} at ngf {big} vs {mean(g_small):.3g} at ngf {small} "
                   f"(seed-matched): {v}")
        out[f"gap_grows_{metric}"] = {"verdict": v, "reason": why, "metric": metric,
                                      "claim": "gap_grows"}
    return out


def ablation_verdicts(rows: list[dict], metric: str | None = None) -> dict[str, dict]:
    """Verdicts on :data:`ABLATION_CLAIMS` at the largest width of ``rows``,
    judged on ``metric`` (default: the primary metric, paired L1), each with
    its reason and metric.  Every comparison is the rule of
    :func:`~.results.compare`; a tie is inconclusive, so the claim of no
    effect (``alone_not_significant``) can be refuted but never confirmed.
    """
    metric = metric or results.primary_of(rows)
    better, worse = _better(metric)
    t = _table(rows, metric)
    ngf = max(w for w, _ in t)
    arms = [a for w, a in t if w == ngf]

    def c(a, b):
        return results.compare(t[ngf, a], t[ngf, b], metric)

    def m(a):
        return f"{a} {t[ngf, a][f'{metric}_mean']:.3g}±{t[ngf, a][f'{metric}_std']:.2g}"

    out = {}
    full, base = "prune+distill+keep-D", "keep-D"
    parts = {a: results.verdict(c(full, a), better) for a in arms if a != full}
    out["full_recipe_best"] = (results.combine(list(parts.values())), f"{m(full)} vs " + ", ".join(
        f"{m(a)} ({p})" for a, p in parts.items()))
    alone = ["prune+keep-D", "distill+keep-D"]
    sig = [a for a in alone if c(a, base) == better]
    out["alone_not_significant"] = (
        ("not confirmed", f"{', '.join(map(m, sig))} clearly beat{'s' if len(sig) == 1 else ''} {m(base)}")
        if sig else ("inconclusive", f"{', '.join(map(m, alone))} vs {m(base)}: no clear "
                     "improvement, and a tie cannot confirm a claim of no effect"))
    v = results.verdict(c(full, "prune+distill"), better)
    out["keep_d_helps"] = (v, f"{m(full)} vs {m('prune+distill')}: {v}")
    v = results.verdict(c("prune+distill", base), worse)
    out["reset_d_below_scratch"] = (v, f"{m('prune+distill')} vs {m(base)}: {v}")
    return {k: {"verdict": v[0], "reason": v[1], "ngf": ngf, "metric": metric, "claim": k}
            for k, v in out.items()}


def deploy_verdicts(rows: list[dict], trivial: dict[str, float] | None = None,
                    metric: str | None = None) -> dict[str, dict]:
    """The verdict on :data:`DEPLOY_CLAIMS` at every width of ``rows`` (on
    ``metric``, default the primary one, paired L1), gated by the trivial
    translators ``trivial``: a clear loss of the deployment-friendly student
    refutes the claim, a clear gain confirms it, a tie is inconclusive; each
    with the difference of the means beside the spread of the standard arm's
    seeds, its noise floor."""
    metric = metric or results.primary_of(rows)
    better, worse = _better(metric)
    t = _table(rows, metric)
    out = {}
    for ngf in sorted({w for w, _ in t}):
        std, dep = {**t[ngf, "standard"], "arm": "standard"}, {**t[ngf, "deploy-friendly"],
                                                             "arm": "deploy-friendly"}
        v, why = results.judged_verdict(dep, std, metric, worse, trivial)
        # "clearly worse" confirmed refutes the claim; "clearly worse" refuted (a clear gain)
        # is a difference in the claimed direction
        verdict = {"confirmed": "not confirmed", "not confirmed": "confirmed"}.get(v, v)
        diff = dep[f"{metric}_mean"] - std[f"{metric}_mean"]
        out[f"deploy_friendly_not_worse@ngf{ngf}"] = {
            "verdict": verdict, "claim": "deploy_friendly_not_worse", "metric": metric,
            "ngf": ngf, "difference": diff, "standard_std": std[f"{metric}_std"],
            "reason": (f"deploy-friendly {dep[f'{metric}_mean']:.4g}±{dep[f'{metric}_std']:.2g} vs "
                       f"standard {std[f'{metric}_mean']:.4g}±{std[f'{metric}_std']:.2g} at ngf "
                       f"{ngf}: {why}" + ("" if verdict != "inconclusive" else
                                           "; a tie cannot confirm a claim of no effect"))}
    return out
