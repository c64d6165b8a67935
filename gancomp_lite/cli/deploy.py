"""The deployment verbs (:mod:`gancomp_lite.deploy`, :mod:`gancomp_lite.metrics.latency`):
``export`` (ONNX or ``torch.export``, checked against eager) and ``bench`` (latency on the
CPU runtimes, a benchmark).

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse
import json

from ..errors import GancompError
from .common import _positive, _non_negative, _generator_of


def _random_model(spec: str):
    """``ARCH:NGF`` (``ARCH:NGF:deploy``: BatchNorm and zero padding), ``sub:CONFIG``
    or ``cat:GMACS`` (random weights) for ``bench --random``."""
    from ..models import SubMobileResnetGenerator, build_generator

    arch, _, value = spec.partition(":")
    if arch == "sub":
        return SubMobileResnetGenerator(value)
    usage = (f"--random {spec!r}: expected ARCH:NGF (resnet:64), ARCH:NGF:deploy "
             f"(mobile_resnet:16:deploy, BatchNorm and zero padding), sub:CONFIG "
             f"(sub:24_24_24_32_20_16) or cat:GMACS (cat:2.6)")
    value, _, variant = value.partition(":")
    if variant not in ("", "deploy") or (variant and arch not in ("resnet", "mobile_resnet")):
        raise GancompError(usage)
    if arch == "cat":
        from ..compression.one_step import prune_untrained

        try:
            gmacs = float(value)
        except ValueError:
            raise GancompError(usage) from None
        return prune_untrained(gmacs * 1e9)[0]
    try:
        ngf = int(value)
    except ValueError:
        raise GancompError(usage) from None
    if variant == "deploy":       # the deployment-friendly variant: every norm folds at export
        return build_generator(arch, ngf=ngf, norm="batch", padding_type="zero").eval()
    return build_generator(arch, ngf=ngf)



#: held-out test images an int8 export is checked on against its float32 file
INT8_CHECK_IMAGES = 16


def _task_of(path: str, data: str | None) -> str:
    """``--data``, or the task recorded in the generator file's manifest."""
    from ..shipped import read_manifest

    from pathlib import Path

    task = data or read_manifest(Path(path)).get("task")
    if not task:
        raise GancompError(f"{path} records no task: name the calibration images with --data "
                           f"(a task or a dataset folder)")
    return task


def _cmd_export(args: argparse.Namespace) -> int:
    from ..deploy import export_generator, export_int8, task_images

    if not args.int8:
        for flag, given in (("--calibrate", args.calibrate is not None), ("--data", args.data),
                            ("--require-folded", args.require_folded)):
            if given:
                raise GancompError(f"{flag} applies to an int8 export: add --int8")
    elif args.format != "onnx":
        raise GancompError(f"int8 is ONNX Runtime's static quantization (QDQ): use --format onnx, "
                           f"not {args.format}")
    G = _generator_of(args.checkpoint)
    if args.int8:
        task = _task_of(args.checkpoint, args.data)
        n = args.calibrate if args.calibrate is not None else 64
        calibration = task_images(task, n, args.size, phase="train")
        check = task_images(task, INT8_CHECK_IMAGES, args.size, phase="test")
        r = export_int8(G, args.out, calibration, check, size=args.size,
                        require_folded=args.require_folded, force=args.force)
        left = ", ".join(f"{v} {k}" for k, v in sorted(r["unfolded_norms"].items())) or "none"
        print(f"wrote {r['path']} (int8 ONNX, QDQ, per-channel weights, {args.size}x{args.size}): "
              f"calibrated on {r['calibration_images']} {task} training images; on "
              f"{r['check_images']} held-out test images it differs from float32 by "
              f"{r['mean_abs_diff']:.3g} on average, {r['max_abs_diff']:.3g} at most (tolerance "
              f"{r['tolerance']:g} on average); norms folded {r['folded_norms']}, left {left}")
        return 0
    report = export_generator(G, args.out, args.format, size=args.size, force=args.force)
    print(f"wrote {report['path']} ({args.format}, {args.size}x{args.size}): largest difference to "
          f"eager PyTorch {report['max_abs_diff']:.2g} (tolerance {report['tolerance']:g}), "
          f"exported in {report['export_seconds']:.1f} s")
    return 0



