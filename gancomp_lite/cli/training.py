"""The training verbs (:mod:`gancomp_lite.training`): ``train`` and ``export-teacher``
(teachers), ``train-features`` (the offline FID network), ``evaluate``, ``distill`` and
``export-student`` (GAN Compression's distiller), ``distill-online`` (OMGD and CRD) and
``bench-train`` (the distiller's training speed, a benchmark).

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse
import json

from ..errors import GancompError
from .common import _positive, _non_negative, _non_negative_real, _device, _name, _generator_of


def _cmd_train(args: argparse.Namespace) -> int:
    import shlex

    from ..training.teachers import train_teacher

    trainer = train_teacher(args.task, args.out, scale=args.scale, steps=args.steps, arch=args.arch,
                            seed=args.seed, resume=args.resume, data=args.data,
                            device=args.device, progress=not args.no_progress,
                            checkpoint_every=args.checkpoint_every, amp=args.amp,
                            channels_last=args.channels_last, direction=args.direction,
                            command="gancomp-lite " + shlex.join(args.argv))
    last = trainer.history[-1] if trainer.history else {}
    print(f"trained {args.task} teacher to step {trainer.step} -> {args.out}/checkpoint.pt")
    print("last losses: " + ", ".join(f"{k}={v:.4f}" for k, v in last.items()
                                      if k not in ("step", "lr")))
    return 0



def _cmd_export_teacher(args: argparse.Namespace) -> int:
    import shlex

    from ..training.teachers import export_teacher

    manifest = export_teacher(args.run_dir, args.out, n_eval=args.n, allow_dirty=args.allow_dirty,
                              command="gancomp-lite " + shlex.join(args.argv), force=args.force)
    print(f"wrote {manifest['file']} (sha256 {manifest['sha256'][:12]}...)")
    print(json.dumps(manifest["metrics"], indent=2))
    return 0



def _cmd_train_features(args: argparse.Namespace) -> int:
    import shlex

    from ..metrics.features import save_feature_net, train_feature_net
    from ..provenance import require_clean

    from pathlib import Path

    from ..metrics.features import FEATURES_NAME
    from ..shipped import refuse_existing

    # refused before any training: an existing output, a dirty tree
    target = Path(args.out) / f"{FEATURES_NAME}.pt"
    refuse_existing([target, target.with_suffix(".json")], args.force)
    version = require_clean(args.allow_dirty, what="train the feature network")
    net, info = train_feature_net(steps=args.steps, seed=args.seed, progress=not args.no_progress)
    command = "gancomp-lite " + shlex.join(args.argv)
    manifest = save_feature_net(net, info, args.out, command, version, allow_dirty=args.allow_dirty,
                                force=args.force)
    print(f"wrote {manifest['file']}: held-out accuracy {info['held_out_accuracy']:.3f}")
    return 0



def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..metrics.quality import default_features, evaluate
    from pathlib import Path

    from ..training.checkpoint import read_manifest

    from ..data.synthetic import WORLDS

    G = _generator_of(args.checkpoint)
    if args.data is not None:          # a real dataset folder, GAN Compression's protocol
        from ..metrics.quality import evaluate_folder

        if args.n is not None or args.seed is not None:
            raise GancompError("--data scores every test image of the folder: --n and --seed are "
                               "for the synthetic tasks")
        segmentation = None
        if args.cityscapes_root is not None and args.drn is None:
            raise GancompError("--cityscapes-root goes with --drn (the DRN-D-105 weights for mIoU)")
        if args.drn is not None:
            from ..metrics.segmentation import load_drn

            segmentation = (load_drn(args.drn), args.cityscapes_root)
        # a real folder is scored with the papers' Inception features unless told otherwise
        metrics = evaluate_folder(G, args.data, args.direction, size=args.size or 256,
                                  features=args.features or "inception",
                                  real_statistics=args.real_stats, segmentation=segmentation,
                                  paired=WORLDS[args.task].aligned)
        print(json.dumps(metrics, indent=2) if args.json else
              "\n".join(f"{k:24s} {v:.4f}" for k, v in metrics.items()))
        return 0
    if args.real_stats is not None or args.drn is not None or args.cityscapes_root is not None:
        raise GancompError("--real-stats, --drn and --cityscapes-root are for a --data folder: a "
                           "synthetic task is scored on its own test split")
    manifest = read_manifest(Path(args.checkpoint))
    recipe = manifest.get("recipe", {})
    if manifest.get("task") not in (None, args.task):
        raise GancompError(f"{args.checkpoint} was trained on {manifest['task']!r}, "
                           f"not {args.task!r}")
    size = args.size or recipe.get("image_size", 64)
    metrics = evaluate(G, args.task, n=args.n or 64, size=size, seed=args.seed or 0,
                       features=args.features or default_features())
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        for k, v in metrics.items():
            print(f"{k:24s} {v:.4f}")
    return 0



def _cmd_distill(args: argparse.Namespace) -> int:
    from ..data import WORLDS
    from ..training.distill import StudentRecipe, distill

    if args.task not in WORLDS:
        raise GancompError(f"unknown task {args.task!r}: expected one of {', '.join(sorted(WORLDS))}")
    paired = WORLDS[args.task].aligned
    mode = "paired" if paired else "pseudo-pairs"
    if args.unpaired:
        mode = "unpaired"
    elif args.pseudo_pairs and paired:
        raise GancompError(f"{args.task} is a paired task: pseudo-pairs are for unpaired tasks")
    preset = None
    if args.paper_preset is not None:
        from ..training.presets import preset_for, preset_student

        preset = preset_for(args.paper_preset, "distill")
        named = preset_student(preset)
        if named is None and args.student_from is None:
            how = ("export it from a trained supernet (`gancomp-lite search`, then `export-subnet`)"
                   if preset.stage == "finetune" else "prune the teacher first (`gancomp-lite prune`)")
            raise GancompError(f"{args.paper_preset}'s student is {preset.student}: {how} and "
                               f"pass it as --student-from")
        if named is not None:
            args.student = args.student or named[0]
            args.ngf = args.ngf or named[1]
        if args.distill_layers is None and args.student_from is None:
            args.distill_layers = list(preset.distill_layers)
    if (preset is not None and preset.stage == "finetune" and args.discriminator_from is None
            and args.inherit_d):
        print(f"note: {args.paper_preset} starts here from the teacher's discriminator; the "
              f"official fine-tune restores the supernet's (give its run as --discriminator-from)")
    if args.student_from is not None and (args.student is None or args.ngf is None):
        args.student, args.ngf = _started_student(args.student_from, args.student, args.ngf)
    args.student = args.student or "resnet"
    args.direction = _preset_direction(args, preset)
    if args.ngf is None:
        raise GancompError("give the student's width (--ngf), or a paper preset that names it")
    batch_size = args.batch_size or (preset.batch_size if preset else 1)
    loss_preset = args.loss_preset or (preset.loss if preset else None)
    layers = None if args.distill_layers is None else [x for x in args.distill_layers if x != "none"]
    if args.unpaired and args.distill_layers is None:
        layers = []  # the unpaired baseline has no teacher in its loss
    recipe = StudentRecipe(task=args.task, student=args.student, ngf=args.ngf, mode=mode,
                           init=args.init, inherit_d=args.inherit_d, distill_layers=layers,
                           distill_loss=args.distill_loss, gan_mode=args.gan_mode,
                           lambda_recon=args.lambda_recon, lambda_distill=args.lambda_distill,
                           image_size=args.size, student_file=args.student_from,
                           loss_preset=loss_preset, deploy_friendly=args.deploy_friendly)
    import shlex

    trainer = distill(recipe, args.teacher, args.out, args.steps, batch_size=batch_size,
                      seed=args.seed, n_train=args.n_train, device=args.device,
                      progress=not args.no_progress, data=args.data,
                      evaluate_n=args.n or True,
                      command="gancomp-lite " + shlex.join(args.argv), amp=args.amp,
                      channels_last=args.channels_last, direction=args.direction,
                      epochs=_preset_epochs(preset), paper_preset=args.paper_preset,
                      discriminator_from=args.discriminator_from)
    last = trainer.history[-1]
    d_start = ("inherited from " + args.discriminator_from if args.discriminator_from else
               "inherited" if args.inherit_d else "fresh")
    print(f"trained {args.student} ngf={args.ngf} ({mode}, init {args.init}, "
          f"{d_start} D) for {trainer.step} steps into {args.out}")
    print("final losses: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if "/" in k))
    from pathlib import Path

    metrics = Path(args.out) / "metrics.json"
    if metrics.exists():
        print(metrics.read_text().strip())
    return 0



def _started_student(path: str, student: str | None, ngf: int | None) -> tuple[str, int]:
    """The architecture and width a ``--student-from`` file records, for the run's
    recipe (the network itself comes from the file): a once-for-all subnet is a
    Mobile ResNet, its width its widest layer's."""
    from ..training.checkpoint import load_pruned

    G, _ = load_pruned(path)
    names = {"InceptionGenerator": "inception", "MobileResnetGenerator": "mobile_resnet",
             "SubMobileResnetGenerator": "mobile_resnet", "ResnetGenerator": "resnet",
             "UnetGenerator": "unet"}
    width = G.config.get("ngf") or max(G.config.get("channels") or [1])
    return student or names.get(type(G).__name__, "resnet"), ngf or int(width)


