"""GAN Compression's decomposition sensitivity study (Table 4, Fig. 7b).

Train, under one budget and one objective (pix2pix on a paired task), the
undecomposed ResNet generator and each single-stage decomposition
(:mod:`gancomp_lite.compression.decompose`) at several widths and seeds, and
report quality against cost.  :func:`verdicts` turns the rows into a verdict
per claim of the paper, with the reason, so a chapter states nothing by hand.
Explained in chapter ``nb/04_decomposition``.
"""
from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from ..compression import decompose
from ..config import seed_everything
from ..data import open_dataset
from ..metrics.cost import count_params, profile_macs
from ..metrics.quality import evaluate, test_set
from ..models import NLayerDiscriminator, build_generator
from ..data import WORLDS
from ..training import CycleGANObjective, Pix2PixObjective, Trainer
from . import results

#: variant name -> decomposed stages
VARIANTS = {"original": (), "down": ("down",), "blocks": ("blocks",), "up": ("up",)}


def build_variant(variant: str, ngf: int):
    base = build_generator("resnet", ngf=ngf)
    return decompose(base, VARIANTS[variant]) if VARIANTS[variant] else base


def run(task: str = "edges2shapes", widths=(16, 4), seeds=(0,), steps: int = 500,
        size: int = 64, batch_size: int = 4, ndf: int = 32, n_train: int = 1000,
        n_eval: int = 64, progress: bool = True, device: str = "cpu",
        models: dict | None = None) -> list[dict]:
    """Train every variant at every width and seed; one row per run.

    Paired tasks train with the pix2pix objective (hinge, L1 100); the
    unpaired ``stripes`` task with CycleGAN (both generators of the variant),
    as the paper's Table 4 (horse to zebra) did, and is judged by FID and the
    oracle metrics of its A->B generator.

    Pass a dict as ``models`` to get the trained generators back, keyed by
    ``(variant, ngf, seed)``.

    Each row: variant, ngf, seed, steps, MACs (at 256x256, ``in-excluded``,
    the paper's scale) and params, and the quality metrics of
    :func:`gancomp_lite.metrics.quality.evaluate` on the test split.
    """
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    data = test_set(task, n_eval, size, seed=0)
    rows = []
    jobs = [(v, w, s) for w in widths for v in VARIANTS for s in seeds]
    for variant, ngf, seed in tqdm(jobs, desc="decomposition sweep", disable=not progress):
        seed_everything(seed)
        G = build_variant(variant, ngf)
        if WORLDS[task].aligned:
            objective = Pix2PixObjective(G, NLayerDiscriminator(6, ndf=ndf), gan_mode="hinge",
                                         lambda_l1=100.0)
        else:
            objective = CycleGANObjective(G, build_variant(variant, ngf), NLayerDiscriminator(3, ndf=ndf),
                                          NLayerDiscriminator(3, ndf=ndf))
        t0 = time.perf_counter()
        Trainer(objective, train, steps, batch_size=batch_size, seed=seed, device=device,
                progress=False).fit()
        seconds = time.perf_counter() - t0
        if models is not None:
            models[variant, ngf, seed] = G.cpu().eval()
        q = evaluate(G.cpu(), task, data=data, features="synthetic", baselines=False)
        rows.append({"variant": variant, "ngf": ngf, "seed": seed, "steps": steps,
                     "gmacs_256": profile_macs(G, 256) / 1e9, "mparams": count_params(G) / 1e6,
                     "train_seconds": seconds, **{k: v for k, v in q.items() if k != "n"}})
    return rows


def summarise(rows: list[dict], metric: str = "fid") -> list[dict]:
    """Mean and spread (sample std; 0 for one seed) of ``metric`` per variant and width."""
    return results.summarise(rows, ("ngf", "variant"), metric, carry=("gmacs_256", "mparams"))


def verdicts(rows: list[dict], metric: str = "fid") -> dict[str, dict]:
    """A verdict per claim of GAN Compression's Table 4, with its reason.

    The *drop* of a variant is its mean ``metric`` minus the original's at
    the same width (lower is better for FID and L1).  Two drops differ
    "clearly" when they are further apart than the sum of their seed spreads
    (twice that with one seed, where no spread is known: inconclusive).

    * ``blocks_best_tradeoff``: decomposing the residual blocks saves the
      most MACs *and* its drop is not clearly larger than the other stages'
      at every width.
    * ``up_most_sensitive``: decomposing the upsampling layers gives the
      clearly largest drop at every width.
    """
    summary = {(s["ngf"], s["variant"]): s for s in summarise(rows, metric)}
    widths = sorted({k[0] for k in summary}, reverse=True)
    seeds = min(s["seeds"] for s in summary.values())

    def drop(ngf, v):
        return summary[ngf, v][f"{metric}_mean"] - summary[ngf, "original"][f"{metric}_mean"]

    def noise(ngf, a, b):
        return summary[ngf, a][f"{metric}_std"] + summary[ngf, b][f"{metric}_std"]

    out = {}
    # claim 1
    cheapest = all(min(("down", "blocks", "up"), key=lambda v: summary[w, v]["gmacs_256"]) == "blocks"
                   for w in widths)
    worse = [(w, v) for w in widths for v in ("down", "up")
             if drop(w, "blocks") - drop(w, v) > noise(w, "blocks", v)]
    if seeds < 2:
        out["blocks_best_tradeoff"] = {"verdict": "inconclusive",
                                      "reason": "one seed per variant: no spread to compare drops with"}
    elif cheapest and not worse:
        out["blocks_best_tradeoff"] = {"verdict": "confirmed", "reason": (
            "at every width the block decomposition saves the most MACs and its "
            f"{metric} drop is not clearly larger than the other stages'")}
    else:
        out["blocks_best_tradeoff"] = {"verdict": "not confirmed", "reason": (
            "its drop is clearly larger than " + ", ".join(f"{v} at ngf {w}" for w, v in worse))
            if worse else "it does not save the most MACs"}
    # claim 2
    clearly_largest = [w for w in widths
                       if all(drop(w, "up") - drop(w, v) > noise(w, "up", v) for v in ("down", "blocks"))]
    clearly_not = [w for w in widths
                   if any(drop(w, v) - drop(w, "up") > noise(w, "up", v) for v in ("down", "blocks"))]
    if seeds < 2:
        out["up_most_sensitive"] = {"verdict": "inconclusive",
                                    "reason": "one seed per variant: no spread to compare drops with"}
    elif len(clearly_largest) == len(widths):
        out["up_most_sensitive"] = {"verdict": "confirmed", "reason": (
            f"at every width the upsampling decomposition has the clearly largest {metric} drop")}
    elif clearly_not:
        out["up_most_sensitive"] = {"verdict": "not confirmed", "reason": (
            "another stage's drop is clearly larger at ngf " + ", ".join(map(str, clearly_not)))}
    else:
        out["up_most_sensitive"] = {"verdict": "inconclusive", "reason": (
            "the upsampling drop is not clearly the largest at ngf "
            + ", ".join(str(w) for w in widths if w not in clearly_largest) + " (within seed spread)")}
    return out


def save(rows: list[dict], path: str | Path, command: str, code_version: str, settings: dict) -> Path:
    """Write a results file with the command, code version and settings beside the rows."""
    return results.save("decomposition", rows, path, command, code_version, settings)


load = results.load