def _cmd_bench(args: argparse.Namespace) -> int:
    import os
    import platform
    from pathlib import Path

    from ..metrics.cost import profile_macs
    from ..metrics.latency import INT8_BACKENDS, benchmark
    from ..viz import Table

    if args.json and Path(args.json).exists() and not args.force:   # before minutes of timing
        raise GancompError(f"{args.json} exists: pass --force to replace it")
    models = {Path(c).stem: _generator_of(c) for c in args.checkpoints}
    models.update({spec: _random_model(spec) for spec in args.random or []})
    if not models:
        raise GancompError("nothing to benchmark: give generator files and/or --random ARCH:NGF")
    deploy_specs = [s for s in args.random or [] if s.endswith(":deploy")]
    if deploy_specs:   # random BatchNorms hold mean 0 / variance 1: give them real statistics
        from ..deploy import batchnorm_statistics, task_images

        stats_images = task_images(args.data or "edges2shapes", 16, args.size, phase="train")
        models.update({s: batchnorm_statistics(models[s], stats_images) for s in deploy_specs})
    calibration = None
    if set(args.backends) & set(INT8_BACKENDS):
        from ..deploy import task_images

        tasks = {Path(c).stem: _task_of(c, args.data) for c in args.checkpoints}
        if args.random and not args.data:
            raise GancompError("--random networks record no task: name the int8 calibration "
                               "images with --data (a task or a dataset folder)")
        tasks.update({spec: args.data for spec in args.random or []})
        images = {t: (task_images(t, args.calibrate or 64, args.size, phase="train"),
                      task_images(t, INT8_CHECK_IMAGES, args.size, phase="test"))
                  for t in set(tasks.values())}
        calibration = {name: images[t] for name, t in tasks.items()}
        # a network with random weights computes noise, on which int8 loses far more than on a
        # trained one: its int8 time is reported with its difference, not gated by the tolerance
        int8_tolerance = {spec: float("inf") for spec in args.random or []}
    elif args.calibrate is not None or args.data:
        raise GancompError("--calibrate and --data apply to the int8 backends ("
                           f"{', '.join(INT8_BACKENDS)}): add one to --backends")
    rows = benchmark(models, tuple(args.backends), size=args.size, batch_size=args.batch_size,
                     threads=args.threads, repeats=args.repeats, warmup=args.warmup,
                     progress=not args.no_progress, process=args.process_memory,
                     process_samples=args.process_samples, calibration=calibration,
                     int8_tolerance=int8_tolerance if calibration else None)
    for r in rows:
        r["weights"] = "random" if r["model"] in (args.random or []) else "trained"
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
        machine["instructions"] = {  # what the runtimes' int8 and float kernels can use
            "avx2": "avx2" in flags, "avx512": "avx512f" in flags,
            "vnni": bool({"avx512_vnni", "avx_vnni"} & set(flags)),
            "bf16": machine["bfloat16_instructions"], "amx": "amx_tile" in flags}
        machine["cores"] = len(os.sched_getaffinity(0))
    except (OSError, StopIteration, AttributeError):
        pass
    import shlex

    from ..provenance import code_version

    out = {"command": "gancomp-lite " + shlex.join(args.argv), "code_version": code_version(),
           "settings": {"size": args.size, "batch_size": args.batch_size, "threads": args.threads,
                        "repeats": args.repeats, "warmup": args.warmup, "backends": args.backends,
                        **({"calibrate": args.calibrate or 64, "check_images": INT8_CHECK_IMAGES,
                            "data": args.data} if calibration else {}),
                        **({"process_samples": args.process_samples} if args.process_memory else {})},
           "machine": machine, "rows": rows}
    if args.json:
        if Path(args.json).exists() and not args.force:
            raise GancompError(f"{args.json} exists: pass --force to replace it")
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"{machine['cpu']}, {args.threads} threads, batch {args.batch_size}, "
          f"{args.size}x{args.size}, median of {args.repeats} interleaved repeats")
    print(Table([{k: r.get(k) for k in ("model", "backend", "gmacs_in_counted", "median_ms", "min_ms",
                                        "max_ms", "max_abs_diff", "mean_abs_diff", "weights_mb",
                                        "peak_activation_mb",
                                        "process_peak_mb", "status")}
                 for r in rows],
                formats={"gmacs_in_counted": ".3f", "median_ms": ".1f", "min_ms": ".1f",
                         "max_ms": ".1f", "max_abs_diff": ".1e", "mean_abs_diff": ".1e",
                         "weights_mb": ".2f",
                         "peak_activation_mb": ".1f", "process_peak_mb": ".0f"}))
    return 0




def add_parsers(sub) -> None:
    """Add the deploy verbs to the sub-command parser ``sub``."""
    from ..deploy import FORMATS
    from ..metrics.latency import BACKENDS

    e = sub.add_parser("export", help="a generator file to ONNX or torch.export, checked against "
                                      "eager PyTorch")
    e.add_argument("checkpoint", help="a teacher, student, pruned-network or subnet file")
    e.add_argument("--format", choices=list(FORMATS), required=True)
    e.add_argument("--size", type=_positive, default=256, help="image side (default 256)")
    e.add_argument("--out", required=True, help="the exported file (.onnx or .pt2)")
    e.add_argument("--force", action="store_true")
    e.add_argument("--int8", action="store_true",
                   help="quantize to int8 (ONNX Runtime static QDQ, per-channel weights; onnx only), "
                        "checked against float32 on held-out test images")
    e.add_argument("--calibrate", type=_positive, default=None, metavar="N",
                   help="int8: calibrate on N training images of the task (default 64)")
    e.add_argument("--data", default=None,
                   help="int8: the task or dataset folder the calibration images come from "
                        "(default: the task the generator file records)")
    e.add_argument("--require-folded", action="store_true",
                   help="int8: refuse a network whose norms cannot be folded (InstanceNorm)")
    e.set_defaults(func=_cmd_export)


    bn = sub.add_parser("bench", help="latency of generators on the CPU runtimes (a benchmark: it "
                                      "reports, never asserts)")
    bn.add_argument("checkpoints", nargs="*", help="generator files")
    bn.add_argument("--random", action="append", metavar="ARCH:NGF",
                    help="also a randomly initialised generator: resnet:64, mobile_resnet:16, "
                         "mobile_resnet:16:deploy (BatchNorm and zero padding), inception:64, sub:24_24_24_32_20_16 (an OFA subnet), cat:2.6 (an "
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
    bn.add_argument("--calibrate", type=_positive, default=None, metavar="N",
                    help="int8 backends: calibrate on N training images of each network's task "
                         "(default 64); checked on held-out test images")
    bn.add_argument("--data", default=None,
                    help="int8 backends: the task or dataset folder of the calibration images "
                         "(default: the task each generator file records; needed with --random)")
    bn.add_argument("--json", default=None, help="also write the table as JSON here")
    bn.add_argument("--force", action="store_true", help="replace an existing --json file")
    bn.add_argument("--no-progress", action="store_true")
    bn.set_defaults(func=_cmd_bench)
