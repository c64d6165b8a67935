"""The data verbs: ``data`` (a synthetic task in a real dataset's layout,
:mod:`gancomp_lite.data`), ``download`` (:mod:`gancomp_lite.data.download`) and
``prepare`` (a dataset the user downloads by hand: :mod:`gancomp_lite.data.cityscapes`).

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse

from ..errors import GancompError
from .common import _positive, _non_negative


def _cmd_data(args: argparse.Namespace) -> int:
    from ..data import write_dataset

    out = write_dataset(args.task, args.out, n=args.n, n_test=args.n_test, size=args.size,
                        seed=args.seed, force=args.force)
    print(f"wrote {args.task} (n={args.n}, size={args.size}, seed={args.seed}) to {out}")
    return 0



def _cmd_download(args: argparse.Namespace) -> int:
    from ..data.download import ASSETS, MANUAL, ensure, fetch, local_folder
    from ..errors import MissingDownloadError

    if args.list:
        for name, asset in ASSETS.items():
            print(f"{name:28s} {asset.what}\n{'':28s} -> {local_folder(name)}")
        for name, what in MANUAL.items():
            print(f"{name:28s} {what}")
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




def _cmd_prepare(args: argparse.Namespace) -> int:
    from ..data.cityscapes import prepare_cityscapes

    counts = prepare_cityscapes(args.gtfine, args.leftimg, args.out, force=args.force,
                                progress=not args.no_progress)
    print(f"wrote cityscapes to {args.out}: " + ", ".join(f"{n} {split} images"
                                                        for split, n in counts.items()))
    return 0


def add_parsers(sub) -> None:
    """Add the data verbs to the sub-command parser ``sub``."""
    from ..data.synthetic import WORLDS

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


    dl = sub.add_parser("download", help="fetch a real dataset or pretrained weights (checksummed) "
                                         "into data/downloads/ (or $GANCOMP_DATA)")
    dl.add_argument("name", nargs="?", help="asset name (see --list)")
    dl.add_argument("--list", action="store_true", help="list the assets and where each goes")
    dl.set_defaults(func=_cmd_download)

    pr = sub.add_parser("prepare", help="a dataset the user downloaded by hand, in the official "
                                        "pix2pix layout (Cityscapes)")
    pr.add_argument("dataset", choices=["cityscapes"])
    pr.add_argument("--gtfine", required=True,
                    help="the gtFine folder unpacked from gtFine_trainvaltest.zip (it holds "
                         "train/ and val/, each CITY/*_gtFine_color.png and *_labelIds.png)")
    pr.add_argument("--leftimg", required=True,
                    help="the leftImg8bit folder unpacked from leftImg8bit_trainvaltest.zip (it "
                         "holds train/ and val/, each CITY/*_leftImg8bit.png)")
    pr.add_argument("--out", required=True, help="output folder (new or empty)")
    pr.add_argument("--force", action="store_true", help="write over a folder that is not empty")
    pr.add_argument("--no-progress", action="store_true")
    pr.set_defaults(func=_cmd_prepare)