def _cmd_distill_online(args: argparse.Namespace) -> int:
    import shlex

    from ..training.online import distill_online

    preset = None
    pretrained_scheme = (args.scheme or "").startswith("pretrained")
    if pretrained_scheme and args.teacher_arch is not None:
        raise GancompError(f"scheme {args.scheme} distils from a finished teacher file (--teacher): "
                           f"--teacher-arch chooses an online teacher")
    if args.n_share is not None and not args.deep_teacher_ngf:
        raise GancompError("--n-share is the deep teacher's: give --deep-teacher-ngf with it")
    if args.paper_preset is not None:
        from ..training.presets import preset_for, preset_student, preset_teachers

        preset = preset_for(args.paper_preset, "distill-online")
        if args.method is not None and args.method != preset.paper:
            raise GancompError(f"{args.paper_preset} is {preset.paper}'s recipe, not "
                               f"{args.method}'s: drop --method or pick a {args.method} preset")
        args.method = preset.paper
        args.preset = args.preset or preset.loss
        named = preset_student(preset)
        args.student_ngf = args.student_ngf or (named[1] if named else None)
        teachers = preset_teachers(preset) or {}
        args.teacher_ngf = args.teacher_ngf or teachers.get("ngf")
        if not pretrained_scheme:   # a pre-trained scheme's teacher is the file's
            args.teacher_arch = args.teacher_arch or teachers.get("arch")
            if args.deep_teacher_ngf is None:
                args.deep_teacher_ngf = teachers.get("deep_ngf")
        args.batch_size = args.batch_size or preset.batch_size
    if args.method is None:
        raise GancompError("give the method (--method crd|omgd), or a paper preset that names it")
    args.deep_teacher_ngf = args.deep_teacher_ngf or None        # 0: no deep teacher
    if args.deep_teacher_ngf and args.method != "omgd":
        raise GancompError(f"the deep teacher is OMGD's: {args.method}'s code trains one online "
                           f"teacher (drop --deep-teacher-ngf)")
    args.direction = _preset_direction(args, preset)
    trainer = distill_online(args.task, args.method, args.out, args.steps, preset_name=args.preset,
                             scheme=args.scheme, student_ngf=args.student_ngf,
                             teacher_ngf=args.teacher_ngf, batch_size=args.batch_size, seed=args.seed,
                             n_train=args.n_train, backbone=args.backbone, download=args.download,
                             teacher_file=args.teacher, data=args.data, device=args.device,
                             progress=not args.no_progress, evaluate_n=args.n or True,
                             force=args.force, command="gancomp-lite " + shlex.join(args.argv),
                             amp=args.amp, channels_last=args.channels_last,
                             direction=args.direction, epochs=_preset_epochs(preset),
                             paper_preset=args.paper_preset,
                             teacher_arch=args.teacher_arch or "resnet",
                             deep_teacher_ngf=args.deep_teacher_ngf,
                             n_share=3 if args.n_share is None else args.n_share)
    last = trainer.history[-1]
    print(f"trained a {args.method} student for {trainer.step} steps into {args.out} "
          f"(student.pt, checkpoint.pt, recipe.json)")
    print("final losses: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if "/" in k))
    from pathlib import Path

    metrics = Path(args.out) / "metrics.json"
    if metrics.exists():
        print(metrics.read_text().strip())
    return 0



def _cmd_export_student(args: argparse.Namespace) -> int:
    import shlex

    from ..training.distill import export_student

    manifest = export_student(args.run_dir, args.name, args.out, n_eval=args.n,
                              allow_dirty=args.allow_dirty,
                              command="gancomp-lite " + shlex.join(args.argv), force=args.force)
    print(f"wrote {manifest['file']} ({manifest['bytes']:,} bytes, sha256 {manifest['sha256'][:12]}...)")
    print(json.dumps(manifest["metrics"], indent=2))
    return 0



def _cmd_bench_train(args: argparse.Namespace) -> int:
    from ..experiments import train_speed

    caches = {"on": [True], "off": [False], "both": [False, True]}[args.teacher_cache]
    reports = [train_speed.benchmark(threads=args.threads, warmup=args.warmup, repeats=args.repeats,
                                     steps=args.steps, channels_last=args.channels_last,
                                     teacher_cache=cache, amp=args.amp) for cache in caches]
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
    else:
        print("\n".join(train_speed.describe(r) for r in reports))
        if len(reports) == 2:
            print(f"teacher cache: {reports[1]['it_per_s'] / reports[0]['it_per_s']:.2f}x")
    return 0




def _cmd_convert_official(args: argparse.Namespace) -> int:
    import shlex

    from ..training.checkpoint import read_manifest
    from ..training.official import convert_official

    out = convert_official(args.file, args.arch, args.out, force=args.force,
                           command="gancomp-lite " + shlex.join(args.argv))
    manifest = read_manifest(out)
    print(f"converted {args.file} ({args.arch}: {manifest['config']}) -> {out}")
    return 0

def _add_direction(p, default: str | None = "AtoB") -> None:
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default=default,
                   help="how a paired --data folder is read: BtoA translates its right halves to its "
                        "left ones (the papers' Cityscapes labels -> photos and map2sat)"
                        + ("" if default else "; default: the paper preset's, else AtoB"))


