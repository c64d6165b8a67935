"""Every method at equal cost on one task, under one protocol.

The papers compare themselves with numbers copied from each other: other
teachers, schedules, FID protocols and checkpoint rules.  This experiment runs
every method of the book on the paired ``edges2shapes`` task (its exact metric:
L1 to the true target) the same way:

* **budgets**: the MACs of the uniform Mobile ResNet at width ``ngf k`` for
  each ``k`` of :data:`BUDGET_NGFS` (256x256, :data:`CONVENTION`, GAN
  Compression's README count): about 1/10.5 and 1/5.9 of the ``ci``
  teacher's MACs.  Every student is within :data:`BUDGET_TOLERANCE` below its
  budget (checked, recorded per row);
* **methods** (:data:`METHODS`), each by its own paper's recipe, 3 seeds:

  - ``scratch``: the uniform student trained alone (pix2pix, fresh D);
  - ``gan-compression``: the uniform student, intermediate feature
    distillation, the teacher's D.  Not L1-initialised: that copies filters
    from a teacher of the same layout (GAN Compression first trains a
    full-width Mobile ResNet), and the shared teacher is a plain ResNet;
  - ``once-for-all``: a uniformly sampled supernet trained by the distiller,
    the evolutionary search under the budget on held-out training items (among
    subnets within the tolerance of the budget), then fine-tuned;
  - ``cat``: the inception teacher cut by one-step pruning to the budget, the
    student re-initialised and distilled with kernel alignment;
  - ``omgd`` and ``crd``: online distillation (OMGD's and CRD's paired losses)
    of the uniform student, one online teacher (the ``ci`` teacher's width)
    trained with them from scratch and shared by the two students;

* **schedule**: every student trains the ``ci`` teacher's own steps;
* **per run**: the exact metric, FID and KID on the test split; parameters;
  the latency of the student on its fastest CPU runtime
  (:func:`~gancomp_lite.metrics.latency.benchmark`, 256x256, batch 1); and
  ``cost_seconds``, the compute of everything the method needs for this
  student besides the shared pre-trained teacher: supernet training and search,
  pruning, the online teacher, in CPU seconds of the process (:data:`CLOCK`);
* **checkpoint protocols** (:func:`protocols`), from L1 measured at
  ``points`` evenly spaced steps on the whole test split and on held-out
  training items: ``last`` (the book's), ``best-on-test`` (the best of the
  evaluations on the test split, as the released code of OMGD, CRD and DCD
  selects), and ``held-out`` (the step best on held-out training items, judged
  on the test split: the honest way to select).

Claims are registered before the run (:data:`CLAIMS`); :func:`verdicts` judges
them by the one rule, gated by the trivial translators; :func:`ranking` orders
the methods per budget with the rule's verdict for each adjacent pair.
Explained in chapter ``nb/11_comparison``, which reads the recorded file.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from ..metrics.quality import evaluate, paired_metrics, test_set, translate
from ..progress import tqdm
from . import results
# the budgets as the once-for-all chapter defines them: the uniform Mobile ResNet's MACs at
# 256x256 in GAN Compression's README convention (``in-counted``)
from .ofa import CONVENTION, budget_of

TASK = "edges2shapes"
#: the uniform Mobile ResNet widths whose MACs are the budgets (1/10.5 and 1/5.9 of the teacher)
BUDGET_NGFS = (7, 10)
#: how far below its budget a student may be (every student is at most its budget)
BUDGET_TOLERANCE = 0.05
METHODS = ("scratch", "gan-compression", "once-for-all", "cat", "omgd", "crd")
#: the papers' own recipe of each method, as one line for the protocol table
RECIPES = {
    "scratch": "uniform Mobile ResNet, pix2pix loss, fresh discriminator, no teacher",
    "gan-compression": "uniform Mobile ResNet, feature distillation with 1x1 mappings, the "
                       "teacher's discriminator; random initialisation (deviation: L1 "
                       "initialisation needs a Mobile ResNet teacher, the shared one is a "
                       "plain ResNet)",
    "once-for-all": "supernet (uniform sampling) by the distiller, evolutionary search on "
                    "held-out training items, fine-tuned",
    "cat": "inception teacher pruned in one step to the budget, re-initialised, KA distillation",
    "omgd": "online teacher trained with the student, OMGD's paired loss",
    "crd": "online teacher trained with the student, CRD's paired loss (content relations)",
}
#: What the papers themselves report when they rank these methods, as printed (FID, lower
#: is better; MACs as each paper counts them), with the table it comes from and how the
#: number was selected.  Facts cited from the papers, not results of this book: chapter 11
#: sets them beside its own ranking.  The CAT paper's own tables are not among the
#: project's paper texts; its horse2zebra number is the one CRD copies.
PAPER_RESULTS = (
    # (task, method, teacher as the paper states it, GMACs, FID, source, checkpoint rule)
    ("edges2shoes", "teacher (ResNet pix2pix)", "ResNet ngf 64", 56.8, 24.18,
     "GAN Compression, Table 1", "released latest_net_G (last)"),
    ("edges2shoes", "GAN Compression", "ResNet ngf 64", 4.81, 26.60,
     "GAN Compression, Table 1", "released latest_net_G (last)"),
    ("edges2shoes", "teacher (U-Net pix2pix)", "U-Net ngf 64", 18.60, 34.31,
     "CRD, Table 2", "best of evaluations on the test split"),
    ("edges2shoes", "OMGD", "U-Net ngf 64", 1.219, 25.00, "CRD, Table 2",
     "best of evaluations on the test split"),
    ("edges2shoes", "CRD", "U-Net ngf 64", 1.219, 24.35, "CRD, Table 2",
     "best of evaluations on the test split"),
    ("horse2zebra", "teacher (ResNet CycleGAN)", "ResNet ngf 64", 56.80, 61.53,
     "CRD, Table 1", "as each source reports"),
    ("horse2zebra", "GAN Compression", "ResNet ngf 64", 2.67, 64.95,
     "CRD, Table 1 (GAN Compression's 'w/o fine-tuning' row)", "as GAN Compression reports"),
    ("horse2zebra", "CAT", "inception ResNet", 2.55, 60.18, "CRD, Table 1 (copied from CAT)",
     "as CAT reports"),
    ("horse2zebra", "OMGD", "mobile ResNet ngf 64", 1.408, 51.92, "CRD, Table 1",
     "best of evaluations on the test split"),
    ("horse2zebra", "CRD", "mobile ResNet ngf 64", 1.408, 46.61, "CRD, Table 1",
     "best of evaluations on the test split"),
)
PROTOCOLS = ("last", "best-on-test", "held-out")
#: held-out training items a run is evaluated on (the held-out protocol)
N_HELD = 128


def _claims(budget_ngfs=BUDGET_NGFS) -> dict[str, str]:
    """The claims a comparison at the budgets of ``budget_ngfs`` registers."""
    c = {}
    for k in budget_ngfs:
        at = f"at the MACs of the uniform ngf-{k} Mobile ResNet"
        c[f"gc_beats_scratch@ngf{k}"] = (f"GAN Compression: {at}, its recipe gives a clearly better "
                                         f"student than the same network trained from scratch.")
        c[f"ofa_beats_gc@ngf{k}"] = (f"GAN Compression: {at}, the once-for-all subnet (searched, "
                                     f"fine-tuned) is clearly better than the distilled uniform "
                                     f"student.")
        c[f"cat_beats_gc@ngf{k}"] = (f"CAT: {at}, the pruned, KA-distilled inception student is "
                                     f"clearly better than GAN Compression's.")
        c[f"omgd_beats_gc@ngf{k}"] = (f"OMGD: {at}, online distillation gives a clearly better "
                                      f"student than GAN Compression's.")
        c[f"crd_beats_omgd@ngf{k}"] = (f"CRD: {at}, CRD's content relations on OMGD's online "
                                       f"distillation give a clearly better student than OMGD.")
    return c


CLAIMS = _claims()


def macs_of(G) -> int:
    from ..metrics.cost import profile_macs

    return profile_macs(G, 256, CONVENTION)


def reachable(methods=METHODS, teacher=None, inception=None) -> dict[str, list[int]]:
    """For each method of ``methods``, the widths ``k`` whose budget
    (:func:`budget_of`) it can meet within :data:`BUDGET_TOLERANCE` below: a
    uniform student below the teacher's MACs; a once-for-all subnet of the
    search space; CAT's one-step pruning of the inception teacher (whose steps
    between thresholds can jump past the band, so its widths may have gaps)."""
    from ..compression.ofa import search_space, subnet_macs
    from ..errors import BudgetError
    from ..training.teachers import load_teacher

    teacher = teacher if teacher is not None else load_teacher(TASK, "ci")
    top = macs_of(teacher)
    widths = [w for w in range(1, 257) if budget_of(w) < top]
    out = {m: widths for m in methods if m not in ("once-for-all", "cat")}
    if "once-for-all" in methods:
        from .ofa import SPACE

        sp = search_space(SPACE)
        small, large = (subnet_macs(c, 256, CONVENTION) for c in (sp.smallest(), sp.largest()))
        out["once-for-all"] = [w for w in widths if budget_of(w) >= small
                               and (1 - BUDGET_TOLERANCE) * budget_of(w) <= large]
    if "cat" in methods:
        from ..compression.one_step import one_step_prune

        inception = inception if inception is not None else load_teacher(TASK, "ci",
                                                                          arch="inception")
        out["cat"] = []
        for w in widths:
            try:
                _, report = one_step_prune(inception, budget_of(w), size=256,
                                           convention=CONVENTION)
            except BudgetError:
                continue
            if report.macs >= (1 - BUDGET_TOLERANCE) * budget_of(w):
                out["cat"].append(w)
    return out


def width_spans(widths) -> str:
    """``[3, 4, 5, 7]`` as ``"3-5, 7"`` (``"none"`` when empty)."""
    spans, ws = [], sorted(widths)
    for w in ws:
        if spans and w == spans[-1][1] + 1:
            spans[-1][1] = w
        else:
            spans.append([w, w])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans) or "none"


def check_budgets(budget_ngfs, methods=METHODS, teacher=None, inception=None) -> None:
    """Refuse, before anything trains, a budget that some method of
    ``methods`` cannot meet (:func:`reachable`): one
    :class:`~gancomp_lite.errors.BudgetError` naming the method, the widths it
    reaches and those every method of the comparison reaches."""
    from ..errors import BudgetError

    ks = list(budget_ngfs)
    if not ks:
        raise BudgetError("the comparison needs at least one budget (--budget-ngfs)")
    if len(set(ks)) != len(ks):
        raise BudgetError(f"a budget is given twice: --budget-ngfs {' '.join(map(str, ks))}")
    ranges = reachable(methods, teacher, inception)
    every = set.intersection(*(set(r) for r in ranges.values()))
    for k in ks:
        for m, ok in ranges.items():
            if k not in ok:
                raise BudgetError(
                    f"{m} cannot meet the ngf-{k} budget ({budget_of(k) / 1e9:.4g}G MACs, "
                    f"{CONVENTION}, within {BUDGET_TOLERANCE:.0%} below): {m} reaches ngf "
                    f"{width_spans(ok)}; every method of this comparison reaches --budget-ngfs "
                    f"{width_spans(every)}")


#: the manifest kind of a network saved by ``sweep-comparison --save-students``
SWEEP_STUDENT_KIND = "comparison sweep student"


def student_file(directory, method: str, k: int, seed: int) -> Path:
    """Where ``--save-students DIRECTORY`` puts ``method``'s student at the ngf-``k`` budget."""
    return Path(directory) / f"comparison-{method}-ngf{k}-seed{seed}.pt"


