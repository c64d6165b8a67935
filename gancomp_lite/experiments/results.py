"""Shared bookkeeping of the book's experiments: results files, seed
summaries, and the one rule that decides when two numbers differ.

**The rule** (:func:`compare`): two arms differ *clearly* when Welch's
t-test over their per-seed values rejects equal means at the two-sided level
:data:`ALPHA` (0.05).  Welch's test does not assume equal spreads, which
matters here: a collapsed arm often varies far more across seeds than a
stable one.  With fewer than two seeds on either side nothing is known about
the spread, so nothing differs clearly.  A *verdict* on a claim
(:func:`verdict`) is ``confirmed`` only when the difference the claim
predicts is there and passes the rule, ``not confirmed`` when a clear
difference goes the other way, and ``inconclusive`` otherwise: a tie never
confirms anything, including a claim that two arms are alike (no
equivalence test is made).

**Results files** (:class:`ResultsFile`) are JSON: the experiment's name,
the command (built by the runner from the arguments it ran with), the
claims it tests (written when the run *starts*, before any number exists),
the code version, the machine, the settings and one row per training run,
appended as runs finish; ``status`` turns ``complete`` with the wall time at
the end.  A chapter marks a verdict whose claim the file did not register as
added after the run (:func:`registered`).  Explained in chapter
``nb/04_decomposition`` (section ``sec-decomp-rule``).
"""
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
import warnings
from pathlib import Path
from typing import Sequence

#: the two-sided level of the one rule
ALPHA = 0.05

#: the rule in one sentence, for tables and chapters
RULE = ("two arms differ clearly when Welch's t-test over their per-seed values gives "
        f"p < {ALPHA} (two-sided); with fewer than two seeds per arm nothing differs clearly, "
        "and a tie is inconclusive")

VERDICTS = ("confirmed", "not confirmed", "inconclusive")


# -- the rule -----------------------------------------------------------------

def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean difference ``mean(a) - mean(b)`` and the two-sided p-value of
    Welch's t-test.  Two arms without any spread differ with p = 0 when their
    means differ (and p = 1 when they are equal)."""
    from scipy import stats

    a, b = [float(x) for x in a], [float(x) for x in b]
    if min(len(a), len(b)) < 2:
        raise ValueError("Welch's test needs at least two values per side")
    gap = statistics.mean(a) - statistics.mean(b)
    if statistics.variance(a) == 0 and statistics.variance(b) == 0:
        return gap, (0.0 if gap != 0 else 1.0)
    with warnings.catch_warnings():
        # near-identical values (two processes peaking at the same byte count) make SciPy warn
        # of precision loss in the variance; the p-value it returns is still the test's
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return gap, (1.0 if math.isnan(p) else p)


def compare_values(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA) -> str:
    """``"lower"``, ``"higher"`` or ``"same"``: is ``a`` clearly below, clearly
    above, or not clearly different from ``b`` (per-seed values; the rule)?"""
    if min(len(a), len(b)) < 2:
        return "same"
    gap, p = welch(a, b)
    if p >= alpha:
        return "same"
    return "lower" if gap < 0 else "higher"


def compare_to_value(a: Sequence[float], value: float, alpha: float = ALPHA) -> str:
    """:func:`compare_values` of per-seed values against a fixed number (a
    trivial translator's score): the one-sample form of the same t-test."""
    from scipy import stats

    a = [float(x) for x in a]
    if len(a) < 2:
        return "same"
    gap = statistics.mean(a) - float(value)
    if statistics.variance(a) == 0:
        p = 0.0 if gap != 0 else 1.0
    else:
        with warnings.catch_warnings():   # as in welch: near-identical values
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.ttest_1samp(a, float(value)).pvalue)
    if math.isnan(p) or p >= alpha:
        return "same"
    return "lower" if gap < 0 else "higher"


def compare(a: dict, b: dict, metric: str) -> str:
    """:func:`compare_values` on two summaries of :func:`summarise`."""
    return compare_values(a[f"{metric}_values"], b[f"{metric}_values"])


