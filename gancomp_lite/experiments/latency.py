"""Reading a recorded latency benchmark by the book's one rule.

A benchmark (:func:`gancomp_lite.metrics.latency.benchmark`, ``gancomp-lite
bench``) times every (network, runtime) pair over interleaved rounds; a row
holds one pair's ``times_ms`` (one per round), its median and quartiles, and
``status`` ("ok" for a pair that ran and matched eager PyTorch).  These
functions make the decisions chapter 10 reports: which runtime is fastest
for each network, whether it is *clearly* faster than the runner-up, how two
runtimes compare network by network, whether a speed-up goal is met, and
which runtimes need the least memory.  "Clearly" is always
:func:`~gancomp_lite.experiments.results.compare_values` (Welch's test over
the rounds, or over the processes for memory); a tie is a tie.

Explained in chapter ``nb/10_latency``.
"""
from __future__ import annotations

from typing import Sequence

from .results import compare_values


def timed(rows: list[dict]) -> list[dict]:
    """The rows of pairs that ran and matched eager PyTorch."""
    return [r for r in rows if r.get("status") == "ok"]


def by_pair(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """``{(model, backend): row}``."""
    return {(r["model"], r["backend"]): r for r in rows}


def fastest(rows: list[dict]) -> dict[str, dict]:
    """Per network, its timed row with the lowest median (its fastest runtime)."""
    best: dict[str, dict] = {}
    for r in timed(rows):
        if r["model"] not in best or r["median_ms"] < best[r["model"]]["median_ms"]:
            best[r["model"]] = r
    return best


def faster(a: dict, b: dict) -> str:
    """``"lower"`` if row ``a`` is clearly faster than row ``b`` over the
    rounds, ``"higher"`` if clearly slower, ``"same"`` otherwise."""
    return compare_values(a["times_ms"], b["times_ms"])


def runner_up(by: dict, model: str, backends: Sequence[str]) -> dict | None:
    """The timed row of ``model`` with the second-lowest median, if any."""
    rows = sorted((by[model, b] for b in backends if (model, b) in by and by[model, b]["status"] == "ok"),
                  key=lambda r: r["median_ms"])
    return rows[1] if len(rows) > 1 else None


def tied_winners(rows: list[dict], backends: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(model, fastest backend, runner-up backend)`` for every network whose
    fastest runtime is not clearly faster than its runner-up."""
    by = by_pair(rows)
    out = []
    for model, best in fastest(rows).items():
        second = runner_up(by, model, backends)
        if second is not None and faster(best, second) == "same":
            out.append((model, best["backend"], second["backend"]))
    return out


def versus(rows: list[dict], models: Sequence[str], a: str, b: str) -> dict[str, list[str]]:
    """Network by network (in the order of ``models``): is runtime ``a``
    clearly ``slower``, clearly ``faster`` or ``tied`` with runtime ``b``?
    Networks where either pair did not run are left out."""
    by = by_pair(rows)
    out: dict[str, list[str]] = {"slower": [], "faster": [], "tied": []}
    for m in models:
        ra, rb = by.get((m, a)), by.get((m, b))
        if not ra or not rb or ra["status"] != "ok" or rb["status"] != "ok":
            continue
        out[{"higher": "slower", "lower": "faster", "same": "tied"}[faster(ra, rb)]].append(m)
    return out


def speedup_goal(student: dict, teacher: dict, factor: float) -> str:
    """Whether ``student`` is at least ``factor`` times faster than
    ``teacher``: ``factor`` x the student's times clearly below the
    teacher's is ``"met"``, clearly above is ``"not met"``, else
    ``"inconclusive"``."""
    outcome = compare_values([factor * t for t in student["times_ms"]], teacher["times_ms"])
    return {"lower": "met", "higher": "not met", "same": "inconclusive"}[outcome]


def leanest(rows: list[dict], model: str, runtimes: Sequence[str]) -> list[str]:
    """The runtimes of ``runtimes`` whose process memory for ``model`` is not
    clearly above the smallest one's (over the fresh processes measured,
    ``process_samples_mb``): one runtime, or several tied by the rule."""
    by = by_pair(rows)
    have = [b for b in runtimes if (model, b) in by and by[model, b].get("process_samples_mb")]
    if not have:
        return []
    low = min(have, key=lambda b: by[model, b]["process_peak_mb"])
    return [b for b in have if compare_values(by[model, b]["process_samples_mb"],
                                              by[model, low]["process_samples_mb"]) != "higher"]
