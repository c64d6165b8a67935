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

Under ``torchrun`` (``torchrun --nproc_per_node=K -m gancomp_lite VERB ...``, for the verbs in
:data:`gancomp_lite.training.parallel.VERBS`)
the process group is joined before the verb runs, and only rank 0 prints
(:mod:`gancomp_lite.training.parallel`).

Each verb lives beside what it drives: :mod:`.models` (``profile``, ``info``),
:mod:`.data` (``data``, ``download``), :mod:`.training` (teachers, students,
``evaluate``, ``bench-train``), :mod:`.experiments` (the ``sweep-*`` verbs),
:mod:`.compression` (``prune`` and the once-for-all verbs) and :mod:`.deploy`
(``export``, ``bench``); :mod:`.common` has the argument types they share.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager, nullcontext, redirect_stdout

from ..errors import GancompError
from . import compression, data, deploy, experiments, models, training
from .common import _Parser


def build_parser():
    """The whole command line: one sub-command per verb, each added by its module."""
    parser = _Parser(
        prog="gancomp-lite",
        description="Compressing image-to-image GANs: the book's command line.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (models, data, training, experiments, compression, deploy):
        module.add_parsers(sub)
    return parser


def _show_notes() -> None:
    """Print the package's data-change notes as ``gancomp-lite: note: ...`` lines."""
    import warnings

    from ..errors import DataChangeWarning

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
        with _processes(args.command, getattr(args, "device", None)):
            return args.func(args)
    except GancompError as err:
        if args.debug:
            raise
        print(f"gancomp-lite: error: {err}", file=sys.stderr)
        return 2


@contextmanager
def _processes(verb: str, device=None):
    """Under ``torchrun``: join the process group for ``verb`` (or refuse a verb
    that does not run data-parallel), keep the output of ranks other than 0
    quiet, and leave the group at the end.  Otherwise nothing."""
    import os

    if "WORLD_SIZE" not in os.environ:    # not under torchrun: no torch import for this
        yield
        return
    from ..training import parallel

    if not parallel.launched():
        yield
        return
    parallel.init_from_env(verb, device)
    quiet = None if parallel.is_main() else open(os.devnull, "w")
    try:
        with redirect_stdout(quiet) if quiet else nullcontext():
            yield
    finally:
        if quiet:
            quiet.close()
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
