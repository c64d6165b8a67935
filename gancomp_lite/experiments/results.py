"""Shared bookkeeping of the book's experiments: results files, seed
summaries and the rule that decides when two numbers differ.

A results file is JSON with the experiment's name, the command that wrote
it, the code version, the settings and one row per training run, so a
chapter can show recorded numbers next to its live run and say where they
came from.  :func:`compare` is the one rule every verdict uses: two means
differ *clearly* when they are further apart than the sum of their seed
spreads (sample standard deviations); with a single seed nothing is known
about the spread, so nothing differs clearly.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Sequence


def summarise(rows: list[dict], keys: Sequence[str], metric: str,
              carry: Sequence[str] = ()) -> list[dict]:
    """Mean and sample std (0 for one seed) of ``metric`` per group of ``keys``.

    ``carry`` names row fields copied from the group's first row (costs, say).
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        vals = [r[metric] for r in rs]
        out.append({**dict(zip(keys, key)), **{c: rs[0][c] for c in carry}, "seeds": len(rs),
                    f"{metric}_mean": statistics.mean(vals),
                    f"{metric}_std": statistics.stdev(vals) if len(vals) > 1 else 0.0})
    return out


def compare(a: dict, b: dict, metric: str) -> str:
    """``"lower"``, ``"higher"`` or ``"same"``: is ``a``'s mean clearly below,
    clearly above, or within noise of ``b``'s (summaries of :func:`summarise`)?"""
    if min(a["seeds"], b["seeds"]) < 2:
        return "same"
    gap = a[f"{metric}_mean"] - b[f"{metric}_mean"]
    noise = a[f"{metric}_std"] + b[f"{metric}_std"]
    if gap < -noise:
        return "lower"
    if gap > noise:
        return "higher"
    return "same"


def save(experiment: str, rows: list[dict], path: str | Path, command: str, code_version: str,
         settings: dict) -> Path:
    """Write a results file with the command, code version and settings beside the rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"experiment": experiment, "command": command,
                                "code_version": code_version, "settings": settings,
                                "rows": rows}, indent=2) + "\n")
    return path


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
