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

:func:`pseudo_pair_verdicts` and :func:`ablation_verdicts` turn the rows into a
verdict per claim of the paper with the reason, using the one rule of
:func:`~gancomp_lite.experiments.results.compare`.
Explained in chapters ``nb/05_pseudo_pairs`` and ``nb/06_distillation``.
"""
from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from ..data import open_dataset
from ..metrics.cost import count_params, profile_macs
from ..metrics.quality import evaluate, test_set
from ..training.distill import StudentRecipe, student_trainer
from . import results

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


def arm_flags(arm: dict) -> dict:
    """Pr. / Dstl. / Keep D flags of an arm, as Table 3 writes them."""
    return {"prune": arm.get("init") == "l1", "distill": arm.get("distill_layers") is None,
            "keep_d": bool(arm.get("inherit_d"))}


def run(task: str, arms: dict[str, dict], teacher, teacher_D, widths=(8,), seeds=(0,),
        steps: int = 500, size: int = 64, batch_size: int = 1, n_train: int = 1000,
        n_eval: int = 64, mode: str | None = None, progress: bool = True, device: str = "cpu",
        models: dict | None = None) -> list[dict]:
    """Train every arm at every width and seed from ``teacher``; one row per run.

    ``mode`` (paired for paired tasks) applies to arms that set none.  Pass a
    dict as ``models`` to get the trained A->B students back, keyed by
    ``(arm, ngf, seed)``.  Each row: arm, ngf, seed, steps, its MACs at 256x256
    (``in-excluded``) and parameters, training seconds and the test-split
    metrics of :func:`~gancomp_lite.metrics.quality.evaluate`.
    """
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    data = test_set(task, n_eval, size, seed=0)
    rows = []
    jobs = [(a, w, s) for w in widths for a in arms for s in seeds]
    for arm, ngf, seed in tqdm(jobs, desc=f"{task} students", disable=not progress):
        settings = {"mode": mode or "paired", **arms[arm]}
        recipe = StudentRecipe(task=task, ngf=ngf, image_size=size, **settings)
        trainer = student_trainer(recipe, teacher, teacher_D, train, steps, batch_size, seed,
                                  device=device, progress=False)
        t0 = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - t0
        G = trainer.objective.translator()[0].cpu().eval()
        if models is not None:
            models[arm, ngf, seed] = G
        with torch.no_grad():
            q = evaluate(G, task, data=data, features="synthetic", baselines=False)
        rows.append({"arm": arm, "ngf": ngf, "seed": seed, "steps": steps, **arm_flags(settings),
                     "gmacs_256": profile_macs(G, 256) / 1e9, "mparams": count_params(G) / 1e6,
                     "train_seconds": seconds, **{k: v for k, v in q.items() if k != "n"}})
    return rows


def summarise(rows: list[dict], metric: str = "fid") -> list[dict]:
    """Mean and spread of ``metric`` per arm and width."""
    return results.summarise(rows, ("ngf", "arm"), metric, carry=("gmacs_256", "mparams"))


def _table(rows, metric):
    return {(s["ngf"], s["arm"]): s for s in summarise(rows, metric)}


def pseudo_pair_verdicts(rows: list[dict], metrics=("fid", "oracle_animal_w1")) -> dict[str, dict]:
    """Verdicts on GAN Compression's Fig. 7a claims (lower is better for all metrics).

    * ``pseudo_pairs_better_<metric>``: pseudo-pair training is clearly better
      than unpaired training at every width;
    * ``gap_grows_<metric>``: the advantage of pseudo-pairs is clearly larger
      at the smallest width than at the largest ("as the computation budget
      reduces, unpaired training degrades dramatically").
    """
    out = {}
    for metric in metrics:
        t = _table(rows, metric)
        widths = sorted({w for w, _ in t}, reverse=True)
        cmp = {w: results.compare(t[w, "pseudo-pairs"], t[w, "unpaired"], metric) for w in widths}
        if all(c == "lower" for c in cmp.values()):
            v = ("confirmed", f"pseudo-pairs have the clearly lower {metric} at every width")
        elif any(c == "higher" for c in cmp.values()):
            v = ("not confirmed", "unpaired training is clearly better at ngf "
                 + ", ".join(str(w) for w, c in cmp.items() if c == "higher"))
        else:
            v = ("inconclusive", "within seed spread at ngf "
                 + ", ".join(str(w) for w, c in cmp.items() if c == "same"))
        out[f"pseudo_pairs_better_{metric}"] = {"verdict": v[0], "reason": v[1]}

        def gap(w):
            return t[w, "unpaired"][f"{metric}_mean"] - t[w, "pseudo-pairs"][f"{metric}_mean"]

        def spread(w):
            return t[w, "unpaired"][f"{metric}_std"] + t[w, "pseudo-pairs"][f"{metric}_std"]

        big, small = widths[0], widths[-1]
        seeds = min(s["seeds"] for s in t.values())
        if len(widths) < 2 or seeds < 2:
            v = ("inconclusive", "needs two widths and at least two seeds")
        elif gap(small) - gap(big) > spread(small) + spread(big):
            v = ("confirmed", f"the advantage grows from {gap(big):.3g} at ngf {big} "
                 f"to {gap(small):.3g} at ngf {small}, beyond the seed spread")
        elif gap(big) - gap(small) > spread(small) + spread(big):
            v = ("not confirmed", f"the advantage shrinks from {gap(big):.3g} at ngf {big} "
                 f"to {gap(small):.3g} at ngf {small}, beyond the seed spread")
        else:
            v = ("inconclusive", f"advantage {gap(big):.3g} at ngf {big} vs {gap(small):.3g} "
                 f"at ngf {small}: the difference is within the seed spread")
        out[f"gap_grows_{metric}"] = {"verdict": v[0], "reason": v[1]}
    return out


def ablation_verdicts(rows: list[dict], metric: str = "fid") -> dict[str, dict]:
    """Verdicts on GAN Compression's Table 3 claims at each width of ``rows``
    (lower ``metric`` is better), judged at the largest width.

    * ``full_recipe_best``: pruning + distillation + keeping D is the best
      combination: no arm is clearly better, and it is clearly better than
      the keep-D baseline;
    * ``alone_not_significant``: pruning alone and distillation alone are
      not clearly better than the keep-D baseline ("solely pruning and
      distilling cannot render a significantly better result");
    * ``keep_d_helps``: for a pruned, distilled student, keeping the teacher's
      discriminator is clearly better than resetting it ("if the student
      discriminator is reset, the knowledge of the pruned student generator
      will be spoiled");
    * ``reset_d_below_scratch``: pruning + distillation with a reset
      discriminator is clearly worse than the keep-D from-scratch baseline
      ("even worse results than the from-scratch training baseline").
    """
    t = _table(rows, metric)
    ngf = max(w for w, _ in t)
    arms = [a for w, a in t if w == ngf]

    def c(a, b):
        return results.compare(t[ngf, a], t[ngf, b], metric)

    def m(a):
        return f"{a} {t[ngf, a][f'{metric}_mean']:.3g}±{t[ngf, a][f'{metric}_std']:.2g}"

    out = {}
    full, base = "prune+distill+keep-D", "keep-D"
    better = [a for a in arms if a != full and c(a, full) == "lower"]
    if better:
        out["full_recipe_best"] = ("not confirmed", f"{', '.join(map(m, better))} clearly beat {m(full)}")
    elif c(full, base) == "lower":
        out["full_recipe_best"] = ("confirmed", f"{m(full)}: no arm is clearly better and it "
                                   f"clearly beats {m(base)}")
    else:
        out["full_recipe_best"] = ("inconclusive", f"{m(full)} is not clearly better than {m(base)}")
    alone = ["prune+keep-D", "distill+keep-D"]
    sig = [a for a in alone if c(a, base) == "lower"]
    if sig:
        out["alone_not_significant"] = ("not confirmed", f"{', '.join(map(m, sig))} clearly "
                                        f"beat{'s' if len(sig) == 1 else ''} {m(base)}")
    elif min(t[ngf, a]["seeds"] for a in alone + [base]) < 2:
        out["alone_not_significant"] = ("inconclusive", "one seed: no spread to judge significance")
    else:
        out["alone_not_significant"] = ("confirmed", f"{', '.join(map(m, alone))}: neither clearly "
                                        f"beats {m(base)}")
    out["keep_d_helps"] = {
        "lower": ("confirmed", f"{m(full)} is clearly better than {m('prune+distill')}"),
        "higher": ("not confirmed", f"{m(full)} is clearly worse than {m('prune+distill')}"),
        "same": ("inconclusive", f"{m(full)} vs {m('prune+distill')}: within seed spread"),
    }[c(full, "prune+distill")]
    r = c("prune+distill", base)
    out["reset_d_below_scratch"] = {
        "higher": ("confirmed", f"{m('prune+distill')} is clearly worse than {m(base)}"),
        "lower": ("not confirmed", f"{m('prune+distill')} is clearly better than {m(base)}"),
        "same": ("inconclusive", f"{m('prune+distill')} vs {m(base)}: within seed spread"),
    }[r]
    return {k: {"verdict": v[0], "reason": v[1], "ngf": ngf} for k, v in out.items()}