# -- the protocol -------------------------------------------------------------------

def l1_of(G, data: dict, batch_size: int = 32) -> float:
    with torch.no_grad():
        return float(paired_metrics(translate(G.eval(), data["A"], batch_size), data["B"])["l1"])


def fit_protocol(trainer, generators: dict, test: dict, held: dict, points: int) -> dict:
    """Train ``trainer`` to its end, measuring each generator (``{name:
    callable returning it}``) at ``points`` evenly spaced steps (the last is
    the final step) on the whole ``test`` split and on the ``held`` out
    training items.  Returns ``{name: {"step", "l1", "held_out_l1"}}``: the
    curves :func:`protocols` selects from (``l1`` on the test split).  The
    networks are put back in training mode after each measurement."""
    total = trainer.total_steps
    marks = sorted({max(1, round(total * (i + 1) / points)) for i in range(max(1, points))})
    curves = {n: {"step": [], "l1": [], "held_out_l1": []} for n in generators}
    for mark in marks:
        trainer.fit(until=mark)
        for name, get in generators.items():
            G = get()
            was = G.training
            curves[name]["step"].append(mark)
            curves[name]["l1"].append(l1_of(G, test))
            curves[name]["held_out_l1"].append(l1_of(G, held))
            G.train(was)
    return curves