def _add_paper_preset(p, verb: str, what: str) -> None:
    """``--paper-preset NAME`` of a training verb: the presets of the stages it trains."""
    from ..training.presets import PAPER_PRESETS, VERB_STAGES

    names = [k for k, x in PAPER_PRESETS.items() if x.stage in VERB_STAGES[verb]]
    p.add_argument("--paper-preset", default=None, metavar="NAME", choices=names,
                   help=f"{what}; options given here win. Choices: {', '.join(names)} "
                        "(`gancomp-lite info --preset NAME` prints one)")


def _preset_direction(args: argparse.Namespace, preset) -> str:
    """How a paired folder is read: ``--direction`` if given, else the paper preset's on a
    real ``--data`` folder (its Cityscapes and map2sat recipes read BtoA), else AtoB."""
    if args.direction is not None:
        return args.direction
    return preset.direction if preset is not None and args.data is not None else "AtoB"


def _preset_epochs(preset) -> tuple[int, int] | None:
    """A preset's schedule as the training functions take it: ``(total, decaying)`` epochs."""
    return (preset.epochs + preset.epochs_decay, preset.epochs_decay) if preset else None


def _add_speed_options(p) -> None:
    """The trainer's speed options (mixed precision, memory format) of the training verbs
    and ``bench-train``."""
    from ..training.loop import AMP_DTYPES

    p.add_argument("--amp", choices=sorted(AMP_DTYPES), default=None,
                   help="mixed precision: forward passes in bfloat16 or float16 (fp16 with loss "
                        "scaling), weights and optimizer in float32 (default: float32)")
    p.add_argument("--channels-last", action="store_true",
                   help="networks and batches in channels-last memory (faster convolutions on GPUs)")


