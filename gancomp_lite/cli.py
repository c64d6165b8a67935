"""The ``gancomp-lite`` command line (also ``python -m gancomp_lite``).

Sub-commands:

* ``profile ARCH``: MACs under each counting convention and parameters;
* ``data TASK``: write a synthetic task to disk in a real dataset's layout;
* ``distill TASK``: train a compressed student from a teacher; ``export-student``: ship it;
* ``train TASK``: train a teacher; ``export-teacher``: ship it; ``evaluate``: score a shipped file;
* ``train-features``: the offline FID feature network;
* ``sweep-decomposition``, ``sweep-distillation``, ``sweep-cat``, ``sweep-crd``, ``sweep-ofa``:
  the recorded experiments;
* ``bench-train``: the distiller's training speed (a benchmark);
* ``export CHECKPOINT``: a generator to ONNX or ``torch.export``, checked against eager;
  ``bench``: latency on the CPU runtimes (a benchmark);
* ``prune TEACHER``: CAT's one-step pruning of an inception teacher to a MAC budget;
* ``train-supernet TASK``, ``search SUPERNET``, ``export-subnet SUPERNET``: GAN
  Compression's once-for-all pipeline; ``score-table SUPERNET``: every subnet's
  held-out score, the table chapter 09 searches;
* ``download NAME``: a real dataset or pretrained weights, checksummed;
* ``info``: the scale, device and versions in use.

Errors from bad input are printed as one line and exit with status 2:
arguments are checked where they are parsed (counts must be positive, a
device must exist, a name must stay inside its folder), and the package's
own errors (:class:`~gancomp_lite.errors.GancompError`) become that one
line; ``--debug`` shows their traceback instead.  A genuine bug still shows
its traceback.

Writing rules, the same for every command: an existing output is an error
unless ``--force``; nothing is written where the user did not ask (outputs
go to ``--out``, relative to the current folder); a command that fails
leaves no half-written output behind.
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import GancompError


# -- argument types: bad values stop at the edge, as one line -----------------
class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error printed as one line (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _at_least(minimum: int, words: str):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {words}, got {value}")
        return value
    return parse


_positive = _at_least(1, "a positive whole number")
_non_negative = _at_least(0, "0 or more")


def _real(minimum: float | None = None, maximum: float | None = None, above: float | None = None):
    """An argparse type: a finite number within the bounds (never nan or inf)."""
    from .errors import check_number

    def parse(text: str) -> float:
        try:
            return check_number(text, "the value", minimum, maximum, above)
        except GancompError as err:
            raise argparse.ArgumentTypeError(str(err).replace("the value ", "")) from None
    return parse


_positive_real = _real(above=0.0)
_non_negative_real = _real(minimum=0.0)
_probability = _real(minimum=0.0, maximum=1.0)


def _device(text: str) -> str:
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device (cpu, cuda, cuda:0, mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: no CUDA device on this machine")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} "
                                         f"CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise argparse.ArgumentTypeError(f"{text!r}: no MPS device on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"{text!r}: use cpu, cuda or mps")
    return text


def _name(text: str) -> str:
    from .shipped import check_name

    try:
        return check_name(text)
    except GancompError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _cmd_profile(args: argparse.Namespace) -> int:
    from .metrics.cost import CONVENTIONS, profile_all
    from .models import build_generator

    h, w = args.size
    if args.config is not None:
        from .models import SubMobileResnetGenerator
        from .models.dynamic import format_config, parse_config

        if args.arch != "mobile_resnet":
            raise GancompError(f"--config describes a (sub-)mobile ResNet, not {args.arch!r}: "
                               f"use `profile mobile_resnet --config ...`")
        model = SubMobileResnetGenerator(parse_config(args.config), norm=args.norm or "instance")
        args.arch, args.ngf = f"sub_mobile_resnet {format_config(args.config)}", "-"
    else:
        model = build_generator(args.arch, ngf=args.ngf, norm=args.norm, image_size=min(h, w))
    if args.decompose:
        from .compression import decompose

        model = decompose(model, args.decompose)
    costs = profile_all(model, (h, w), conventions=tuple(args.conventions))
    if args.json:
        out = {"arch": args.arch, "ngf": args.ngf, "norm": args.norm or "default",
               "decompose": args.decompose or "",
               "input_size": [h, w], "params": next(iter(costs.values())).params,
               "macs": {name: c.macs for name, c in costs.items()},
               "conventions": {name: CONVENTIONS[name] for name in costs}}
        print(json.dumps(out, indent=2))
        return 0
    params = next(iter(costs.values())).params
    extra = f" decomposed: {args.decompose}" if args.decompose else ""
    print(f"{args.arch} ngf={args.ngf} input 3x{h}x{w}{extra}")
    print(f"  params: {params:,} ({params / 1e6:.3f}M)")
    for name, cost in costs.items():
        print(f"  MACs [{name}]: {cost.macs:,} ({cost.gmacs:.3f}G)  - {CONVENTIONS[name]}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from .data import write_dataset

    out = write_dataset(args.task, args.out, n=args.n, n_test=args.n_test, size=args.size,
                        seed=args.seed, force=args.force)
    print(f"wrote {args.task} (n={args.n}, size={args.size}, seed={args.seed}) to {out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import shlex

    from .training.teachers import train_teacher

    trainer = train_teacher(args.task, args.out, scale=args.scale, steps=args.steps, arch=args.arch,
                            seed=args.seed, resume=args.resume, data=args.data,
                            device=args.device, progress=not args.no_progress,
                            checkpoint_every=args.checkpoint_every,
                            command="gancomp-lite " + shlex.join(args.argv))
    last = trainer.history[-1] if trainer.history else {}
    print(f"trained {args.task} teacher to step {trainer.step} -> {args.out}/checkpoint.pt")
    print("last losses: " + ", ".join(f"{k}={v:.4f}" for k, v in last.items()
                                      if k not in ("step", "lr")))
    return 0


def _cmd_export_teacher(args: argparse.Namespace) -> int:
    import shlex

    from .training.teachers import export_teacher

    manifest = export_teacher(args.run_dir, args.out, n_eval=args.n, allow_dirty=args.allow_dirty,
                              command="gancomp-lite " + shlex.join(args.argv), force=args.force)
    print(f"wrote {manifest['file']} (sha256 {manifest['sha256'][:12]}...)")
    print(json.dumps(manifest["metrics"], indent=2))
    return 0


def _cmd_train_features(args: argparse.Namespace) -> int:
    import shlex

    from .metrics.features import save_feature_net, train_feature_net
    from .provenance import require_clean

    from pathlib import Path

    from .metrics.features import FEATURES_NAME
    from .shipped import refuse_existing

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
    from .metrics.quality import default_features, evaluate
    from pathlib import Path

    from .training.checkpoint import read_manifest

    G = _generator_of(args.checkpoint)
    manifest = read_manifest(Path(args.checkpoint))
    recipe = manifest.get("recipe", {})
    if manifest.get("task") not in (None, args.task):
        raise GancompError(f"{args.checkpoint} was trained on {manifest['task']!r}, "
                           f"not {args.task!r}")
    size = args.size or recipe.get("image_size", 64)
    metrics = evaluate(G, args.task, n=args.n, size=size, seed=args.seed,
                       features=args.features or default_features())
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        for k, v in metrics.items():
            print(f"{k:24s} {v:.4f}")
    return 0


def _cmd_sweep_decomposition(args: argparse.Namespace) -> int:
    from .experiments import decomposition

    path = decomposition.run_recorded(
        args.out, task=args.task, widths=args.widths, seeds=args.seeds, steps=args.steps,
        size=args.size, batch_size=args.batch_size, n_eval=args.n, curve_points=args.curve_points,
        allow_dirty=args.allow_dirty, force=args.force, progress=not args.no_progress,
        argv=args.argv)
    rows = decomposition.load(path)["rows"]
    print(f"wrote {len(rows)} runs to {path}")
    for claim, v in decomposition.verdicts(rows).items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from .data import WORLDS
    from .training.distill import StudentRecipe, distill

    if args.task not in WORLDS:
        raise GancompError(f"unknown task {args.task!r}: expected one of {', '.join(sorted(WORLDS))}")
    paired = WORLDS[args.task].aligned
    mode = "paired" if paired else "pseudo-pairs"
    if args.unpaired:
        mode = "unpaired"
    elif args.pseudo_pairs and paired:
        raise GancompError(f"{args.task} is a paired task: pseudo-pairs are for unpaired tasks")
    layers = None if args.distill_layers is None else [x for x in args.distill_layers if x != "none"]
    if args.unpaired and args.distill_layers is None:
        layers = []  # the unpaired baseline has no teacher in its loss
    recipe = StudentRecipe(task=args.task, student=args.student, ngf=args.ngf, mode=mode,
                           init=args.init, inherit_d=args.inherit_d, distill_layers=layers,
                           distill_loss=args.distill_loss, gan_mode=args.gan_mode,
                           lambda_recon=args.lambda_recon, lambda_distill=args.lambda_distill,
                           image_size=args.size, student_file=args.student_from,
                           loss_preset=args.loss_preset)
    import shlex

    trainer = distill(recipe, args.teacher, args.out, args.steps, batch_size=args.batch_size,
                      seed=args.seed, n_train=args.n_train, device=args.device,
                      progress=not args.no_progress, data=args.data,
                      evaluate_n=args.n or True,
                      command="gancomp-lite " + shlex.join(args.argv))
    last = trainer.history[-1]
    print(f"trained {args.student} ngf={args.ngf} ({mode}, init {args.init}, "
          f"{'inherited' if args.inherit_d else 'fresh'} D) for {trainer.step} steps into {args.out}")
    print("final losses: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if "/" in k))
    from pathlib import Path

    metrics = Path(args.out) / "metrics.json"
    if metrics.exists():
        print(metrics.read_text().strip())
    return 0


def _cmd_distill_online(args: argparse.Namespace) -> int:
    import shlex

    from .training.online import distill_online

    trainer = distill_online(args.task, args.method, args.out, args.steps, preset_name=args.preset,
                             scheme=args.scheme, student_ngf=args.student_ngf,
                             teacher_ngf=args.teacher_ngf, batch_size=args.batch_size, seed=args.seed,
                             n_train=args.n_train, backbone=args.backbone, download=args.download,
                             teacher_file=args.teacher, data=args.data, device=args.device,
                             progress=not args.no_progress, evaluate_n=args.n or True,
                             force=args.force, command="gancomp-lite " + shlex.join(args.argv))
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

    from .training.distill import export_student

    manifest = export_student(args.run_dir, args.name, args.out, n_eval=args.n,
                              allow_dirty=args.allow_dirty,
                              command="gancomp-lite " + shlex.join(args.argv), force=args.force)
    print(f"wrote {manifest['file']} ({manifest['bytes']:,} bytes, sha256 {manifest['sha256'][:12]}...)")
    print(json.dumps(manifest["metrics"], indent=2))
    return 0


def _cmd_sweep_distillation(args: argparse.Namespace) -> int:
    from .experiments import distillation as dx
    from .experiments import results

    path = dx.run_recorded(
        args.experiment, args.out, task=args.task, widths=args.widths, seeds=args.seeds,
        steps=args.steps, size=args.size, batch_size=args.batch_size, n_eval=args.n,
        curve_points=args.curve_points, allow_dirty=args.allow_dirty, force=args.force,
        progress=not args.no_progress, argv=args.argv)
    rows = results.load(path)["rows"]
    print(f"wrote {len(rows)} runs to {path}")
    verdicts = (dx.pseudo_pair_verdicts(rows) if args.experiment == "pseudo-pairs"
                else dx.ablation_verdicts(rows))
    for claim, v in verdicts.items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0


def _cmd_sweep_cat(args: argparse.Namespace) -> int:
    from .experiments import cat
    from .experiments import results

    path = cat.run_recorded(
        args.out, task=args.task, seeds=args.seeds, steps=args.steps, size=args.size,
        batch_size=args.batch_size, n_eval=args.n, reduction=args.reduction,
        curve_points=args.curve_points, allow_dirty=args.allow_dirty, force=args.force,
        progress=not args.no_progress, argv=args.argv)
    data = results.load(path)
    print(f"wrote {len(data['rows'])} rows to {path}; one-step pruning took "
          f"{min(data['prune_seconds']):.2f} s (best of {len(data['prune_seconds'])})")
    for claim, v in cat.verdicts(data["rows"]).items():
        print(f"{claim} [{v['metric']}]: {v['verdict']} ({v['reason']})")
    return 0


def _cmd_sweep_crd(args: argparse.Namespace) -> int:
    from .experiments import crd, results

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


def _cmd_bench_train(args: argparse.Namespace) -> int:
    from .experiments import train_speed

    caches = {"on": [True], "off": [False], "both": [False, True]}[args.teacher_cache]
    reports = [train_speed.benchmark(threads=args.threads, warmup=args.warmup, repeats=args.repeats,
                                     steps=args.steps, channels_last=args.channels_last,
                                     teacher_cache=cache) for cache in caches]
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
    else:
        print("\n".join(train_speed.describe(r) for r in reports))
        if len(reports) == 2:
            print(f"teacher cache: {reports[1]['it_per_s'] / reports[0]['it_per_s']:.2f}x")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    import shlex

    from .compression.one_step import one_step_prune
    from .metrics.cost import CONVENTIONS, profile_all
    from .models import InceptionGenerator
    from .models.inception import BRANCHES
    from .training.checkpoint import load_teacher_file, save_pruned

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


def _cmd_download(args: argparse.Namespace) -> int:
    from .data.download import ASSETS, ensure, fetch, local_folder
    from .errors import MissingDownloadError

    if args.list:
        for name, asset in ASSETS.items():
            print(f"{name:16s} {asset.what}\n{'':16s} -> {local_folder(name)}")
        return 0
    if not args.name:
        raise GancompError("name an asset to download (--list shows them)")
    try:
        path = ensure(args.name)
        print(f"{args.name} is already here: {path}")
    except MissingDownloadError:
        if args.name not in ASSETS:
            raise
        path = fetch(args.name)
        print(f"downloaded and verified {args.name}: {path}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from . import __version__
    from .config import describe, get_scale

    scale = get_scale()
    if args.json:
        print(json.dumps({"version": __version__, **scale.as_dict()}, indent=2))
    else:
        print(f"gancomp-lite {__version__}")
        print(describe(scale))
    return 0


def _cmd_sweep_ofa(args: argparse.Namespace) -> int:
    from .experiments import ofa, results

    path = ofa.run_recorded(
        args.experiment, args.out, seeds=args.seeds, steps=args.steps, size=args.size,
        batch_size=args.batch_size, n_eval=args.n, curve_points=args.curve_points,
        finetune_steps=args.finetune_steps, population=args.population,
        generations=args.generations, ship_dir=args.ship_dir, allow_dirty=args.allow_dirty,
        force=args.force, progress=not args.no_progress, argv=args.argv)
    data = results.load(path)
    print(f"wrote {len(data['rows'])} rows to {path}")
    return 0


def _cmd_train_supernet(args: argparse.Namespace) -> int:
    import shlex

    from .compression.ofa import search_space
    from .training.supernet import train_supernet

    trainer, manifest = train_supernet(
        args.task, search_space(args.space), args.out, args.steps, sampling=args.sampling,
        batch_size=args.batch_size, seed=args.seed, n_train=args.n_train, n_val=args.n_val,
        image_size=args.size, teacher_path=args.teacher, data=args.data, preset=args.preset,
        resume=args.resume, device=args.device, progress=not args.no_progress,
        command="gancomp-lite " + shlex.join(args.argv))
    last = trainer.history[-1]
    print(f"trained a {args.sampling} supernet of {args.space} ({manifest['recipe']['space']['name']}, "
          f"{trainer.step} steps) into {args.out}/supernet.pt")
    print("final losses: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if "/" in k))
    return 0


def _supernet_and_split(path):
    """A supernet file, its manifest, its search space and its held-out split."""
    from .compression.ofa import SearchSpace, held_out_split
    from .training.checkpoint import load_supernet

    supernet, manifest = load_supernet(path)
    r = manifest["recipe"]
    if not r["data"].startswith("synthetic:"):
        raise GancompError(f"{path} was trained on {r['data']}: searching it needs that folder's held-out "
                           f"part, which only the training run can rebuild (search from Python "
                           f"with compression.ofa.search_split)")
    data = held_out_split(r["task"], r["n_train"], r["n_val"], r["image_size"])
    return supernet, manifest, SearchSpace.from_dict(r["space"]), data


def _cmd_search(args: argparse.Namespace) -> int:
    from .compression.ofa import search
    from .models.dynamic import format_config

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

    from .compression.ofa import make_score_table
    from .errors import OutputExistsError
    from .experiments.results import machine
    from .provenance import require_clean
    from .training.supernet import score_table_of

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

    from .compression.ofa import SearchSpace, export_subnet
    from .metrics.cost import CONVENTIONS, profile_all
    from .models.dynamic import format_config
    from .training.checkpoint import load_supernet, save_subnet

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


def _generator_of(path: str):
    """The generator of a shipped teacher, student, pruned or subnet file; a
    supernet or any other file is one clear error."""
    from pathlib import Path

    from .errors import CheckpointError
    from .shipped import read_manifest
    from .training.checkpoint import SUPERNET_KIND, load_generator_file

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p} does not exist")
    if not p.with_suffix(".json").exists():
        raise CheckpointError(f"{p} has no manifest ({p.with_suffix('.json').name}): it is not a "
                              f"generator file written by gancomp-lite (a teacher, student, pruned "
                              f"network or exported subnet)")
    if read_manifest(p).get("kind") == SUPERNET_KIND:
        raise CheckpointError(f"{p} is a supernet: export one subnet first "
                              f"(`gancomp-lite export-subnet {p} --config ...`)")
    try:
        return load_generator_file(p)
    except CheckpointError as err:
        raise CheckpointError(f"{p} is not a generator file (a teacher, student, pruned network "
                              f"or exported subnet): {err}") from None


def _cmd_export(args: argparse.Namespace) -> int:
    from .deploy import export_generator

    report = export_generator(_generator_of(args.checkpoint), args.out, args.format, size=args.size,
                              force=args.force)
    print(f"wrote {report['path']} ({args.format}, {args.size}x{args.size}): largest difference to "
          f"eager PyTorch {report['max_abs_diff']:.2g} (tolerance {report['tolerance']:g}), "
          f"exported in {report['export_seconds']:.1f} s")
    return 0


def _random_model(spec: str):
    """``ARCH:NGF``, ``sub:CONFIG`` or ``cat:GMACS`` (random weights) for ``bench --random``."""
    from .models import SubMobileResnetGenerator, build_generator

    arch, _, value = spec.partition(":")
    if arch == "sub":
        return SubMobileResnetGenerator(value)
    usage = (f"--random {spec!r}: expected ARCH:NGF (resnet:64), sub:CONFIG "
             f"(sub:24_24_24_32_20_16) or cat:GMACS (cat:2.6)")
    if arch == "cat":
        from .compression.one_step import prune_untrained

        try:
            gmacs = float(value)
        except ValueError:
            raise GancompError(usage) from None
        return prune_untrained(gmacs * 1e9)[0]
    try:
        ngf = int(value)
    except ValueError:
        raise GancompError(usage) from None
    return build_generator(arch, ngf=ngf)


def _cmd_bench(args: argparse.Namespace) -> int:
    import os
    import platform
    from pathlib import Path

    from .metrics.cost import profile_macs
    from .metrics.latency import benchmark
    from .viz import Table

    if args.json and Path(args.json).exists() and not args.force:   # before minutes of timing
        raise GancompError(f"{args.json} exists: pass --force to replace it")
    models = {Path(c).stem: _generator_of(c) for c in args.checkpoints}
    models.update({spec: _random_model(spec) for spec in args.random or []})
    if not models:
        raise GancompError("nothing to benchmark: give generator files and/or --random ARCH:NGF")
    rows = benchmark(models, tuple(args.backends), size=args.size, batch_size=args.batch_size,
                     threads=args.threads, repeats=args.repeats, warmup=args.warmup,
                     progress=not args.no_progress, process=args.process_memory,
                     process_samples=args.process_samples)
    gmacs = {n: profile_macs(m, args.size, "in-counted") / 1e9 for n, m in models.items()}
    for r in rows:
        r["gmacs_in_counted"] = gmacs[r["model"]]
    machine = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
               "torch": __import__("torch").__version__}
    try:
        machine["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                              if line.startswith("model name"))
        flags = next(line.split(":", 1)[1].split() for line in open("/proc/cpuinfo")
                     if line.startswith("flags"))
        machine["bfloat16_instructions"] = bool({"avx512_bf16", "amx_bf16"} & set(flags))
        machine["cores"] = len(os.sched_getaffinity(0))
    except (OSError, StopIteration, AttributeError):
        pass
    import shlex

    from .provenance import code_version

    out = {"command": "gancomp-lite " + shlex.join(args.argv), "code_version": code_version(),
           "settings": {"size": args.size, "batch_size": args.batch_size, "threads": args.threads,
                        "repeats": args.repeats, "warmup": args.warmup, "backends": args.backends,
                        **({"process_samples": args.process_samples} if args.process_memory else {})},
           "machine": machine, "rows": rows}
    if args.json:
        if Path(args.json).exists() and not args.force:
            raise GancompError(f"{args.json} exists: pass --force to replace it")
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"{machine['cpu']}, {args.threads} threads, batch {args.batch_size}, "
          f"{args.size}x{args.size}, median of {args.repeats} interleaved repeats")
    print(Table([{k: r.get(k) for k in ("model", "backend", "gmacs_in_counted", "median_ms", "min_ms",
                                        "max_ms", "max_abs_diff", "weights_mb", "peak_activation_mb",
                                        "process_peak_mb", "status")}
                 for r in rows],
                formats={"gmacs_in_counted": ".3f", "median_ms": ".1f", "min_ms": ".1f",
                         "max_ms": ".1f", "max_abs_diff": ".1e", "weights_mb": ".2f",
                         "peak_activation_mb": ".1f", "process_peak_mb": ".0f"}))
    return 0


def _recorded_sweep_options(p: argparse.ArgumentParser) -> None:
    """The options every recorded sweep shares: test images, learning-curve
    points, the results file and how it may be written."""
    p.add_argument("--n", type=_positive, default=512, help="test images")
    p.add_argument("--curve-points", type=_non_negative, default=8,
                   help="points of each run's learning curve (0: none)")
    p.add_argument("--out", required=True, help="results file (JSON)")
    p.add_argument("--force", action="store_true", help="replace an existing results file")
    p.add_argument("--allow-dirty", action="store_true",
                   help="record from a package tree with uncommitted changes (the file says so)")
    p.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    from .config import SCALES
    from .experiments.crd import SCHEME_ARMS, ablation_arms
    from .losses.distill import DISTILL_LOSSES
    from .metrics.cost import CONVENTIONS
    from .models import GENERATORS, NORMS
    from .training.distill import PRESETS as DISTILL_PRESETS
    from .training.online import preset as online_preset

    CRD_ARMS = [*ablation_arms(online_preset("crd-cyclegan"), 64), *SCHEME_ARMS]

    parser = _Parser(
        prog="gancomp-lite",
        description="Compressing image-to-image GANs: the book's command line.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("profile", help="MACs and parameters of a generator")
    p.add_argument("arch", choices=sorted(GENERATORS), help="generator architecture")
    p.add_argument("--ngf", type=_positive, default=64, help="base width (default 64)")
    p.add_argument("--size", type=_positive, nargs=2, default=(256, 256), metavar=("H", "W"),
                   help="input height and width (default 256 256)")
    p.add_argument("--norm", choices=NORMS, default=None,
                   help="norm layer (default: the architecture's official one)")
    p.add_argument("--conventions", nargs="+", choices=list(CONVENTIONS),
                   default=list(CONVENTIONS), help="MAC counting conventions to report")
    p.add_argument("--decompose", default=None, metavar="STAGE[,STAGE]",
                   help="make stages of the ResNet generator depthwise separable: down, blocks, up")
    p.add_argument("--config", default=None, metavar="C0_..._C7",
                   help="a once-for-all subnet of the mobile ResNet (GAN Compression's string, "
                        "8 entries or the legacy 6), instead of --ngf")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_profile)

    from .data.synthetic import WORLDS

    d = sub.add_parser("data", help="write a synthetic dataset in a real dataset's layout")
    d.add_argument("task", choices=sorted(WORLDS), help="synthetic task")
    d.add_argument("--n", type=_positive, default=64, help="training images per domain")
    d.add_argument("--n-test", type=_positive, default=None, help="test images (default n//4)")
    d.add_argument("--size", type=_positive, default=64, help="image side, a multiple of 4")
    d.add_argument("--seed", type=_non_negative, default=0)
    d.add_argument("--out", required=True, help="output folder (new or empty)")
    d.add_argument("--force", action="store_true",
                   help="replace a dataset this command wrote there before (never other files)")
    d.set_defaults(func=_cmd_data)

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
    e.add_argument("--n", type=_positive, default=64, help="test images")
    e.add_argument("--size", type=_positive, default=None, help="image size (default 64)")
    e.add_argument("--seed", type=_non_negative, default=0)
    e.add_argument("--features", choices=["synthetic", "inception"], default=None,
                   help="FID features (default: synthetic at ci, inception with real data)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_cmd_evaluate)

    w = sub.add_parser("sweep-decomposition",
                       help="train every single-stage decomposition (GAN Compression Table 4)")
    w.add_argument("--task", default="edges2shapes", choices=sorted(WORLDS))
    w.add_argument("--widths", type=_positive, nargs="+", default=[16, 4])
    w.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    w.add_argument("--steps", type=_positive, default=500)
    w.add_argument("--size", type=_positive, default=64)
    w.add_argument("--batch-size", type=_positive, default=4)
    _recorded_sweep_options(w)
    w.set_defaults(func=_cmd_sweep_decomposition)

    g = sub.add_parser("distill", help="train a compressed student from a teacher "
                                         "(GAN Compression's distiller)")
    g.add_argument("task", choices=sorted(WORLDS),
                   help="synthetic task (or its real counterpart with --data)")
    g.add_argument("--teacher", default=None,
                   help="shipped teacher file (default: data/teachers/TASK-SCALE.pt)")
    g.add_argument("--student", default="resnet", choices=sorted(GENERATORS))
    g.add_argument("--ngf", type=_positive, required=True,
                   help="student width (with --student-from: the pruned network's ngf, recorded)")
    g.add_argument("--student-from", default=None, metavar="PRUNED.pt",
                   help="start from a network written by `gancomp-lite prune` (CAT)")
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
    g.add_argument("--init", choices=["random", "l1"], default="random",
                   help="student initialisation: random or L1-norm filter selection from the teacher")
    g.add_argument("--loss-preset", default=None, choices=sorted(DISTILL_PRESETS),
                   help="loss weights of a paper's scripts (default: GAN Compression's for the "
                        "task; cat-pix2pix / cat-cyclegan: CAT's); the options below override it")
    g.add_argument("--gan-mode", choices=["lsgan", "hinge", "vanilla"], default=None)
    g.add_argument("--lambda-recon", type=_non_negative_real, default=None, help="default: the task's preset")
    g.add_argument("--lambda-distill", type=_non_negative_real, default=None, help="default: the task's preset")
    g.add_argument("--steps", type=_positive, required=True)
    g.add_argument("--batch-size", type=_positive, default=1)
    g.add_argument("--size", type=_positive, default=64, help="image size")
    g.add_argument("--n-train", type=_positive, default=1000, help="synthetic training images")
    g.add_argument("--seed", type=_non_negative, default=0)
    g.add_argument("--data", default=None, help="a real dataset folder instead of the synthetic task")
    g.add_argument("--device", type=_device, default=None, help="default: the best available")
    g.add_argument("--out", required=True, help="output folder (checkpoint, recipe, metrics)")
    g.add_argument("--n", type=_positive, default=None,
                   help="test images to evaluate on (default: the scale's n_test, 512 at ci)")
    g.add_argument("--no-progress", action="store_true")
    g.set_defaults(func=_cmd_distill)

    from .losses.perceptual import BACKBONES
    from .training.online import METHODS, PRESETS as ONLINE_PRESETS, SCHEMES

    o = sub.add_parser("distill-online", help="OMGD's online distillation, or CRD on it: teacher, "
                                              "discriminator and student trained together")
    o.add_argument("--method", choices=METHODS, required=True)
    o.add_argument("--task", required=True, choices=sorted(WORLDS))
    o.add_argument("--preset", choices=sorted(ONLINE_PRESETS), default=None,
                   help="the official student loss (default: the method's for the task's kind)")
    o.add_argument("--scheme", choices=SCHEMES, default=None,
                   help="teacher discriminator scheme (default: online-frozen for crd, none for omgd)")
    o.add_argument("--student-ngf", type=_positive, default=None,
                   help="default: a quarter of the teacher's (OMGD's student)")
    o.add_argument("--teacher-ngf", type=_positive, default=None, help="default: the scale's teacher width")
    o.add_argument("--teacher", default=None,
                   help="pre-trained schemes: the teacher file (default: the task's shipped teacher)")
    o.add_argument("--steps", type=_positive, required=True)
    o.add_argument("--batch-size", type=_positive, default=None, help="default: the scale's teacher batch")
    o.add_argument("--seed", type=_non_negative, default=0)
    o.add_argument("--n-train", type=_positive, default=None)
    o.add_argument("--backbone", choices=BACKBONES, default=None,
                   help="perceptual backbone (default: synthetic at ci, vgg16 at small/full)")
    o.add_argument("--download", action="store_true", help="fetch VGG16's weights if missing")
    o.add_argument("--data", default=None, help="a real dataset folder (small/full)")
    o.add_argument("--device", type=_device, default=None)
    o.add_argument("--n", type=_positive, default=None, help="test images to evaluate on")
    o.add_argument("--out", required=True, help="run folder")
    o.add_argument("--force", action="store_true", help="replace an existing run there")
    o.add_argument("--no-progress", action="store_true")
    o.set_defaults(func=_cmd_distill_online)

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

    s = sub.add_parser("sweep-distillation",
                       help="GAN Compression's Fig. 7a (pseudo-pairs) or Table 3 (ablation)")
    s.add_argument("experiment", choices=["pseudo-pairs", "ablation"])
    s.add_argument("--task", default=None, choices=sorted(WORLDS),
                   help="default: stripes (pseudo-pairs), edges2shapes (ablation)")
    s.add_argument("--widths", type=_positive, nargs="+", default=[8, 4])
    s.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    s.add_argument("--steps", type=_positive, default=500)
    s.add_argument("--size", type=_positive, default=64)
    s.add_argument("--batch-size", type=_positive, default=None,
                   help="default: 1 (pseudo-pairs, as CycleGAN), 4 (ablation)")
    _recorded_sweep_options(s)
    s.set_defaults(func=_cmd_sweep_distillation)

    c = sub.add_parser("sweep-cat", help="CAT's claims on one pruned inception student: KA vs MSE, "
                                         "KA without reconstruction, inherited weights, vs the teacher")
    c.add_argument("--task", default="edges2shapes", choices=["edges2shapes", "stripes"])
    c.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=_positive, default=600)
    c.add_argument("--size", type=_positive, default=64)
    c.add_argument("--batch-size", type=_positive, default=None,
                   help="default 4 (KA compares the samples of a batch: it needs more than one)")
    c.add_argument("--reduction", type=_real(above=1.0), default=20.0,
                   help="prune to the teacher's MACs divided by this (CAT's convention, 256x256)")
    _recorded_sweep_options(c)
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
    c.add_argument("--resume", action="store_true",
                   help="continue an interrupted results file of the same command and package, "
                        "keeping its finished runs")
    c.add_argument("--save-students", default=None, metavar="DIR",
                   help="also write the first seed's trained networks to DIR, one checksummed "
                        "file per arm (the pictures chapter 08 shows)")
    c.set_defaults(func=_cmd_sweep_crd)

    from .compression.ofa import SEARCHES, SPACES
    from .training.supernet import SAMPLINGS

    sn = sub.add_parser("train-supernet", help="GAN Compression's once-for-all supernet, trained "
                                               "by its distiller (resumable)")
    sn.add_argument("task", choices=sorted(WORLDS))
    sn.add_argument("--space", choices=list(SPACES), required=True,
                    help="candidate widths (GAN Compression's lists; *-ci: divided by 4)")
    sn.add_argument("--sampling", choices=SAMPLINGS, default="uniform",
                    help="uniform: one subnet per step (GAN Compression); sandwich: largest, "
                         "smallest and a random one")
    sn.add_argument("--steps", type=_positive, required=True)
    sn.add_argument("--batch-size", type=_positive, default=4)
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

    c = sub.add_parser("sweep-ofa", help="GAN Compression's once-for-all claims: searched vs "
                                         "uniformly shrunk students, sampling rules, fine-tuning, "
                                         "search cost against CAT")
    c.add_argument("experiment", choices=["supernets", "baselines"],
                   help="supernets: train, ship and search supernets; baselines: the uniform "
                        "students at the budgets and CAT's pruning")
    c.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=_positive, default=1200)
    c.add_argument("--size", type=_positive, default=64)
    c.add_argument("--batch-size", type=_positive, default=4)
    c.add_argument("--finetune-steps", type=_positive, default=300)
    c.add_argument("--population", type=_positive, default=32)
    c.add_argument("--generations", type=_positive, default=10)
    c.add_argument("--ship-dir", default=None, help="where supernets go (default data/supernets)")
    _recorded_sweep_options(c)
    c.set_defaults(func=_cmd_sweep_ofa)

    from .deploy import FORMATS
    from .metrics.latency import BACKENDS

    e = sub.add_parser("export", help="a generator file to ONNX or torch.export, checked against "
                                      "eager PyTorch")
    e.add_argument("checkpoint", help="a teacher, student, pruned-network or subnet file")
    e.add_argument("--format", choices=list(FORMATS), required=True)
    e.add_argument("--size", type=_positive, default=256, help="image side (default 256)")
    e.add_argument("--out", required=True, help="the exported file (.onnx or .pt2)")
    e.add_argument("--force", action="store_true")
    e.set_defaults(func=_cmd_export)

    bn = sub.add_parser("bench", help="latency of generators on the CPU runtimes (a benchmark: it "
                                      "reports, never asserts)")
    bn.add_argument("checkpoints", nargs="*", help="generator files")
    bn.add_argument("--random", action="append", metavar="ARCH:NGF",
                    help="also a randomly initialised generator: resnet:64, mobile_resnet:16, "
                         "inception:64, sub:24_24_24_32_20_16 (an OFA subnet), cat:2.6 (an "
                         "ngf-64 inception teacher with random scales one-step pruned to 2.6G "
                         "MACs, CAT's counting at 256x256) (repeatable)")
    bn.add_argument("--backends", nargs="+", choices=BACKENDS, default=["eager", "onnxruntime"])
    bn.add_argument("--size", type=_positive, default=256)
    bn.add_argument("--batch-size", type=_positive, default=1)
    bn.add_argument("--threads", type=_positive, default=2)
    bn.add_argument("--repeats", type=_positive, default=7, help="interleaved timed rounds")
    bn.add_argument("--warmup", type=_non_negative, default=2)
    bn.add_argument("--process-memory", action="store_true",
                    help="also measure each runtime's peak resident memory in a fresh process "
                         "(Linux; about 5 s per model, runtime and sample)")
    bn.add_argument("--process-samples", type=_positive, default=2,
                    help="processes per model and runtime for --process-memory (median and range)")
    bn.add_argument("--json", default=None, help="also write the table as JSON here")
    bn.add_argument("--force", action="store_true", help="replace an existing --json file")
    bn.add_argument("--no-progress", action="store_true")
    bn.set_defaults(func=_cmd_bench)

    b = sub.add_parser("bench-train", help="training speed of the distiller in GAN Compression's "
                                           "benchmark configuration (a benchmark: it reports, "
                                           "never asserts)")
    b.add_argument("--threads", type=_positive, default=2)
    b.add_argument("--warmup", type=_positive, default=5, help="untimed steps first (one epoch)")
    b.add_argument("--repeats", type=_positive, default=3, help="timed repeats (the median is reported)")
    b.add_argument("--steps", type=_positive, default=5, help="steps per timed repeat")
    b.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    b.add_argument("--teacher-cache", choices=("on", "off", "both"), default="both",
                   help="time with the frozen teacher's outputs cached, without, or both (default)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_bench_train)

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

    dl = sub.add_parser("download", help="fetch a real dataset or pretrained weights (checksummed) "
                                         "into data/downloads/ (or $GANCOMP_DATA)")
    dl.add_argument("name", nargs="?", help="asset name (see --list)")
    dl.add_argument("--list", action="store_true", help="list the assets and where each goes")
    dl.set_defaults(func=_cmd_download)

    i = sub.add_parser("info", help="scale, device and versions")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_cmd_info)
    return parser


def _show_notes() -> None:
    """Print the package's data-change notes as ``gancomp-lite: note: ...`` lines."""
    import warnings

    from .errors import DataChangeWarning

    plain = warnings.showwarning
    if getattr(plain, "_gancomp_notes", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DataChangeWarning):
            print(f"gancomp-lite: note: {message}", file=sys.stderr)
        else:
            plain(message, category, filename, lineno, file, line)

    show._gancomp_notes = True
    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _show_notes()
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except GancompError as err:
        if args.debug:
            raise
        print(f"gancomp-lite: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