def protocols(curve: dict) -> dict[str, float]:
    """The test L1 each checkpoint protocol reports from one run's ``curve``
    (:func:`fit_protocol`): ``last``, ``best-on-test`` (the lowest test value),
    ``held-out`` (the test value at the step with the lowest held-out value;
    the earliest such step on ties), and ``best_step`` / ``held_out_step``."""
    test, held, steps = curve["l1"], curve["held_out_l1"], curve["step"]
    if not test or len(test) != len(held) or len(test) != len(steps):
        from ..errors import GancompError

        raise GancompError("a protocol curve needs as many test and held-out values as steps")
    best = min(range(len(test)), key=lambda i: (test[i], i))
    pick = min(range(len(held)), key=lambda i: (held[i], i))
    return {"last": test[-1], "best-on-test": test[best], "held-out": test[pick],
            "best_step": steps[best], "held_out_step": steps[pick]}


# -- the methods ----------------------------------------------------------------------

class _Context:
    """What every run of a sweep shares: data, teachers, the trivial scores."""

    def __init__(self, task, steps, size, batch_size, n_train, n_eval, n_held, points, device,
                 teacher=None, teacher_D=None, inception=None, inception_D=None):
        from ..compression.ofa import held_out_split
        from ..data import open_dataset
        from ..training.teachers import load_teacher

        self.task, self.steps, self.size, self.batch_size = task, steps, size, batch_size
        self.n_train, self.points, self.device = n_train, points, device
        self.train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
        self.test = test_set(task, n_eval, size, seed=0)
        self.held = held_out_split(task, n_train, n_held, size)
        if teacher is None:
            teacher, teacher_D = load_teacher(task, "ci", discriminator=True)
        self.teacher, self.teacher_D = teacher, teacher_D
        self._inception = (inception, inception_D) if inception is not None else None

    def inception(self):
        from ..training.teachers import load_teacher

        if self._inception is None:
            self._inception = load_teacher(self.task, "ci", discriminator=True, arch="inception")
        return self._inception

    def quality(self, G) -> dict:
        with torch.no_grad():
            q = evaluate(G.cpu().eval(), self.task, data=self.test, features="synthetic",
                         baselines=False)
        return {k: v for k, v in q.items() if k != "n"}


