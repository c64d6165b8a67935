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

from ..progress import tqdm

from ..compression import decompose
from ..config import seed_everything
from ..data import open_dataset
from ..metrics.cost import count_params, profile_macs
from ..metrics.quality import HIGHER_IS_BETTER, evaluate, test_set
from ..models import NLayerDiscriminator, build_generator
from ..data import WORLDS
from ..training import CycleGANObjective, Pix2PixObjective, Trainer
from . import results

#: variant name -> decomposed stages
VARIANTS = {"original": (), "down": ("down",), "blocks": ("blocks",), "up": ("up",)}


def build_variant(variant: str, ngf: int):
    base = build_generator("resnet", ngf=ngf)
    return decompose(base, VARIANTS[variant]) if VARIANTS[variant] else base


#: the claims of GAN Compression's Table 4 this experiment tests, registered
#: in the results file before the run starts (section 4.4 of the paper)
CLAIMS = {
    "blocks_cheapest": "Decomposing the residual blocks removes the most MACs of the three "
                       "stages (exact cost at 256x256, no seeds needed).",
    "blocks_beat_up": "Decomposing the residual blocks costs clearly less quality than "
                      "decomposing the upsampling layers, at every width (resBlocks 'almost "
                      "immune', upsampling 'fairly sensitive').",
    "up_most_sensitive": "Decomposing the upsampling layers gives the clearly worst quality "
                         "of the three stages, at every width.",
}


def run(task: str = "edges2shapes", widths=(16, 4), seeds=(0,), steps: int = 500,
        size: int = 64, batch_size: int = 4, ndf: int = 32, n_train: int = 1000,
        n_eval: int = 512, progress: bool = True, device: str = "cpu",
        models: dict | None = None, record=None, curve_points: int = 0) -> list[dict]:
    """Train every variant at every width and seed; one row per run.

    Paired tasks train with the pix2pix objective (hinge, L1 100); the
    unpaired ``stripes`` task with CycleGAN (both generators of the variant),
    as the paper's Table 4 (horse to zebra) did, and is judged by FID and the
    oracle metrics of its A->B generator.

    Pass a dict as ``models`` to get the trained generators back, keyed by
    ``(variant, ngf, seed)``; a :class:`~.results.ResultsFile` as ``record``
    to append each row as it finishes (a resumed file's finished runs are
    kept, not re-trained); ``curve_points`` > 0 to store a
    learning curve per run (the primary metric on 64 test images).

    Each row: variant, ngf, seed, steps, MACs (at 256x256, ``in-excluded``,
    the paper's scale) and params, and the quality metrics of
    :func:`gancomp_lite.metrics.quality.evaluate` on the test split.
    """
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    data = test_set(task, n_eval, size, seed=0)
    probe = {k: v[:64] for k, v in data.items()}
    rows = []
    jobs = [(v, w, s) for w in widths for v in VARIANTS for s in seeds]
    for variant, ngf, seed in tqdm(jobs, desc="decomposition sweep", disable=not progress):
        if record is not None and record.has(variant=variant, ngf=ngf, seed=seed):
            # finished in an earlier session of a resumed sweep: its stored row stands
            rows.append(next(r for r in record.data["rows"]
                             if (r["variant"], r["ngf"], r["seed"]) == (variant, ngf, seed)))
            continue
        seed_everything(seed)
        G = build_variant(variant, ngf)
        if WORLDS[task].aligned:
            objective = Pix2PixObjective(G, NLayerDiscriminator(6, ndf=ndf), gan_mode="hinge",
                                         lambda_l1=100.0)
        else:
            objective = CycleGANObjective(G, build_variant(variant, ngf), NLayerDiscriminator(3, ndf=ndf),
                                          NLayerDiscriminator(3, ndf=ndf))
        t0 = time.perf_counter()
        trainer = Trainer(objective, train, steps, batch_size=batch_size, seed=seed, device=device,
                          progress=False)
        curve = (results.fit_with_curve(trainer, lambda: G, probe, task, curve_points)
                 if curve_points else (trainer.fit(), None)[1])
        seconds = time.perf_counter() - t0
        if models is not None:
            models[variant, ngf, seed] = G.cpu().eval()
        q = evaluate(G.cpu(), task, data=data, features="synthetic", baselines=False)
        row = {"variant": variant, "ngf": ngf, "seed": seed, "steps": steps,
               "gmacs_256": profile_macs(G, 256) / 1e9, "mparams": count_params(G) / 1e6,
               "train_seconds": seconds, **{k: v for k, v in q.items() if k != "n"}}
        results.keep_row(rows, row, curve, record)
    return rows


