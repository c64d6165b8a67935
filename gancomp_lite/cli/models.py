"""The verbs that describe networks and the set-up: ``profile`` (MACs and parameters,
:mod:`gancomp_lite.metrics.cost`) and ``info`` (:mod:`gancomp_lite.config`).

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse
import json

from ..errors import GancompError
from .common import _positive


def _cmd_profile(args: argparse.Namespace) -> int:
    from ..metrics.cost import CONVENTIONS, profile_all
    from ..models import build_generator

    h, w = args.size
    if args.config is not None:
        from ..models import SubMobileResnetGenerator
        from ..models.dynamic import format_config, parse_config

        if args.arch != "mobile_resnet":
            raise GancompError(f"--config describes a (sub-)mobile ResNet, not {args.arch!r}: "
                               f"use `profile mobile_resnet --config ...`")
        model = SubMobileResnetGenerator(parse_config(args.config), norm=args.norm or "instance")
        args.arch, args.ngf = f"sub_mobile_resnet {format_config(args.config)}", "-"
    else:
        model = build_generator(args.arch, ngf=args.ngf, norm=args.norm, image_size=min(h, w))
    if args.decompose:
        from ..compression import decompose

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



def _cmd_info(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..config import describe, get_scale

    if args.preset:
        from ..training.presets import loss_weights, paper_preset

        p = paper_preset(args.preset)
        if args.json:
            print(json.dumps({"preset": p.as_dict(), "loss_weights": loss_weights(p)}, indent=2))
            return 0
        print(f"{p.paper} {p.task}, {p.stage}: {p.epochs} + {p.epochs_decay} epochs (lr {p.lr:g} "
              f"constant, then linearly to 0), batch {p.batch_size}, D ndf {p.ndf}, {p.gan_mode} loss")
        print(f"  teacher: {p.teacher or '-'}; student: {p.student or '-'}")
        print(f"  loss weights ({p.loss}): {loss_weights(p)}")
        print(f"  distilled layers: {', '.join(p.distill_layers) or '-'}")
        if p.notes:
            print(f"  notes: {p.notes}")
        return 0
    scale = get_scale()
    if args.json:
        print(json.dumps({"version": __version__, **scale.as_dict()}, indent=2))
    else:
        print(f"gancomp-lite {__version__}")
        print(describe(scale))
    return 0




def add_parsers(sub) -> None:
    """Add the models verbs to the sub-command parser ``sub``."""
    from ..training.presets import PAPER_PRESETS

    from ..metrics.cost import CONVENTIONS
    from ..models import GENERATORS, NORMS

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


    i = sub.add_parser("info", help="scale, device and versions")
    i.add_argument("--json", action="store_true")
    i.add_argument("--preset", choices=list(PAPER_PRESETS), default=None, metavar="NAME",
                   help="print a paper's training recipe instead: " + ", ".join(PAPER_PRESETS))
    i.set_defaults(func=_cmd_info)