#: the clock of ``cost_seconds``: the process's CPU time, which counts the compute a method
#: needs and not other processes on the machine or a paused run; for a run on one thread on
#: an idle core it equals the wall time (the curve evaluations are inside it, alike for all)
CLOCK = "process CPU seconds (time.process_time)"
_clock = time.process_time


def _student_run(ctx: _Context, recipe, teacher, teacher_D, steps: int, seed: int):
    """Train one distiller student; returns (network, curve, seconds)."""
    from ..training.distill import student_trainer

    trainer = student_trainer(recipe, teacher, teacher_D, ctx.train, steps, ctx.batch_size, seed,
                              device=ctx.device, progress=False)
    G_of = lambda: trainer.objective.translator()[0]  # noqa: E731
    t0 = _clock()
    curve = fit_protocol(trainer, {"G": G_of}, ctx.test, ctx.held, ctx.points)["G"]
    return G_of().cpu().eval(), curve, _clock() - t0


def run_distiller(ctx: _Context, method: str, k: int, seed: int) -> list[tuple]:
    """``scratch`` or ``gan-compression`` at width ``k``: [(method, G, curve, cost, extra)]."""
    from ..training.distill import StudentRecipe

    arm = (dict(init="random", inherit_d=False, distill_layers=[]) if method == "scratch"
           # L1 initialisation copies filters from a teacher of the same layout (GAN Compression
           # first trains a full-width Mobile ResNet teacher); the shared teacher is a plain
           # ResNet, so the student starts from random weights: a stated deviation
           else dict(init="random", inherit_d=True, distill_layers=None))
    recipe = StudentRecipe(task=ctx.task, student="mobile_resnet", ngf=k, image_size=ctx.size,
                           mode="paired", **arm)
    G, curve, seconds = _student_run(ctx, recipe, ctx.teacher, ctx.teacher_D, ctx.steps, seed)
    return [(method, G, curve, seconds, {"train_seconds": seconds})]


def run_cat(ctx: _Context, k: int, seed: int, tmp: Path) -> list[tuple]:
    """CAT at the ngf-``k`` budget: one-step pruning of the inception teacher, KA."""
    from ..compression.one_step import inherit_weights, one_step_prune
    from ..training.checkpoint import save_pruned, teacher_path
    from ..training.distill import StudentRecipe
    from .cat import TASKS

    teacher, teacher_D = ctx.inception()
    t0 = _clock()
    _, report = one_step_prune(teacher, budget_of(k), size=256, convention=CONVENTION)
    prune_seconds = _clock() - t0
    start = save_pruned(inherit_weights(teacher, report), report, tmp / f"cat-{k}-{seed}.pt",
                        teacher_path(ctx.task, "ci", "inception"), inherit=False,
                        command="experiments.comparison")
    recipe = StudentRecipe(task=ctx.task, student_file=str(start), image_size=ctx.size,
                           mode=TASKS[ctx.task][1], distill_loss="ka",
                           loss_preset=TASKS[ctx.task][0])
    G, curve, seconds = _student_run(ctx, recipe, teacher, teacher_D, ctx.steps, seed)
    return [("cat", G, curve, prune_seconds + seconds,
             {"train_seconds": seconds, "prune_seconds": prune_seconds})]


