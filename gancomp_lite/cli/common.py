"""What every verb of the command line shares: the parser class (a usage error in
one line), the argument types that stop bad values at the edge, the recorded sweeps'
common options and the loader of any generator file.

Part of the ``gancomp-lite`` command line (:mod:`gancomp_lite.cli`).
"""
from __future__ import annotations

import argparse

from ..errors import GancompError


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
    from ..errors import check_number

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
    from ..shipped import check_name

    try:
        return check_name(text)
    except GancompError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _generator_of(path: str):
    """The generator of a shipped teacher, student, pruned or subnet file; a
    supernet or any other file is one clear error."""
    from pathlib import Path

    from ..errors import CheckpointError
    from ..shipped import read_manifest
    from ..training.checkpoint import SUPERNET_KIND, load_generator_file

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
        reason = str(err)
        if str(p) not in reason:  # name the file once, however deep its folder
            reason = f"{p}: {reason}"
        raise CheckpointError(f"{reason} (expected a generator file: a teacher, student, pruned "
                              f"network or exported subnet)") from None




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