def command(settings: dict) -> str:
    """The command line that re-runs a recorded sweep with ``settings``."""
    return ("gancomp-lite sweep-decomposition --task {task} --widths {w} --seeds {s} "
            "--steps {steps} --size {size} --batch-size {batch_size} --n {n_eval} "
            "--curve-points {curve_points} --out {out}").format(
        w=" ".join(map(str, settings["widths"])), s=" ".join(map(str, settings["seeds"])),
        **settings)


def run_recorded(out: str | Path, task: str = "edges2shapes", widths=(16, 4), seeds=(0, 1, 2),
                 steps: int = 500, size: int = 64, batch_size: int = 4, n_eval: int = 512,
                 curve_points: int = 8, allow_dirty: bool = False, force: bool = False,
                 resume: bool = False, progress: bool = True,
                 argv: list[str] | None = None) -> Path:
    """The recorded sweep: refuse a dirty package tree (unless ``allow_dirty``),
    write ``out`` with its command, claims, code version and machine *before*
    training, append each run, and mark it complete at the end.  ``resume``:
    continue an interrupted ``out`` of the same command and package, keeping
    its finished runs."""
    from ..errors import GancompError
    from ..provenance import require_clean

    if force and resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")

    version = require_clean(allow_dirty, "record a sweep")
    settings = dict(task=task, widths=list(widths), seeds=list(seeds), steps=steps, size=size,
                    batch_size=batch_size, n_eval=n_eval, curve_points=curve_points)
    record = results.ResultsFile(out, "decomposition", command({**settings, "out": Path(out).as_posix()}),
                                 version, settings, CLAIMS, force=force, resume=resume,
                                 allow_dirty=version.endswith("+dirty"), argv=argv)
    run(progress=progress, record=record, **settings)
    return record.finish()


def summarise(rows: list[dict], metric: str = "fid") -> list[dict]:
    """Mean, spread and per-seed values of ``metric`` per variant and width."""
    return results.summarise(rows, ("ngf", "variant"), metric, carry=("gmacs_256", "mparams"))


def verdicts(rows: list[dict], metric: str | None = None) -> dict[str, dict]:
    """A verdict per claim of :data:`CLAIMS`, judged on ``metric`` (default:
    the task's primary metric, see :func:`~gancomp_lite.metrics.quality.primary_metric`),
    with the reason.  Every comparison is the one rule of
    :func:`~.results.compare` on the per-seed values; lower is better except
    for PSNR and SSIM.  Each verdict names the metric it used.
    """
    metric = metric or results.primary_of(rows)
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    worse = "lower" if better == "higher" else "higher"
    summary = {(s["ngf"], s["variant"]): s for s in summarise(rows, metric)}
    widths = sorted({k[0] for k in summary}, reverse=True)

    def c(ngf, a, b):
        return results.compare(summary[ngf, a], summary[ngf, b], metric)

    def m(ngf, v):
        s = summary[ngf, v]
        return f"{v} {s[f'{metric}_mean']:.3g}±{s[f'{metric}_std']:.2g} at ngf {ngf}"

    out = {}
    cheapest = {w: min(("down", "blocks", "up"), key=lambda v: summary[w, v]["gmacs_256"])
                for w in widths}
    ok = all(v == "blocks" for v in cheapest.values())
    out["blocks_cheapest"] = ("confirmed" if ok else "not confirmed",
                              "blocks has the fewest MACs at every width" if ok else
                              "another stage is cheaper at ngf " +
                              ", ".join(str(w) for w, v in cheapest.items() if v != "blocks"))
    parts = {w: results.verdict(c(w, "blocks", "up"), better) for w in widths}
    out["blocks_beat_up"] = (results.combine(list(parts.values())), "; ".join(
        f"{m(w, 'blocks')} vs {m(w, 'up')}: {p}" for w, p in parts.items()))
    parts = {w: results.combine([results.verdict(c(w, "up", v), worse) for v in ("down", "blocks")])
             for w in widths}
    out["up_most_sensitive"] = (results.combine(list(parts.values())), "; ".join(
        f"ngf {w}: up {summary[w, 'up'][f'{metric}_mean']:.3g} vs down "
        f"{summary[w, 'down'][f'{metric}_mean']:.3g}, blocks {summary[w, 'blocks'][f'{metric}_mean']:.3g}: {p}"
        for w, p in parts.items()))
    return {k: {"verdict": v, "reason": r, "claim": k,
                "metric": metric if k != "blocks_cheapest" else "MACs"}
            for k, (v, r) in out.items()}


def save(rows: list[dict], path: str | Path, command: str, code_version: str, settings: dict) -> Path:
    """Write a results file with the command, code version and settings beside the rows."""
    return results.save("decomposition", rows, path, command, code_version, settings, CLAIMS)


load = results.load