def run_online(ctx: _Context, k: int, seed: int) -> list[tuple]:
    """OMGD and CRD at width ``k``: two students of one online teacher."""
    from ..losses.perceptual import load_backbone
    from ..training.loop import Trainer
    from ..training.online import build_online, preset
    from .crd import _scale_of

    bb = load_backbone("synthetic")
    losses = {"omgd": preset("omgd-pix2pix", "synthetic"), "crd": preset("crd-pix2pix", "synthetic")}
    obj = build_online(ctx.task, losses, "online-frozen", scale=_scale_of(ctx.size), student_ngf=k,
                       teacher_ngf=ctx.teacher.config["ngf"], arch="mobile_resnet", backbone=bb,
                       seed=seed)
    trainer = Trainer(obj, ctx.train, ctx.steps, batch_size=ctx.batch_size, seed=seed,
                      device=ctx.device, progress=False)
    t0 = _clock()
    curves = fit_protocol(trainer, {m: (lambda m=m: obj.student(m)) for m in losses}, ctx.test,
                          ctx.held, ctx.points)
    seconds = _clock() - t0
    teacher_l1 = l1_of(obj.teacher_G, ctx.test)
    # the online teacher is trained for both students: its time is in both costs, said so
    return [(m, obj.student(m).cpu().eval(), curves[m], seconds,
             {"train_seconds": seconds, "shared_with": [o for o in losses if o != m],
              "online_teacher_l1": teacher_l1}) for m in losses]


def run_once_for_all(ctx: _Context, ks, seed: int, tmp: Path, finetune_steps: int,
                     population: int, generations: int) -> list[tuple]:
    """Once-for-all at every budget of ``ks``: one supernet per seed, a search
    and a fine-tune per budget (the supernet's time is in every budget's cost)."""
    from ..compression.ofa import (evolution_search, export_subnet, search_space, subnet_macs,
                                   subnet_scorer)
    from ..models.dynamic import format_config
    from ..training.checkpoint import save_subnet
    from ..training.distill import StudentRecipe
    from ..training.supernet import supernet_trainer
    from .ofa import MUTATE_PROB, SPACE

    sp = search_space(SPACE)
    trainer = supernet_trainer(sp, ctx.teacher, ctx.teacher_D, ctx.train, ctx.steps,
                               ctx.batch_size, seed, "uniform", image_size=ctx.size,
                               device=ctx.device, progress=False)
    t0 = _clock()
    trainer.fit()
    supernet_seconds = _clock() - t0
    net = trainer.objective.netG.cpu().eval()
    score = subnet_scorer(net, ctx.held)
    out = []

    def cost(c):
        return subnet_macs(c, 256, CONVENTION)

    for k in ks:
        budget = budget_of(k)
        floor = (1 - BUDGET_TOLERANCE) * budget
        # the protocol's equal-cost rule: only subnets within the tolerance below the budget
        t0 = _clock()
        found = evolution_search(sp, budget, score, cost, population=population,
                                 generations=generations, mutate_prob=MUTATE_PROB, seed=seed,
                                 floor=floor)
        search_seconds = _clock() - t0
        sub = export_subnet(net, found.best)
        start = save_subnet(sub, tmp / f"ofa-{k}-{seed}.pt", format_config(found.best), None,
                            "experiments.comparison", force=True)
        recipe = StudentRecipe(task=ctx.task, student_file=str(start), image_size=ctx.size,
                               mode="paired")
        G, curve, seconds = _student_run(ctx, recipe, ctx.teacher, ctx.teacher_D, finetune_steps,
                                         seed)
        out.append(("once-for-all", G, curve, supernet_seconds + search_seconds + seconds,
                    {"budget_ngf": k, "config": format_config(found.best),
                     "supernet_seconds": supernet_seconds, "search_seconds": search_seconds,
                     "train_seconds": seconds, "finetune_steps": finetune_steps,
                     "held_out_l1_search": found.best_score, "evaluated": found.evaluated}))
    return out


def latency(G, threads: int = 1, repeats: int = 5, size: int = 256) -> dict:
    """The student's median CPU latency on each runtime that runs it and its
    fastest (``size`` x ``size``, batch 1, ``threads`` threads): a
    measurement, recorded."""
    from ..metrics.latency import benchmark

    rows = benchmark({"G": G}, backends=("eager", "onnxruntime"), size=size, threads=threads,
                     repeats=repeats, warmup=1, progress=False, memory=False)
    ms = {r["backend"]: r["median_ms"] for r in rows if r.get("median_ms") is not None}
    best = min(ms, key=ms.get) if ms else None
    return {"latency_ms": ms, "best_runtime": best, "best_ms": ms.get(best),
            "latency_threads": threads, "latency_size": size}