def add_parsers(sub) -> None:
    """Add the training verbs to the sub-command parser ``sub``."""
    from ..config import SCALES
    from ..data.synthetic import WORLDS
    from ..models import GENERATORS
    from ..losses.distill import DISTILL_LOSSES
    from ..training.distill import PRESETS as DISTILL_PRESETS

    t = sub.add_parser("train", help="train the teacher of a task (resumable)")
    t.add_argument("task", choices=sorted(WORLDS), help="synthetic task (or its real counterpart with --data)")
    t.add_argument("--scale", default=None, choices=list(SCALES),
                   help="default: $GANCOMP_SCALE or ci")
    t.add_argument("--arch", default="resnet", choices=["resnet", "inception"],
                   help="resnet (GAN Compression's teachers) or inception (CAT's)")
    t.add_argument("--steps", type=_positive, default=None, help="training steps (default: the scale's schedule)")
    t.add_argument("--seed", type=_non_negative, default=0)
    t.add_argument("--out", required=True, help="output folder (checkpoint.pt, recipe.json)")
    t.add_argument("--resume", action="store_true", help="continue out/checkpoint.pt")
    t.add_argument("--data", default=None, help="a real dataset folder instead of the synthetic task")
    t.add_argument("--device", type=_device, default=None, help="default: the best available")
    t.add_argument("--checkpoint-every", type=_positive, default=500)
    _add_direction(t)
    _add_speed_options(t)
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_cmd_train)


    x = sub.add_parser("export-teacher", help="ship a trained teacher: fp16 weights + manifest")
    x.add_argument("run_dir", help="folder written by `gancomp-lite train`")
    x.add_argument("--out", default="data/teachers",
                   help="output folder, relative to the current one (default: data/teachers)")
    x.add_argument("--force", action="store_true", help="replace an existing teacher file there")
    x.add_argument("--n", type=_positive, default=None, help="test images to evaluate on")
    x.add_argument("--allow-dirty", action="store_true",
                   help="export even if the package tree, or the code that trained the run, has "
                        "uncommitted changes (the manifest records allow_dirty: true)")
    x.set_defaults(func=_cmd_export_teacher)


    f = sub.add_parser("train-features", help="train the FID feature network of the synthetic tasks")
    f.add_argument("--steps", type=_positive, default=600)
    f.add_argument("--seed", type=_non_negative, default=0)
    f.add_argument("--out", default="data/features",
                   help="output folder, relative to the current one (default: data/features)")
    f.add_argument("--force", action="store_true", help="replace an existing feature network there")
    f.add_argument("--no-progress", action="store_true")
    f.add_argument("--allow-dirty", action="store_true",
                   help="train even if the package tree has uncommitted changes "
                        "(the manifest records allow_dirty: true)")
    f.set_defaults(func=_cmd_train_features)


    e = sub.add_parser("evaluate", help="quality metrics of a generator checkpoint on a task")
    e.add_argument("checkpoint", help="a shipped teacher or student file (data/teachers/*.pt, "
                                      "data/students/*.pt)")
    e.add_argument("--task", required=True, choices=sorted(WORLDS))
    e.add_argument("--data", default=None,
                   help="a real dataset folder: score on its test split (testA, or test/val) "
                        "instead of the synthetic task's")
    e.add_argument("--real-stats", default=None,
                   help="with --data: FID against these real statistics (.npz with mu and sigma, "
                        "e.g. `gancomp-lite download real-stat-edges2shoes-r_B`) instead of "
                        "the folder's own test targets")
    e.add_argument("--drn", default=None,
                   help="with --data of a prepared Cityscapes folder: the DRN-D-105 weights "
                        "(drn-d-105_ms_cityscapes.pth) for the papers' mIoU")
    e.add_argument("--cityscapes-root", default=None,
                   help="with --drn: the folder holding gtFine/ with the *_trainIds.png label ids "
                        "(default: the --data folder, where `prepare cityscapes` writes them)")
    e.add_argument("--n", type=_positive, default=None, help="test images (default 64)")
    e.add_argument("--size", type=_positive, default=None,
                   help="image size (default 64; with --data, 256, the papers' test size)")
    e.add_argument("--seed", type=_non_negative, default=None, help="test sample seed (default 0)")
    e.add_argument("--features", choices=["synthetic", "inception"], default=None,
                   help="FID features (default: synthetic at ci, inception with real data)")
    _add_direction(e)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_cmd_evaluate)


    g = sub.add_parser("distill", help="train a compressed student from a teacher "
                                         "(GAN Compression's distiller)")
    g.add_argument("task", choices=sorted(WORLDS),
                   help="synthetic task (or its real counterpart with --data)")
    g.add_argument("--teacher", default=None,
                   help="shipped teacher file (default: data/teachers/TASK-SCALE.pt)")
    g.add_argument("--student", default=None, choices=sorted(GENERATORS),
                   help="the student's architecture (default: the paper preset's, else resnet)")
    g.add_argument("--ngf", type=_positive, default=None,
                   help="student width (default: the paper preset's; with --student-from: the "
                        "network's own, recorded)")
    g.add_argument("--student-from", default=None, metavar="PRUNED.pt",
                   help="start from a network written by `gancomp-lite prune` (CAT) or "
                        "`export-subnet` (a once-for-all subnet, to fine-tune)")
    how = g.add_mutually_exclusive_group()
    how.add_argument("--pseudo-pairs", action="store_true",
                     help="unpaired task: L1 to the teacher's output (the default)")
    how.add_argument("--unpaired", action="store_true",
                     help="unpaired task: train the student the original CycleGAN way (baseline)")
    g.add_argument("--distill-layers", nargs="*", default=None, metavar="LAYER",
                   help="hooked layers (default: model.9 model.12 model.15 model.18); "
                        "give none (or 'none') to switch distillation off")
    g.add_argument("--distill-loss", default="mse", choices=sorted(DISTILL_LOSSES),
                   help="distillation loss (default mse; ka: CAT's kernel alignment)")
    dgrp = g.add_mutually_exclusive_group()
    dgrp.add_argument("--inherit-d", dest="inherit_d", action="store_true", default=True,
                      help="start from the teacher's discriminator (default)")
    dgrp.add_argument("--fresh-d", dest="inherit_d", action="store_false",
                      help="start from a freshly initialised discriminator")
    g.add_argument("--discriminator-from", default=None, metavar="RUN",
                   help="start the inherited discriminator from this run's (a train-supernet run "
                        "folder: GAN Compression's fine-tune restores the supernet's D)")
    g.add_argument("--init", choices=["random", "l1"], default="random",
                   help="student initialisation: random or L1-norm filter selection from the teacher")
    g.add_argument("--loss-preset", default=None, choices=sorted(DISTILL_PRESETS),
                   help="loss weights of a paper's scripts (default: GAN Compression's for the "
                        "task; cat-pix2pix / cat-cyclegan: CAT's); the options below override it")
    g.add_argument("--deploy-friendly", action="store_true",
                   help="a deployment-friendly student: BatchNorm instead of the teacher's norm and "
                        "zero padding instead of reflect, so every norm folds into its convolution "
                        "at export (a deviation from the papers' networks; chapter 10b)")
    _add_direction(g, default=None)
    _add_speed_options(g)
    g.add_argument("--gan-mode", choices=["lsgan", "hinge", "vanilla"], default=None)
    g.add_argument("--lambda-recon", type=_non_negative_real, default=None, help="default: the task's preset")
    g.add_argument("--lambda-distill", type=_non_negative_real, default=None, help="default: the task's preset")
    _add_paper_preset(g, "distill", "a paper's student recipe: its epochs on the training set "
                                    "set the steps (the last epochs_decay decaying), its batch "
                                    "size, loss weights, student and distilled layers")
    g.add_argument("--steps", type=_positive, default=None,
                   help="training steps (required unless --paper-preset sets them)")
    g.add_argument("--batch-size", type=_positive, default=None,
                   help="images per step (default: the paper preset's, else 1)")
    g.add_argument("--size", type=_positive, default=64, help="image size")
    g.add_argument("--n-train", type=_positive, default=1000, help="synthetic training images")
    g.add_argument("--seed", type=_non_negative, default=0)
    g.add_argument("--data", default=None, help="a real dataset folder instead of the synthetic task")
    g.add_argument("--device", type=_device, default=None, help="default: the best available")
    g.add_argument("--out", required=True, help="output folder (checkpoint, recipe, metrics)")
    g.add_argument("--n", "--n-eval", dest="n", type=_positive, default=None,
                   help="test images to evaluate on (default: the scale's n_test, 512 at ci); "
                        "under torchrun write --n-eval, which torchrun does not take for its "
                        "own --nnodes or --nproc-per-node")
    g.add_argument("--no-progress", action="store_true")
    g.set_defaults(func=_cmd_distill)


    from ..losses.perceptual import BACKBONES
    from ..training.online import METHODS, PRESETS as ONLINE_PRESETS, SCHEMES

    o = sub.add_parser("distill-online", help="OMGD's online distillation, or CRD on it: teacher, "
                                              "discriminator and student trained together")
    o.add_argument("--method", choices=METHODS, default=None,
                   help="required unless --paper-preset names it")
    o.add_argument("--task", required=True, choices=sorted(WORLDS))
    o.add_argument("--preset", choices=sorted(ONLINE_PRESETS), default=None,
                   help="the official student loss (default: the method's for the task's kind)")
    o.add_argument("--scheme", choices=SCHEMES, default=None,
                   help="teacher discriminator scheme (default: online-frozen for crd, none for omgd)")
    o.add_argument("--student-ngf", type=_positive, default=None,
                   help="default: the paper preset's, else a quarter of the teacher's (OMGD's student)")
    o.add_argument("--teacher-ngf", type=_positive, default=None,
                   help="default: the paper preset's (its wide teacher's), else the scale's")
    o.add_argument("--teacher-arch", choices=("resnet", "mobile_resnet"), default=None,
                   help="the online teacher's generator (default: the paper preset's, Mobile ResNet "
                        "for OMGD and CRD; else the book's dense ResNet)")
    o.add_argument("--deep-teacher-ngf", type=_non_negative, default=None,
                   help="OMGD's second, deep teacher at this width, trained beside the wide one "
                        "(paired tasks, online schemes; default: the paper preset's, else none; "
                        "0: none)")
    o.add_argument("--n-share", type=int, choices=range(6), default=None, metavar="0-5",
                   help="with a deep teacher: discriminator stages the two teachers share "
                        "(default 3, OMGD's edges2shoes script)")
    o.add_argument("--teacher", default=None,
                   help="pre-trained schemes: the teacher file (default: the task's shipped teacher)")
    _add_paper_preset(o, "distill-online", "OMGD's or CRD's recipe: its epochs on the training "
                                           "set set the steps (the last epochs_decay decaying), "
                                           "its batch size, student loss, method and widths")
    o.add_argument("--steps", type=_positive, default=None,
                   help="training steps (required unless --paper-preset sets them)")
    o.add_argument("--batch-size", type=_positive, default=None,
                   help="default: the paper preset's, else the scale's teacher batch")
    o.add_argument("--seed", type=_non_negative, default=0)
    o.add_argument("--n-train", type=_positive, default=None)
    o.add_argument("--backbone", choices=BACKBONES, default=None,
                   help="perceptual backbone (default: synthetic at ci, vgg16 at small/full)")
    o.add_argument("--download", action="store_true", help="fetch VGG16's weights if missing")
    o.add_argument("--data", default=None, help="a real dataset folder (small/full)")
    o.add_argument("--device", type=_device, default=None)
    o.add_argument("--n", "--n-eval", dest="n", type=_positive, default=None, help="test images to evaluate on (under torchrun: --n-eval)")
    o.add_argument("--out", required=True, help="run folder")
    o.add_argument("--force", action="store_true", help="replace an existing run there")
    _add_direction(o, default=None)
    _add_speed_options(o)
    o.add_argument("--no-progress", action="store_true")
    o.set_defaults(func=_cmd_distill_online)


    from ..training.official import OFFICIAL_ARCHS

    co = sub.add_parser("convert-official", help="a generator released by the official code (GAN "
                                                 "Compression's latest_net_G.pth, OMGD's and CRD's "
                                                 "best_net_G16.pth, CAT's best_net_G.pth) as this "
                                                 "package's file")
    co.add_argument("file", help="the official state dict (.pth)")
    co.add_argument("--arch", required=True, choices=OFFICIAL_ARCHS,
                    help="its architecture; widths and depth are read from the weights")
    co.add_argument("--out", required=True, help="the converted file (.pt; a manifest goes beside it)")
    co.add_argument("--force", action="store_true", help="replace an existing file")
    co.set_defaults(func=_cmd_convert_official)

    xs = sub.add_parser("export-student", help="ship a student trained by `distill`: fp16 weights + manifest")
    xs.add_argument("run_dir", help="folder written by `gancomp-lite distill`")
    xs.add_argument("--name", type=_name, required=True,
                    help="file name (without .pt): letters, digits, '.', '_', '-'")
    xs.add_argument("--out", default="data/students",
                    help="output folder, relative to the current one (default: data/students)")
    xs.add_argument("--force", action="store_true", help="replace an existing student file there")
    xs.add_argument("--n", type=_positive, default=64, help="test images to evaluate on")
    xs.add_argument("--allow-dirty", action="store_true",
                    help="export even if the package tree, or the code that trained the run, has "
                         "uncommitted changes (the manifest records allow_dirty: true)")
    xs.set_defaults(func=_cmd_export_student)


    b = sub.add_parser("bench-train", help="training speed of the distiller in GAN Compression's "
                                           "benchmark configuration (a benchmark: it reports, "
                                           "never asserts)")
    b.add_argument("--threads", type=_positive, default=2)
    b.add_argument("--warmup", type=_positive, default=5, help="untimed steps first (one epoch)")
    b.add_argument("--repeats", type=_positive, default=3, help="timed repeats (the median is reported)")
    b.add_argument("--steps", type=_positive, default=5, help="steps per timed repeat")
    _add_speed_options(b)       # --amp (bf16 pays on CPUs with AVX512-BF16 or AMX), --channels-last
    b.add_argument("--teacher-cache", choices=("on", "off", "both"), default="both",
                   help="time with the frozen teacher's outputs cached, without, or both (default)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_bench_train)