def verdict(outcome: str, claimed: str) -> str:
    """The verdict on a claim that predicts ``claimed`` (``"lower"`` or
    ``"higher"``) when the rule found ``outcome``."""
    if claimed not in ("lower", "higher") or outcome not in ("lower", "higher", "same"):
        raise ValueError(f"cannot judge outcome {outcome!r} against claim {claimed!r}")
    if outcome == "same":
        return "inconclusive"
    return "confirmed" if outcome == claimed else "not confirmed"


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim made "at every width": confirmed only if every
    part is, not confirmed if any part is, inconclusive otherwise."""
    if any(v == "not confirmed" for v in verdicts):
        return "not confirmed"
    if verdicts and all(v == "confirmed" for v in verdicts):
        return "confirmed"
    return "inconclusive"


#: the verdict on a claim whose arm did not learn (see :func:`learned`)
NOT_JUDGED = "did not learn: not judged"

#: the gate before the rule, in one sentence (registered in a results file as ``judged_if``)
LEARNED_RULE = ("an arm is judged only if it clearly beats every trivial translator (the input "
                "itself, the mean target image) on the exact metric by the one rule, its per-seed "
                "values against the translator's fixed score; a claim on an arm that does not is "
                f"'{NOT_JUDGED}'")


def learned(summary: dict, baselines: dict[str, float], metric: str,
            lower_is_better: bool = True) -> tuple[bool, list[str]]:
    """Does the arm of ``summary`` (:func:`summarise`) clearly beat every
    trivial translator?  ``baselines``: ``{name: the translator's score on the
    same test images}`` (fixed numbers: the rule then compares the arm's
    per-seed values with a constant, :func:`compare_to_value`).  Returns
    ``(learned, [names of the translators it does not clearly beat])``."""
    values = summary[f"{metric}_values"]
    want = "lower" if lower_is_better else "higher"
    failed = [name for name, value in baselines.items()
              if value is None or compare_to_value(values, value) != want]
    return not failed, failed


def judged_verdict(a: dict, b: dict, metric: str, claimed: str, baselines: dict[str, float] | None,
                   lower_is_better: bool = True) -> tuple[str, str]:
    """The verdict on "``a`` is ``claimed`` than ``b``" by the one rule, gated
    by :func:`learned`: :data:`NOT_JUDGED` when either arm did not clearly
    beat every trivial translator of ``baselines`` (``None``: no gate).
    Returns ``(verdict, the reason in words)``."""
    if baselines:
        for arm in (a, b):
            ok, failed = learned(arm, baselines, metric, lower_is_better)
            if not ok:
                name = arm.get("arm", "an arm")
                return NOT_JUDGED, (f"{name} ({arm[f'{metric}_mean']:.4g}) does not clearly beat "
                                    f"{', '.join(failed)}")
    v = verdict(compare(a, b, metric), claimed)
    return v, v


def primary_of(rows: list[dict]) -> str:
    """The exact metric rows carry (paired ``l1``, the stripes oracle colour
    distance), else ``fid``: what a verdict is judged on first."""
    for metric in ("l1", "oracle_animal_w1"):
        if rows and metric in rows[0]:
            return metric
    return "fid"


# -- summaries ------------------------------------------------------------------

def summarise(rows: list[dict], keys: Sequence[str], metric: str,
              carry: Sequence[str] = ()) -> list[dict]:
    """Mean, sample std (0 for one seed) and the per-seed values of ``metric``
    per group of ``keys``, in seed order.  Rows without ``metric`` (an older
    results file) are skipped.

    ``carry`` names row fields copied from the group's first row (costs, say).
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if metric in r:
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        rs = sorted(rs, key=lambda r: r.get("seed", 0))
        vals = [float(r[metric]) for r in rs]
        out.append({**dict(zip(keys, key)), **{c: rs[0][c] for c in carry}, "seeds": len(rs),
                    f"{metric}_mean": statistics.mean(vals),
                    f"{metric}_std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                    f"{metric}_values": vals})
    return out


# -- results files ----------------------------------------------------------------

def machine() -> dict:
    """Where a recorded run ran: CPU, cores, torch threads, torch version."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}


class ResultsFile:
    """A recorded results file, written when the run starts.

    The claims the run tests, the command, the code version and the machine
    are on disk before the first step; :meth:`add` appends each finished run,
    :meth:`finish` marks the file complete with the wall time.  Every write
    replaces the file atomically.  An existing file is an error unless
    ``force`` (start anew) or ``resume``: continue it, keeping its finished
    rows, when it was made by the same command, with the same claims, by the
    same package (:func:`~gancomp_lite.provenance.same_package`); each session
    is listed under ``sessions`` and ``wall_seconds`` adds them up.  A runner
    skips the jobs whose rows it holds (:meth:`has`).
    """

    def __init__(self, path: str | Path, experiment: str, command: str, code_version: str,
                 settings: dict, claims: dict[str, str], force: bool = False, resume: bool = False,
                 **extra):
        from ..errors import GancompError

        self.path = Path(path)
        self._t0 = time.perf_counter()
        self._before = 0.0
        if resume and self.path.exists():
            self.data = self._resumed(command, code_version, claims)
            self._before = float(self.data.get("wall_seconds") or 0.0)
            self.data.setdefault("sessions", []).append(
                {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "code_version": code_version,
                 "machine": machine(), "rows_kept": len(self.data["rows"])})
            self.data["status"] = "running"
            self._write()
            return
        if self.path.exists() and not force:
            raise GancompError(f"{self.path} exists: choose another --out, pass --resume to continue "
                               f"it, or --force to replace it")
        self.data = {"experiment": experiment, "command": command, "code_version": code_version,
                     "claims": dict(claims), "settings": settings, "machine": machine(),
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": "running",
                     **extra, "rows": []}
        self._write()

    def _resumed(self, command: str, code_version: str, claims: dict) -> dict:
        """The stored file, if it may be continued: the same command and claims,
        and code that is the same package (:func:`~gancomp_lite.provenance.same_package`)."""
        from ..errors import GancompError
        from ..provenance import same_package

        try:
            stored = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise GancompError(f"{self.path} is not a results file ({e}); it cannot be resumed") from None
        if stored.get("command") != command:
            raise GancompError(f"{self.path} was made by another command ({stored.get('command')!r}); "
                               f"--resume continues only the same command ({command!r})")
        if stored.get("claims") != dict(claims):
            raise GancompError(f"{self.path} registered other claims; it cannot be resumed")
        if not same_package(stored.get("code_version"), code_version):
            raise GancompError(f"{self.path} was made by code version {stored.get('code_version')}, "
                               f"whose package differs from this one ({code_version}): re-run it "
                               f"from that commit, or start anew with --force")
        return stored

    def has(self, **match) -> bool:
        """Whether a stored row has every ``key: value`` of ``match`` (a resumed
        run skips the jobs whose rows it already holds)."""
        return bool(finished_rows(self, **match))

    def add(self, row: dict) -> None:
        """Append a finished run; ``wall_seconds`` then counts every session up to it, so
        an interrupted session's time up to its last finished run is kept."""
        self.data["rows"].append(row)
        self._stamp()
        self._write()

    def finish(self) -> Path:
        self.data["status"] = "complete"
        self._stamp()
        return self._write()

    def _stamp(self) -> None:
        self.data["wall_seconds"] = round(self._before + time.perf_counter() - self._t0, 1)

    def _write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        tmp.replace(self.path)
        return self.path


def finished_rows(record: "ResultsFile | None", **match) -> list[dict]:
    """The rows of ``record`` with every ``key: value`` of ``match``: what an
    earlier session of a resumed sweep finished (none without a record)."""
    if record is None:
        return []
    return [r for r in record.data["rows"] if all(r.get(k) == v for k, v in match.items())]


def save(experiment: str, rows: list[dict], path: str | Path, command: str, code_version: str,
         settings: dict, claims: dict[str, str] | None = None) -> Path:
    """Write a complete results file at once (for runs made in a notebook or a test)."""
    f = ResultsFile(path, experiment, command, code_version, settings, claims or {}, force=True)
    for row in rows:
        f.data["rows"].append(row)
    return f.finish()


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def registered(results: dict, claim: str) -> bool:
    """Did the results file register ``claim`` before its run?  (Files written
    before claims were registered register none.)"""
    return claim in results.get("claims", {})


# -- learning curves --------------------------------------------------------------

def fit_with_curve(trainer, generator, probe: dict, task: str, points: int = 8) -> dict:
    """Train ``trainer`` to its end, measuring ``generator``'s primary metric
    on the ``probe`` images (a dict of :func:`~gancomp_lite.metrics.quality.test_set`)
    at ``points`` evenly spaced steps, so a results file shows whether a run
    got past early training.  Returns ``{"step": [...], METRIC: [...],
    "loss_step": [...], "g_loss": [...]}`` (the generator's total loss,
    averaged over windows of the history)."""
    return fit_with_curves(trainer, {"G": generator}, probe, task, points)["G"]


def fit_with_curves(trainer, generators: dict, probe: dict, task: str, points: int = 8,
                    loss_keys: dict | None = None, grad_groups: dict | None = None) -> dict:
    """:func:`fit_with_curve` for several generators trained by one trainer
    (``{name: callable returning the generator}``): one curve per name, its
    loss from the history key ``loss_keys[name]`` (default ``"<name>/total"``).
    ``grad_groups`` (``{name: optimizer group}``): at every point also each
    term's share of the group's gradient norm (:func:`gradient_shares`) on
    one fixed training batch, as ``curve["grad_share"] = {term: [...]}``."""
    import torch

    from ..metrics.quality import oracle_metrics, paired_metrics, primary_metric, translate

    metric = primary_metric(task)
    total = trainer.total_steps
    marks = sorted({max(1, round(total * (i + 1) / points)) for i in range(points)})
    curves = {name: {"step": [], metric: []} for name in generators}
    batch = probe_batch(trainer) if grad_groups else None
    for mark in marks:
        trainer.fit(until=mark)
        if grad_groups:
            shares = gradient_shares(trainer.objective, list(grad_groups.values()), batch)
            for name, group in grad_groups.items():
                acc = curves[name].setdefault("grad_share", {})
                for term, share in shares[group].items():
                    acc.setdefault(term, []).append(share)
        for name, generator in generators.items():
            G = generator()
            with torch.no_grad():
                fake = translate(G, probe["A"])
            m = (oracle_metrics(fake, probe["B_oracle"], probe["mask"]) if "B_oracle" in probe
                 else paired_metrics(fake, probe["B"]))
            curves[name]["step"].append(mark)
            curves[name][metric].append(m[metric])
    for name, curve in curves.items():
        key = (loss_keys or {}).get(name, f"{name}/total")
        if trainer.history and key in trainer.history[0]:
            window = max(1, len(trainer.history) // 40)
            hist = [h[key] for h in trainer.history]
            curve["loss_step"] = [min(i + window, len(hist)) for i in range(0, len(hist), window)]
            curve["g_loss"] = [statistics.mean(hist[i:i + window]) for i in range(0, len(hist), window)]
    return curves


def probe_batch(trainer, n: int = 4) -> dict:
    """The first ``n`` training items as one batch on the trainer's device (a
    fixed batch to measure gradients on; the loader's order is not touched)."""
    import torch

    items = [trainer.dataset[i] for i in range(min(n, len(trainer.dataset)))]
    return {k: torch.stack([it[k] for it in items]).to(trainer.device)
            for k in items[0] if isinstance(items[0][k], torch.Tensor)}


def gradient_shares(objective, groups: Sequence[str], batch: dict) -> dict[str, dict[str, float]]:
    """Each term's share of its optimizer group's gradient norm, ``{group:
    {term: share}}`` (shares of the summed norms, adding up to 1), on
    ``batch`` (:meth:`~gancomp_lite.training.objectives.Objective.term_gradients`).
    Changes no weights, and leaves the random number generator's state as it
    was, so a run that measures its gradients trains exactly as one that does
    not."""
    import torch

    state = torch.random.get_rng_state()
    try:
        ctx = objective.forward_step(batch)
        out = {}
        for group in groups:
            rows = objective.term_gradients(group, ctx)
            norm = sum(r["gradient norm"] for r in rows) or 1.0
            out[group] = {r["term"]: r["gradient norm"] / norm for r in rows}
    finally:
        torch.random.set_rng_state(state)
    return out


def end_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The Theil-Sen slope of ``y`` over ``x``: the median of the slopes between
    every pair of points.  One spike moves only the slopes of the pairs it is
    in, fewer than half of them once there are four points or more, so the
    median ignores it, where a straight difference of two points does not."""
    slopes = [(y[j] - y[i]) / (x[j] - x[i]) for i in range(len(x)) for j in range(i + 1, len(x))
              if x[j] != x[i]]
    return statistics.median(slopes) if slopes else 0.0


def schedule_words(settings: dict, teacher_recipe: dict) -> str:
    """A recorded sweep's training length against its teacher's, in words, from
    the file's ``settings`` (``steps``, ``batch_size``) and the shipped teacher's
    recipe (``steps``, ``n_train``): ``"2000 steps at batch 4, the teacher's own
    schedule: 8 passes over its 1000 training images"``."""
    steps, batch = settings["steps"], settings["batch_size"]
    t_steps, n_train = teacher_recipe["steps"], teacher_recipe["n_train"]
    against = ("the teacher's own schedule" if steps >= t_steps
               else f"fewer than the teacher's {t_steps}")
    passes = round(steps * batch / n_train)
    return (f"{steps} steps at batch {batch}, {against}: {passes} pass{'' if passes == 1 else 'es'} "
            f"over its {n_train} training images")


def late_improvement(rows: list[dict], group_keys: Sequence[str], tail: int = 3) -> dict:
    """How much each group's runs were still improving at the end, from their curves.

    For every run with a learning curve (a lower-is-better metric): the drop
    over its last ``tail`` intervals (the last quarter of an 8-point curve,
    with the point before it), read from the robust :func:`end_slope` of those
    ``tail + 1`` points rather than from two single points, so one spike
    neither makes a flat run look improving nor hides a real late fall.
    ``late_drop`` is that drop relative to the window's median level;
    ``late_share`` is its share of the run's whole improvement (first point
    to the window's level).  A run that got worse counts as 0 improvement.
    Averaged per group of ``group_keys``; returns ``{group: {"late_share":
    ..., "late_drop": ..., "runs": n}}``, empty when no row has a curve.
    """
    out: dict = {}
    for r in rows:
        curve = r.get("curve")
        if not curve:
            continue
        metric = next(k for k in curve if k not in ("step", "loss_step", "g_loss", "grad_share"))
        y = [float(v) for v in curve[metric]]
        x = [float(v) for v in curve.get("step", range(len(y)))]
        if len(y) <= tail:
            continue
        wx, wy = x[-tail - 1:], y[-tail - 1:]
        level = statistics.median(wy)
        late = max(-end_slope(wx, wy) * (wx[-1] - wx[0]), 0.0)
        whole = max(y[0] - level, 0.0)
        g = tuple(r[k] for k in group_keys)
        acc = out.setdefault(g, {"late_share": 0.0, "late_drop": 0.0, "runs": 0})
        acc["late_share"] += min(late / whole, 1.0) if whole > 0 else 0.0
        acc["late_drop"] += late / level if level > 0 else 0.0
        acc["runs"] += 1
    for acc in out.values():
        acc["late_share"] /= acc["runs"]
        acc["late_drop"] /= acc["runs"]
    return out


def keep_row(rows: list[dict], row: dict, curve: dict | None, record: "ResultsFile | None") -> None:
    """Append one finished run's ``row`` (with its learning ``curve``, if any) to
    ``rows`` and, for a recorded run, to its results file at once."""
    if curve:
        row["curve"] = curve
    rows.append(row)
    if record is not None:
        record.add(row)


def save_sweep_student(G, path, kind: str, experiment: str, arm: str, seed: int, results_file,
                       command_line: str, version: str, force: bool = False) -> Path:
    """Write one network a recorded sweep trained to ``path`` (checksummed,
    half precision as every shipped student), its manifest naming ``kind``,
    the experiment, the results file, arm, seed, command and code version;
    ``evaluate``, ``export`` and ``bench`` read it like any student file."""
    from ..training.checkpoint import save_network

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_network(G.cpu().eval(), path, "paired", {
        "kind": kind, "experiment": experiment, "arm": arm, "seed": seed,
        "results": Path(results_file).name, "command": command_line, "code_version": version},
        "a sweep's student", force)[0]


class SavingDict(dict):
    """A ``models`` dict for the sweep runners that hands each trained network
    to ``save(key, network)`` as soon as it is trained (so an interrupted,
    resumed sweep keeps them) and holds none of them."""

    def __init__(self, save):
        super().__init__()
        self._save = save

    def __setitem__(self, key, value):
        self._save(key, value)


def trivial_scores(task: str, n_eval: int, size: int, metric: str = "l1") -> dict[str, float]:
    """The trivial translators' ``metric`` on the test images every arm of a
    sweep is scored on (``{"identity": ..., "mean target": ...}``): what a
    student must clearly beat to be judged (:func:`learned`; registered in a
    results file before its run)."""
    from ..metrics.quality import test_set, trivial_translators

    data = test_set(task, n_eval, size, seed=0)
    return {name: m[metric] for name, m in trivial_translators(task, data, "synthetic").items()}