def run(task: str = TASK, seeds=(0,), steps: int = 2000, size: int = 64, batch_size: int = 4,
        n_train: int = 1000, n_eval: int = 512, n_held: int = N_HELD, points: int = 8,
        budget_ngfs=BUDGET_NGFS, methods=METHODS, finetune_steps: int = 300,
        population: int = 32, generations: int = 10, latency_threads: int = 1,
        latency_repeats: int = 5, latency_size: int = 256, progress: bool = True, device="cpu", record=None,
        teacher=None, teacher_D=None, inception=None, inception_D=None,
        models: dict | None = None) -> list[dict]:
    """Every method of ``methods`` at every budget and seed; one row per
    student (see the module docstring).  Jobs whose rows a resumed ``record``
    holds are kept; a job cut short is run again.  ``models`` (a dict)
    receives the students keyed ``(method, budget_ngf, seed)``."""
    from ..errors import GancompError
    from ..metrics.cost import count_params

    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise GancompError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    ctx = _Context(task, steps, size, batch_size, n_train, n_eval, n_held, points, device,
                   teacher, teacher_D, inception, inception_D)
    # one job per (what trains together, seed): the online students share a teacher, the
    # once-for-all budgets a supernet
    jobs = []
    for seed in seeds:
        if "once-for-all" in methods:
            jobs.append((("once-for-all",), tuple(budget_ngfs), seed))
        for k in budget_ngfs:
            jobs += [((m,), (k,), seed) for m in ("scratch", "gan-compression", "cat") if m in methods]
            online = tuple(m for m in ("omgd", "crd") if m in methods)
            if online:
                jobs.append((online, (k,), seed))
    rows: list[dict] = []

    def stored(m, k, seed):
        return next(iter(results.finished_rows(record, method=m, budget_ngf=k, seed=seed)), None)

    with tempfile.TemporaryDirectory() as tmp:
        for ms, ks, seed in tqdm(jobs, desc="comparison", disable=not progress):
            kept = [stored(m, k, seed) for m in ms for k in ks]
            if all(kept):       # finished in an earlier session of a resumed sweep
                rows.extend(kept)
                continue
            if record is not None and any(kept):   # cut short: run the whole job again
                record.data["rows"] = [r for r in record.data["rows"] if r not in kept]
            if ms == ("once-for-all",):
                made = run_once_for_all(ctx, ks, seed, Path(tmp), finetune_steps, population,
                                        generations)
            elif ms[0] in ("omgd", "crd"):
                made = [x for x in run_online(ctx, ks[0], seed) if x[0] in ms]
            elif ms == ("cat",):
                made = run_cat(ctx, ks[0], seed, Path(tmp))
            else:
                made = run_distiller(ctx, ms[0], ks[0], seed)
            for method, G, curve, cost, extra in made:
                k = extra.pop("budget_ngf", ks[0])
                budget, macs = budget_of(k), macs_of(G)
                if not (1 - BUDGET_TOLERANCE) * budget <= macs <= budget:
                    raise GancompError(f"{method} at the ngf-{k} budget made a student of "
                                       f"{macs / 1e9:.4f}G MACs, outside [{1 - BUDGET_TOLERANCE:g}, "
                                       f"1] x {budget / 1e9:.4f}G ({CONVENTION})")
                if models is not None:
                    models[method, k, seed] = G
                row = {"method": method, "arm": method, "budget_ngf": k, "budget_macs": budget,
                       "seed": seed, "steps": steps + extra.get("finetune_steps", 0),
                       "gmacs_256": macs / 1e9, "macs_convention": CONVENTION,
                       "budget_fraction": macs / budget, "mparams": count_params(G) / 1e6,
                       "cost_seconds": cost, **extra, **ctx.quality(G),
                       **{f"protocol_{p}": v for p, v in protocols(curve).items()},
                       **latency(G, latency_threads, latency_repeats, latency_size)}
                results.keep_row(rows, row, curve, record)
    return rows


# -- recorded sweep -------------------------------------------------------------------

def command(settings: dict) -> str:
    """The command line that re-runs a recorded comparison with ``settings``."""
    methods = ("" if list(settings["methods"]) == list(METHODS)
               else " --methods " + " ".join(settings["methods"]))
    budgets = ("" if list(settings.get("budget_ngfs", BUDGET_NGFS)) == list(BUDGET_NGFS)
               else " --budget-ngfs " + " ".join(map(str, settings["budget_ngfs"])))
    save = f" --save-students {settings['save_students']}" if settings.get("save_students") else ""
    return ("gancomp-lite sweep-comparison --seeds {s} --steps {steps} --size {size} "
            "--batch-size {batch_size} --n {n_eval} --curve-points {points} --finetune-steps "
            "{finetune_steps}{methods}{budgets} --out {out}{save}").format(
        s=" ".join(map(str, settings["seeds"])), methods=methods, budgets=budgets, save=save,
        **{k: v for k, v in settings.items() if k not in ("methods", "save_students")})


