"""The recorded sweeps (:mod:`gancomp_lite.experiments`): ``sweep-decomposition``,
``sweep-distillation``, ``sweep-cat``, ``sweep-crd``, ``sweep-ofa`` and ``sweep-comparison``.

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse

from ..errors import GancompError
from .common import _positive, _non_negative, _real, _recorded_sweep_options


def _cmd_sweep_decomposition(args: argparse.Namespace) -> int:
    from ..experiments import decomposition

    path = decomposition.run_recorded(
        args.out, task=args.task, widths=args.widths, seeds=args.seeds, steps=args.steps,
        size=args.size, batch_size=args.batch_size, n_eval=args.n, curve_points=args.curve_points,
        allow_dirty=args.allow_dirty, force=args.force, resume=args.resume,
        progress=not args.no_progress, argv=args.argv)
    rows = decomposition.load(path)["rows"]
    print(f"wrote {len(rows)} runs to {path}")
    for claim, v in decomposition.verdicts(rows).items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0



def _cmd_sweep_distillation(args: argparse.Namespace) -> int:
    from ..experiments import distillation as dx
    from ..experiments import results

    if args.force and args.resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")

    path = dx.run_recorded(
        args.experiment, args.out, task=args.task, widths=args.widths, seeds=args.seeds,
        steps=args.steps, size=args.size, batch_size=args.batch_size, n_eval=args.n,
        curve_points=args.curve_points, allow_dirty=args.allow_dirty, force=args.force,
        resume=args.resume, progress=not args.no_progress, argv=args.argv,
        save_students_to=args.save_students)
    stored = results.load(path)
    rows = stored["rows"]
    print(f"wrote {len(rows)} runs to {path}")
    verdicts = (dx.pseudo_pair_verdicts(rows) if args.experiment == "pseudo-pairs"
                else dx.deploy_verdicts(rows, stored.get("baselines"))
                if args.experiment == "deploy-friendly" else dx.ablation_verdicts(rows))
    for claim, v in verdicts.items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0



def _cmd_sweep_cat(args: argparse.Namespace) -> int:
    from ..experiments import cat
    from ..experiments import results

    path = cat.run_recorded(
        args.out, task=args.task, seeds=args.seeds, steps=args.steps, size=args.size,
        batch_size=args.batch_size, n_eval=args.n, reduction=args.reduction,
        curve_points=args.curve_points, allow_dirty=args.allow_dirty, force=args.force,
        resume=args.resume, progress=not args.no_progress, argv=args.argv,
        save_students_to=args.save_students)
    data = results.load(path)
    print(f"wrote {len(data['rows'])} rows to {path}; one-step pruning took "
          f"{min(data['prune_seconds']):.2f} s (best of {len(data['prune_seconds'])})")
    for claim, v in cat.verdicts(data["rows"], trivial=data.get("baselines")).items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0



def _cmd_sweep_crd(args: argparse.Namespace) -> int:
    from ..experiments import crd, results

    if args.force and args.resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")

    path = crd.run_recorded(
        args.experiment, args.out, task=args.task, seeds=args.seeds, steps=args.steps,
        size=args.size, batch_size=args.batch_size, n_eval=args.n, curve_points=args.curve_points,
        arms=args.arms, allow_dirty=args.allow_dirty, force=args.force, resume=args.resume,
        progress=not args.no_progress, argv=args.argv, save_students_to=args.save_students)
    data = results.load(path)
    print(f"wrote {len(data['rows'])} rows to {path}")
    for claim, v in crd.verdicts(data["rows"], trivial=data.get("baselines")).items():
        if claim in data["claims"]:
            print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0



def _cmd_sweep_ofa(args: argparse.Namespace) -> int:
    from ..experiments import ofa, results

    path = ofa.run_recorded(
        args.experiment, args.out, seeds=args.seeds, steps=args.steps, size=args.size,
        batch_size=args.batch_size, n_eval=args.n, curve_points=args.curve_points,
        finetune_steps=args.finetune_steps, population=args.population,
        generations=args.generations, ship_dir=args.ship_dir, allow_dirty=args.allow_dirty,
        force=args.force, resume=args.resume, progress=not args.no_progress, argv=args.argv)
    data = results.load(path)
    print(f"wrote {len(data['rows'])} rows to {path}")
    return 0




def _cmd_sweep_comparison(args: argparse.Namespace) -> int:
    from ..experiments import comparison as cmp

    path = cmp.run_recorded(
        args.out, seeds=args.seeds, steps=args.steps, size=args.size, batch_size=args.batch_size,
        n_eval=args.n, points=args.curve_points, finetune_steps=args.finetune_steps,
        methods=args.methods, budget_ngfs=args.budget_ngfs, allow_dirty=args.allow_dirty,
        force=args.force, resume=args.resume, progress=not args.no_progress, argv=args.argv,
        save_students_to=args.save_students)
    data = cmp.load(path)
    print(f"wrote {len(data['rows'])} rows to {path}")
    for claim, v in cmp.verdicts(data["rows"], data.get("baselines"),
                                 len(data["settings"]["seeds"]),
                                 data["settings"]["budget_ngfs"]).items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0


def _resume_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted results file of the same command and package, "
                        "keeping its finished runs")


def _cmd_bench_chapters(args: argparse.Namespace) -> int:
    from ..experiments import chapter_cost, results

    path = chapter_cost.run_recorded(args.out, scale=args.scale, steps=args.steps,
                                     names=args.chapters, stand_ins=args.stand_in_weights,
                                     allow_dirty=args.allow_dirty, force=args.force,
                                     resume=args.resume, progress=not args.no_progress,
                                     argv=args.argv)
    print(chapter_cost.markdown(results.load(path)))
    print(f"wrote {path}")
    return 0


def add_parsers(sub) -> None:
    """Add the experiments verbs to the sub-command parser ``sub``."""
    from ..data.synthetic import WORLDS
    from ..experiments.cat import CI_REDUCTION
    from ..experiments.crd import SCHEME_ARMS, ablation_arms
    from ..training.online import preset as online_preset

    CRD_ARMS = [*ablation_arms(online_preset("crd-cyclegan"), 64), *SCHEME_ARMS]

    b = sub.add_parser("bench-chapters",
                       help="what each chapter costs at a scale: run it with every training loop "
                            "cut to its first --steps steps, count its operations and FLOPs, and "
                            "estimate the whole chapter on this CPU and on a Colab T4 (a benchmark "
                            "that reports)")
    from ..config import SCALES

    b.add_argument("--scale", default="small", choices=list(SCALES), help="the scale the chapters run at (default: small)")
    b.add_argument("--steps", type=_positive, default=3, help="optimizer steps each trainer runs")
    b.add_argument("--chapters", nargs="+", metavar="NN",
                   help="chapter numbers or names (default: every chapter)")
    b.add_argument("--stand-in-weights", action="store_true",
                   help="time randomly initialised Inception (FID) and VGG16 (perceptual) networks "
                        "in place of their downloads (offline; their numbers are meaningless)")
    b.add_argument("--out", required=True, help="results file (JSON)")
    b.add_argument("--force", action="store_true", help="replace an existing results file")
    b.add_argument("--allow-dirty", action="store_true",
                   help="record from a package tree with uncommitted changes (the file says so)")
    b.add_argument("--no-progress", action="store_true")
    _resume_option(b)
    b.set_defaults(func=_cmd_bench_chapters)

    w = sub.add_parser("sweep-decomposition",
                       help="train every single-stage decomposition (GAN Compression Table 4)")
    w.add_argument("--task", default="edges2shapes", choices=sorted(WORLDS))
    w.add_argument("--widths", type=_positive, nargs="+", default=[16, 4])
    w.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    w.add_argument("--steps", type=_positive, default=500)
    w.add_argument("--size", type=_positive, default=64)
    w.add_argument("--batch-size", type=_positive, default=4)
    _recorded_sweep_options(w)
    _resume_option(w)
    w.set_defaults(func=_cmd_sweep_decomposition)


    s = sub.add_parser("sweep-distillation",
                       help="GAN Compression's Fig. 7a (pseudo-pairs) or Table 3 (ablation), or "
                            "the deployment-friendly student against the standard one")
    s.add_argument("experiment", choices=["pseudo-pairs", "ablation", "deploy-friendly"])
    s.add_argument("--task", default=None, choices=sorted(WORLDS),
                   help="default: stripes (pseudo-pairs), edges2shapes (ablation, deploy-friendly)")
    s.add_argument("--widths", type=_positive, nargs="+", default=[8, 4])
    s.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    s.add_argument("--steps", type=_positive, default=500)
    s.add_argument("--size", type=_positive, default=64)
    s.add_argument("--batch-size", type=_positive, default=None,
                   help="default: 1 (pseudo-pairs, as CycleGAN), 4 (ablation, deploy-friendly)")
    s.add_argument("--save-students", default=None, metavar="DIR",
                   help="also write every arm's network of the first seed into DIR")
    _recorded_sweep_options(s)
    _resume_option(s)
    s.set_defaults(func=_cmd_sweep_distillation)


    c = sub.add_parser("sweep-cat", help="CAT's claims on one pruned inception student: KA vs MSE, "
                                         "KA without reconstruction, inherited weights, vs the teacher")
    c.add_argument("--task", default="edges2shapes", choices=["edges2shapes", "stripes"])
    c.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=_positive, default=None,
                   help="default: the teacher's own training steps")
    c.add_argument("--size", type=_positive, default=64)
    c.add_argument("--batch-size", type=_positive, default=None,
                   help="default 4 (KA compares the samples of a batch: it needs more than one)")
    c.add_argument("--reduction", type=_real(above=1.0), default=CI_REDUCTION,
                   help="prune to the teacher's MACs divided by this (CAT's convention, "
                        f"256x256; default {CI_REDUCTION:g}: the papers' 10-22x leave the ci "
                        "teacher's encoder at CAT's channel floor)")
    _recorded_sweep_options(c)
    _resume_option(c)
    c.add_argument("--save-students", default=None, metavar="DIR",
                   help="also write the first seed's trained networks to DIR, one checksummed "
                        "file per arm (the pictures chapter 07 shows)")
    c.set_defaults(func=_cmd_sweep_cat)


    c = sub.add_parser("sweep-crd", help="CRD's ablations (Tables 3-6) on the online teacher, and CRD "
                                         "vs GAN Compression's distiller at the same MACs")
    c.add_argument("experiment", choices=["ablation", "schemes"],
                   help="ablation: students sharing one online teacher per seed (Tables 3-5, "
                        "Table 6 without D); schemes: the discriminator schemes that need their "
                        "own run, and GC's distiller")
    c.add_argument("--task", default="edges2shapes", choices=["edges2shapes"])
    c.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=_positive, default=600)
    c.add_argument("--size", type=_positive, default=64)
    c.add_argument("--batch-size", type=_positive, default=4)
    c.add_argument("--arms", nargs="+", default=None, choices=CRD_ARMS, metavar="ARM",
                   help="only these arms (default: all); ablation: "
                        f"{', '.join(CRD_ARMS[:-len(SCHEME_ARMS)])}; schemes: "
                        f"{', '.join(SCHEME_ARMS)}")
    _recorded_sweep_options(c)
    _resume_option(c)
    c.add_argument("--save-students", default=None, metavar="DIR",
                   help="also write the first seed's trained networks to DIR, one checksummed "
                        "file per arm (the pictures chapter 08 shows)")
    c.set_defaults(func=_cmd_sweep_crd)


    c = sub.add_parser("sweep-ofa", help="GAN Compression's once-for-all claims: searched vs "
                                         "uniformly shrunk students, sampling rules, fine-tuning, "
                                         "search cost against CAT")
    c.add_argument("experiment", choices=["supernets", "baselines"],
                   help="supernets: train, ship and search supernets; baselines: the uniform "
                        "students at the budgets and CAT's pruning")
    c.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=_positive, default=2000,
                   help="default 2000, the ci teacher's own training steps")
    c.add_argument("--size", type=_positive, default=64)
    c.add_argument("--batch-size", type=_positive, default=4)
    c.add_argument("--finetune-steps", type=_positive, default=300)
    c.add_argument("--population", type=_positive, default=32)
    c.add_argument("--generations", type=_positive, default=10)
    c.add_argument("--ship-dir", default=None, help="where supernets go (default data/supernets)")
    _recorded_sweep_options(c)
    _resume_option(c)
    c.set_defaults(func=_cmd_sweep_ofa)

    from ..experiments.comparison import BUDGET_NGFS, METHODS
    c = sub.add_parser("sweep-comparison",
                       help="every method at two equal MAC budgets on one task under one "
                            "protocol, with three checkpoint rules (chapter 11)")
    c.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=_positive, default=None,
                   help="default: the ci teacher's own training steps")
    c.add_argument("--size", type=_positive, default=64)
    c.add_argument("--batch-size", type=_positive, default=4)
    c.add_argument("--finetune-steps", type=_positive, default=300,
                   help="once-for-all's fine-tuning of each searched subnet")
    c.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                   metavar="METHOD", help=f"only these ({', '.join(METHODS)}; default: all)")
    c.add_argument("--budget-ngfs", type=_positive, nargs="+", default=list(BUDGET_NGFS),
                   metavar="K", help="the budgets: the MACs of the uniform Mobile ResNet of each "
                                     "width K (default: %(default)s); checked before training")
    c.add_argument("--save-students", default=None, metavar="DIR",
                   help="also write every method's student of the first seed into DIR")
    _recorded_sweep_options(c)
    _resume_option(c)
    c.set_defaults(func=_cmd_sweep_comparison)
