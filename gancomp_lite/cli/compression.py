"""The compression verbs (:mod:`gancomp_lite.compression`): ``prune`` (CAT's one-step
pruning) and GAN Compression's once-for-all pipeline, ``train-supernet``, ``search``,
``score-table`` and ``export-subnet``.

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse
import json

from ..errors import GancompError
from .common import _positive, _non_negative, _positive_real, _probability, _device


def _supernet_and_split(path):
    """A supernet file, its manifest, its search space and its held-out split."""
    from ..compression.ofa import SearchSpace, folder_held_out_split, held_out_split
    from ..training.checkpoint import load_supernet

    supernet, manifest = load_supernet(path)
    r = manifest["recipe"]
    if r["data"].startswith("synthetic:"):
        data = held_out_split(r["task"], r["n_train"], r["n_val"], r["image_size"])
    else:   # the folder it was trained on: its last n_val training pairs
        data = folder_held_out_split(r["data"], r["n_val"], r["image_size"],
                                     r.get("direction", "AtoB"))
    return supernet, manifest, SearchSpace.from_dict(r["space"]), data



def _cmd_prune(args: argparse.Namespace) -> int:
    import shlex

    from ..compression.one_step import one_step_prune
    from ..metrics.cost import CONVENTIONS, profile_all
    from ..models import InceptionGenerator
    from ..models.inception import BRANCHES
    from ..training.checkpoint import load_teacher_file, save_pruned

    teacher = load_teacher_file(args.teacher)
    if not isinstance(teacher, InceptionGenerator):
        raise GancompError(f"{args.teacher} holds a {type(teacher).__name__}: one-step pruning "
                           f"needs an inception teacher (`--arch inception`)")
    student, report = one_step_prune(teacher, args.target_macs, size=args.size,
                                     convention=args.convention, floor=args.floor,
                                     inherit=args.inherit)
    costs = profile_all(student, args.size, conventions=tuple(CONVENTIONS))
    print(f"pruned to {report.macs / 1e9:.4g}G MACs ({report.convention}, {args.size}px; target "
          f"{report.target_macs / 1e9:.4g}G) at threshold {report.threshold:.4g} after "
          f"{len(report.steps)} bisection steps in {report.seconds:.1f} s")
    print(f"  encoder {report.config['down']}, decoder {report.config['up']}")
    for b, widths in enumerate(report.config["branches"]):
        print(f"  block {b}: " + ", ".join(f"{n} {w}" for n, w in zip(BRANCHES, widths)))
    for name, cost in costs.items():
        print(f"  MACs [{name}]: {cost.gmacs:.4f}G  params {cost.mparams:.4f}M")
    out = save_pruned(student, report, args.out, args.teacher, args.inherit,
                "gancomp-lite " + shlex.join(args.argv),
                {k: c.as_dict() for k, c in costs.items()}, force=args.force)
    print(f"wrote {out}")
    return 0



def _cmd_train_supernet(args: argparse.Namespace) -> int:
    import shlex

    from ..compression.ofa import search_space
    from ..training.supernet import train_supernet
    from .training import _preset_direction, _preset_epochs

    preset = None
    if args.paper_preset is not None:
        from ..training.presets import preset_for, preset_space

        preset = preset_for(args.paper_preset, "train-supernet")
        args.space = args.space or preset_space(preset)
        args.preset = args.preset or preset.loss
        args.batch_size = args.batch_size or preset.batch_size
    if args.space is None:
        raise GancompError("give the search space (--space), or a paper preset that names it")
    trainer, manifest = train_supernet(
        args.task, search_space(args.space), args.out, args.steps, sampling=args.sampling,
        batch_size=args.batch_size or 4, seed=args.seed, n_train=args.n_train, n_val=args.n_val,
        image_size=args.size, teacher_path=args.teacher, data=args.data, preset=args.preset,
        resume=args.resume, device=args.device, progress=not args.no_progress,
        command="gancomp-lite " + shlex.join(args.argv), amp=args.amp,
        channels_last=args.channels_last, direction=_preset_direction(args, preset),
        epochs=_preset_epochs(preset), paper_preset=args.paper_preset)
    if manifest is None:         # a torchrun process other than rank 0
        return 0
    last = trainer.history[-1]
    print(f"trained a {args.sampling} supernet of {args.space} ({manifest['recipe']['space']['name']}, "
          f"{trainer.step} steps) into {args.out}/supernet.pt")
    print("final losses: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if "/" in k))
    return 0



def _cmd_search(args: argparse.Namespace) -> int:
    from ..compression.ofa import search
    from ..models.dynamic import format_config

    supernet, manifest, space, data = _supernet_and_split(args.supernet)
    options = {}
    if args.method == "evolution":
        options = dict(population=args.population, generations=args.generations,
                       mutate_prob=args.mutate_prob, seed=args.seed)
    result = search(supernet, space, args.budget, data, method=args.method, size=args.size,
                    convention=args.convention, cache=args.cache, force=args.force,
                    progress=not args.no_progress, **options)
    if args.json:
        print(json.dumps({**result.as_dict(), "space": space.name, "convention": args.convention,
                          "size": args.size, "metric": "held-out L1"}, indent=2))
        return 0
    print(f"{args.method} search of {space.name} ({space.size()} subnets) under "
          f"{result.budget / 1e9:.4g}G MACs ({args.convention}, {args.size}px): "
          f"{result.evaluated} subnets scored in {result.seconds:.1f} s "
          f"({result.cache_hits} from the cache)")
    print(f"  best: {format_config(result.best)}  {result.best_macs / 1e9:.4g}G MACs  "
          f"held-out L1 {result.best_score:.4f}")
    return 0



def _cmd_score_table(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from ..compression.ofa import make_score_table
    from ..errors import OutputExistsError
    from ..experiments.results import machine
    from ..provenance import require_clean
    from ..training.supernet import score_table_of

    out = Path(args.out) if args.out else score_table_of(args.supernet)
    if out.exists() and not args.force:
        raise OutputExistsError(f"{out} exists; pass --force to make it anew")
    version = require_clean(args.allow_dirty, what="make a score table")
    supernet, manifest, space, data = _supernet_and_split(args.supernet)
    record = {"command": "gancomp-lite " + shlex.join(args.argv), "code_version": version,
              "supernet": Path(args.supernet).name, "supernet_sha256": manifest.get("sha256"),
              "machine": machine(), **({"allow_dirty": True} if args.allow_dirty else {})}
    table = make_score_table(supernet, space, data, out, record, force=args.force,
                             progress=not args.no_progress)
    best = min(table.scores, key=table.scores.get)
    print(f"scored all {len(table.scores)} subnets of {space.name} in {table.record['seconds']:.0f} s "
          f"into {out} (data {table.key['data']}); lowest held-out L1 {table.scores[best]:.4f} ({best})")
    return 0



def _cmd_export_subnet(args: argparse.Namespace) -> int:
    import shlex

    from ..compression.ofa import SearchSpace, export_subnet
    from ..metrics.cost import CONVENTIONS, profile_all
    from ..models.dynamic import format_config
    from ..training.checkpoint import load_supernet, save_subnet

    supernet, manifest = load_supernet(args.supernet)
    config = SearchSpace.from_dict(manifest["recipe"]["space"]).validate(args.config)
    sub = export_subnet(supernet, config)
    costs = profile_all(sub, args.size, conventions=tuple(CONVENTIONS))
    out = save_subnet(sub, args.out, format_config(config), args.supernet,
                      "gancomp-lite " + shlex.join(args.argv),
                      {k: c.as_dict() for k, c in costs.items()}, force=args.force)
    for name, cost in costs.items():
        print(f"  MACs [{name}]: {cost.gmacs:.4f}G  params {cost.mparams:.4f}M")
    print(f"wrote {out} (subnet {format_config(config)}; fine-tune it with "
          f"`gancomp-lite distill {manifest['recipe']['task']} --student-from {out} ...`)")
    return 0




def add_parsers(sub) -> None:
    """Add the compression verbs to the sub-command parser ``sub``."""
    from ..data.synthetic import WORLDS
    from ..metrics.cost import CONVENTIONS
    from ..training.distill import PRESETS as DISTILL_PRESETS

    pr = sub.add_parser("prune", help="CAT's one-step pruning of an inception teacher to a MAC budget")
    pr.add_argument("teacher", help="a shipped inception teacher file")
    pr.add_argument("--target-macs", type=_positive_real, required=True,
                    help="MAC budget per image, for example 2.6e9")
    pr.add_argument("--size", type=_positive, default=256, help="image side the MACs are counted at")
    pr.add_argument("--convention", default="cat", choices=list(CONVENTIONS),
                    help="MAC convention of the budget (default: CAT's profiler)")
    pr.add_argument("--floor", type=_positive, default=None,
                    help="least channels an encoder/decoder layer keeps (default: 16 at ngf 64, scaled)")
    pr.add_argument("--inherit", action="store_true",
                    help="keep the teacher's weights of the kept channels (default: re-initialise, as CAT)")
    pr.add_argument("--out", required=True, help="the pruned network's file (.pt; a manifest goes beside it)")
    pr.add_argument("--force", action="store_true", help="replace an existing file")
    pr.set_defaults(func=_cmd_prune)


    from ..compression.ofa import SEARCHES, SPACES
    from ..training.supernet import SAMPLINGS

    sn = sub.add_parser("train-supernet", help="GAN Compression's once-for-all supernet, trained "
                                               "by its distiller (resumable)")
    sn.add_argument("task", choices=sorted(WORLDS))
    sn.add_argument("--space", choices=list(SPACES), default=None,
                    help="candidate widths (GAN Compression's lists; *-ci: divided by 4); default: "
                         "the paper preset's")
    sn.add_argument("--sampling", choices=SAMPLINGS, default="uniform",
                    help="uniform: one subnet per step (GAN Compression); sandwich: largest, "
                         "smallest and a random one")
    sn.add_argument("--steps", type=_positive, default=None,
                    help="training steps (required unless --paper-preset sets them)")
    sn.add_argument("--batch-size", type=_positive, default=None,
                    help="default: the paper preset's, else 4")
    sn.add_argument("--seed", type=_non_negative, default=0)
    sn.add_argument("--n-train", type=_positive, default=None, help="default: the scale's")
    sn.add_argument("--n-val", type=_positive, default=32,
                    help="training items held out for the search (never trained on)")
    sn.add_argument("--size", type=_positive, default=None, help="default: the scale's")
    sn.add_argument("--teacher", default=None, help="teacher file (default: the task's shipped one)")
    sn.add_argument("--data", default=None, help="a real dataset folder instead of the synthetic task")
    sn.add_argument("--preset", default=None, choices=sorted(DISTILL_PRESETS),
                    help="loss weights (default: GAN Compression's for the task's kind)")
    sn.add_argument("--resume", action="store_true")
    sn.add_argument("--device", type=_device, default=None)
    sn.add_argument("--no-progress", action="store_true")
    sn.add_argument("--out", required=True, help="run folder")
    from .training import _add_direction, _add_paper_preset, _add_speed_options

    _add_paper_preset(sn, "train-supernet", "GAN Compression's supernet recipe: its epochs on "
                                            "the training set set the steps (the last "
                                            "epochs_decay decaying), its batch size, loss "
                                            "weights and search space")
    _add_direction(sn, default=None)
    _add_speed_options(sn)
    sn.set_defaults(func=_cmd_train_supernet)


    se = sub.add_parser("search", help="the best subnet of a supernet under a MAC budget")
    se.add_argument("supernet", help="a supernet file written by train-supernet")
    se.add_argument("--budget", type=_positive_real, required=True, help="MACs per image, e.g. 4.9e8")
    se.add_argument("--method", choices=list(SEARCHES), default="exhaustive")
    se.add_argument("--convention", choices=("in-counted", "in-excluded", "cat"), default="in-counted",
                    help="MAC convention of the budget (default: GAN Compression's README)")
    se.add_argument("--size", type=_positive, default=256, help="image side the MACs are counted at")
    se.add_argument("--cache", default=None, help="score cache file (JSON): a re-run is instant")
    se.add_argument("--force", action="store_true", help="replace a cache made for another supernet")
    se.add_argument("--population", type=_positive, default=100)
    se.add_argument("--generations", type=_positive, default=500)
    se.add_argument("--mutate-prob", type=_probability, default=0.2)
    se.add_argument("--seed", type=_non_negative, default=0)
    se.add_argument("--json", action="store_true")
    se.add_argument("--no-progress", action="store_true")
    se.set_defaults(func=_cmd_search)


    st = sub.add_parser("score-table", help="score every subnet of a supernet on its held-out split "
                                            "(the table a chapter searches in seconds)")
    st.add_argument("supernet", help="a supernet file written by train-supernet or sweep-ofa")
    st.add_argument("--out", default=None,
                    help="the table (JSON; default: SUPERNET.scores.json beside the supernet)")
    st.add_argument("--force", action="store_true", help="make an existing table anew")
    st.add_argument("--allow-dirty", action="store_true",
                    help="make it from a package tree with uncommitted changes (the table records it)")
    st.add_argument("--no-progress", action="store_true")
    st.set_defaults(func=_cmd_score_table)


    ex = sub.add_parser("export-subnet", help="a subnet of a supernet as a plain generator file")
    ex.add_argument("supernet", help="a supernet file written by train-supernet")
    ex.add_argument("--config", required=True, metavar="C0_..._C7", help="the subnet's configuration")
    ex.add_argument("--size", type=_positive, default=256, help="image side the MACs are counted at")
    ex.add_argument("--out", required=True, help="the subnet's file (.pt; a manifest goes beside it)")
    ex.add_argument("--force", action="store_true")
    ex.set_defaults(func=_cmd_export_subnet)