def run_recorded(out, seeds=(0, 1, 2), steps: int | None = None, size: int = 64,
                 batch_size: int = 4, n_eval: int = 512, points: int = 8,
                 finetune_steps: int = 300, methods=METHODS, budget_ngfs=BUDGET_NGFS,
                 allow_dirty: bool = False, force: bool = False, resume: bool = False,
                 progress: bool = True, argv: list[str] | None = None, save_students_to=None):
    """The recorded comparison: refuse a dirty tree (unless ``allow_dirty``);
    write ``out`` with its command, claims, protocol, code version, teacher
    checksums, trivial scores and machine before training; append each run;
    mark it complete.  ``steps`` default: the ``ci`` teacher's own.
    ``resume``: continue an interrupted ``out`` of the same command and package.
    ``budget_ngfs``: the budgets, checked before anything trains (:func:`check_budgets`).
    ``save_students_to``: a folder that receives every method's student of the
    first seed as it finishes (:func:`student_file`; chapter 11 shows them)."""
    from ..errors import GancompError
    from ..provenance import require_clean
    from ..shipped import refuse_existing
    from ..training.checkpoint import read_manifest, teacher_path

    if force and resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")
    if points < 1:
        raise GancompError("the checkpoint protocols need at least one evaluation: --curve-points >= 1")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise GancompError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    check_budgets(budget_ngfs, methods)
    version = require_clean(allow_dirty, "record a sweep")
    save = Path(save_students_to).as_posix() if save_students_to else None
    if save:
        refuse_existing([student_file(save, m, k, seeds[0]) for m in methods
                         for k in budget_ngfs], force or resume)
    tpath, ipath = teacher_path(TASK, "ci"), teacher_path(TASK, "ci", "inception")
    manifest = read_manifest(tpath)
    steps = steps or int(manifest["recipe"]["steps"])
    settings = dict(task=TASK, seeds=list(seeds), steps=steps, size=size, batch_size=batch_size,
                    n_eval=n_eval, n_held=N_HELD, points=points, finetune_steps=finetune_steps,
                    budget_ngfs=list(budget_ngfs),
                    methods=[m for m in METHODS if m in methods])
    line = command({**settings, "out": Path(out).as_posix(), "save_students": save})
    record = results.ResultsFile(
        out, "comparison", line, version, settings, _claims(budget_ngfs), force=force,
        resume=resume, allow_dirty=version.endswith("+dirty"), argv=argv,
        judged_if=results.LEARNED_RULE, convention=CONVENTION,
        budgets={f"ngf{k}": budget_of(k) for k in budget_ngfs},
        cost_clock=CLOCK,
        teachers={name: {"file": p.name, "sha256": read_manifest(p)["sha256"],
                         "steps": int(read_manifest(p)["recipe"]["steps"])}
                  for name, p in (("resnet", tpath), ("inception", ipath))},
        recipes=RECIPES, baselines=results.trivial_scores(TASK, n_eval, size))

    def keep(key, G):
        method, k, seed = key
        if seed == seeds[0]:
            results.save_sweep_student(G, student_file(save, method, k, seed), SWEEP_STUDENT_KIND,
                                       "comparison", method, seed, out, record.data["command"],
                                       version, force=True)

    run(progress=progress, record=record, models=results.SavingDict(keep) if save else None,
        **{k: v for k, v in settings.items() if k != "task"})
    return record.finish()


# -- verdicts and the ranking -----------------------------------------------------------

def summarise(rows: list[dict], metric: str = "l1") -> dict[tuple, dict]:
    """``{(method, budget_ngf): summary}`` of ``metric`` (:func:`~.results.summarise`)."""
    return {(s["method"], s["budget_ngf"]): s
            for s in results.summarise(rows, ("method", "budget_ngf"), metric,
                                       carry=("gmacs_256", "mparams"))}


def verdicts(rows: list[dict], trivial: dict[str, float] | None = None,
             seeds: int | None = None, budget_ngfs=BUDGET_NGFS) -> dict[str, dict]:
    """Every claim of :func:`_claims` at ``budget_ngfs`` (a recorded file's
    ``settings``) judged by the one rule on L1 (lower is better), gated by the
    trivial translators ``trivial``; a claim on a method with fewer than
    ``seeds`` finished runs is inconclusive, and says so."""
    t = summarise(rows)
    out = {}

    def judge(claim, a, b, k):
        missing = [f"{m} ({t[m, k]['seeds'] if (m, k) in t else 0} of {seeds} seeds)"
                   for m in (a, b) if (m, k) not in t or (seeds and t[m, k]["seeds"] < seeds)]
        if missing:
            out[claim] = {"verdict": "inconclusive", "reason": "not finished: " + ", ".join(missing)}
            return
        v, why = results.judged_verdict({**t[a, k], "arm": a}, {**t[b, k], "arm": b}, "l1",
                                        "lower", trivial)
        out[claim] = {"verdict": v, "a_mean": t[a, k]["l1_mean"], "b_mean": t[b, k]["l1_mean"],
                      "reason": f"{a} {t[a, k]['l1_mean']:.4g} vs {b} {t[b, k]['l1_mean']:.4g} "
                                f"at ngf {k}: {why}"}

    for k in budget_ngfs:
        judge(f"gc_beats_scratch@ngf{k}", "gan-compression", "scratch", k)
        judge(f"ofa_beats_gc@ngf{k}", "once-for-all", "gan-compression", k)
        judge(f"cat_beats_gc@ngf{k}", "cat", "gan-compression", k)
        judge(f"omgd_beats_gc@ngf{k}", "omgd", "gan-compression", k)
        judge(f"crd_beats_omgd@ngf{k}", "crd", "omgd", k)
    return {k: {**v, "claim": k, "metric": "l1"} for k, v in out.items()}


def inflation(rows: list[dict]) -> list[dict]:
    """Per method and budget: how much lower the best-on-test and held-out
    numbers are than the last checkpoint's (mean over seeds), and the rule's
    outcome for each against the last checkpoint (``"lower"``, ``"same"``,
    ``"higher"``).  A description, not a claim: best-on-test can never be
    above the last checkpoint, so "it inflates" could not fail."""
    out = []
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if "protocol_last" in r:
            groups.setdefault((r["method"], r["budget_ngf"]), []).append(r)
    for (m, k), rs in groups.items():
        last = [r["protocol_last"] for r in rs]
        best = [r["protocol_best-on-test"] for r in rs]
        held = [r["protocol_held-out"] for r in rs]
        def rule(x):
            return results.compare_values(x, last) if len(rs) > 1 else "same"

        out.append({"method": m, "budget_ngf": k, "seeds": len(rs),
                    "last": sum(last) / len(rs), "best-on-test": sum(best) / len(rs),
                    "held-out": sum(held) / len(rs),
                    "inflation": (sum(last) - sum(best)) / len(rs),
                    "held_out_gap": (sum(last) - sum(held)) / len(rs),
                    "best_vs_last": rule(best), "held_out_vs_last": rule(held)})
    return out


def ranking(rows: list[dict], protocol: str = "last") -> dict[int, list[dict]]:
    """Per budget, the methods ordered by mean test L1 under ``protocol``
    (:data:`PROTOCOLS`), each with the rule's outcome against the next one
    down (``"ahead"`` when clearly better, ``"tie"`` otherwise)."""
    from ..errors import GancompError

    if protocol not in PROTOCOLS:
        raise GancompError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    key = f"protocol_{protocol}"
    by = {}
    for s in results.summarise([r for r in rows if key in r], ("method", "budget_ngf"), key):
        by.setdefault(s["budget_ngf"], []).append(s)
    out = {}
    for k, group in sorted(by.items()):
        group.sort(key=lambda s: s[f"{key}_mean"])
        ranked = []
        for i, s in enumerate(group):
            vs = None
            if i + 1 < len(group):
                outcome = results.compare(s, group[i + 1], key)
                vs = "ahead" if outcome == "lower" else "tie"
            ranked.append({"rank": i + 1, "method": s["method"], "mean": s[f"{key}_mean"],
                           "std": s[f"{key}_std"], "seeds": s["seeds"], "vs_next": vs})
        out[k] = ranked
    return out


def ranking_text(ranked: list[dict]) -> str:
    """One budget's :func:`ranking` in words: ``"crd > omgd = cat"`` (``>``
    clearly better by the rule, ``=`` a tie with the next one down)."""
    out = ranked[0]["method"] if ranked else ""
    for a, b in zip(ranked, ranked[1:]):
        out += (" > " if a["vs_next"] == "ahead" else " = ") + b["method"]
    return out


def paper_ranking(task: str) -> list[tuple]:
    """The methods of :data:`PAPER_RESULTS` on ``task`` (teachers left out)
    ordered by their printed FID, best first: ``[(method, gmacs, fid), ...]``."""
    return sorted(((m, g, f) for t, m, _, g, f, _, _ in PAPER_RESULTS
                   if t == task and not m.startswith("teacher")), key=lambda x: x[2])


load = results.load
