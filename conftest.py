"""Collect the Jupytext notebooks in nb/ as nbval tests.

nbval only collects ``.ipynb`` files; our chapters are MyST-markdown Jupytext
notebooks.  For each ``nb/*.md`` file with a Jupytext header we hand nbval's
own collector a reader that parses the text notebook with jupytext, so every
code cell runs in a real kernel (in the notebook's folder) and a cell that
raises fails the test.  This leans on nbval 0.11 internals (``IPyNbFile``
reads through ``nbval.plugin.nbformat.read``), which is why nbval is pinned.

The executions are not thrown away: when every cell of a chapter passed, its
outputs go into the jupyter-cache at ``.jupyter_cache/`` (see
``gancomp_lite.booktools``), where ``make book`` (``execute_notebooks: cache``)
finds them instead of running the chapter again.  A chapter's old cached
executions are removed before it runs, so a chapter whose test fails is
executed afresh by the book.  nbval keeps each cell's outputs in
``IPyNbCell.test_outputs``; iopub messages it does not record (``clear_output``,
``update_display_data``) or widgets make a chapter uncacheable.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import jupytext
import nbval.plugin as _nbval
import pytest

ROOT = Path(__file__).resolve().parent
NB_DIR = ROOT / "nb"


def is_text_notebook(path: Path) -> bool:
    """A ``.md`` file in nb/ whose front matter declares Jupytext and a kernel."""
    if path.suffix != ".md" or path.parent.resolve() != NB_DIR:
        return False
    head = path.read_text(encoding="utf-8")[:1000]
    return head.startswith("---") and "jupytext:" in head and "kernelspec:" in head


class _ReadWithJupytext:
    """Stands in for the ``nbformat`` module inside nbval while it collects."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    @staticmethod
    def read(path, as_version=4):  # noqa: ARG004 - nbformat's signature
        return jupytext.read(path)


class TextNotebookFile(_nbval.IPyNbFile):
    def collect(self):
        self._text = Path(self.path).read_text(encoding="utf-8")  # what will run
        self._cells, self._passed, self._unrecorded = [], {}, set()
        real = _nbval.nbformat
        _nbval.nbformat = _ReadWithJupytext(real)
        try:
            for item in super().collect():
                self._cells.append(item)
                yield item
        finally:
            _nbval.nbformat = real

    # -- handing the execution to the book (gancomp_lite.booktools) --
    def setup(self):
        from gancomp_lite import booktools

        self._inputs, self._started = None, time.monotonic()
        try:
            booktools.forget_chapter(self.path, ROOT)
            self._inputs = booktools.inputs_fingerprint(ROOT)
        except Exception as err:  # noqa: BLE001 - the cache must never fail a test
            warnings.warn(f"execution cache not used for {self.path.name}: {err!r}")
        super().setup()

    def get_kernel_message(self, timeout=None, stream="iopub"):
        msg = super().get_kernel_message(timeout=timeout, stream=stream)
        if msg["msg_type"] in ("clear_output", "update_display_data"):
            self._unrecorded.add(msg["msg_type"])  # nbval drops these
        return msg

    def note_report(self, item, report):
        if report.when == "call" or not report.passed:
            self._passed[item.cell_num] = self._passed.get(item.cell_num, True) and report.passed

    def _cacheable_outputs(self):
        """Each code cell's outputs when every cell ran and passed, else None."""
        if (self._inputs is None or self.timed_out or self._unrecorded
                or [i.cell_num for i in self._cells] != list(range(len(self._cells)))
                or not all(self._passed.get(i.cell_num) for i in self._cells)
                or any(i.test_outputs is None for i in self._cells)):
            return None
        outputs = [list(i.test_outputs) for i in self._cells]
        if any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for outs in outputs for o in outs):
            return None
        return outputs

    def teardown(self):
        try:
            super().teardown()
        finally:
            self._store_execution()

    def _store_execution(self):
        from gancomp_lite import booktools

        outputs = self._cacheable_outputs()
        if outputs is None:
            return
        try:
            if booktools.inputs_fingerprint(ROOT) != self._inputs:
                return  # the package or data changed while the chapter ran
            booktools.cache_executed_chapter(
                self.path, self._text, [i.cell.source for i in self._cells], outputs,
                self._inputs, time.monotonic() - self._started, ROOT)
        except Exception as err:  # noqa: BLE001 - the book will execute the chapter
            warnings.warn(f"execution of {self.path.name} not cached: {err!r}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001 - pytest's signature
    report = (yield).get_result()
    if isinstance(item.parent, TextNotebookFile):
        item.parent.note_report(item, report)


def pytest_collect_file(file_path: Path, parent):
    opts = parent.config.option
    if (opts.nbval or opts.nbval_lax) and is_text_notebook(file_path):
        return TextNotebookFile.from_parent(parent, path=file_path)
    return None


# -- what runs alone ----------------------------------------------------------------
# `make test` runs the suite in two passes: everything not marked `solo` on two
# pytest-xdist workers (OMP_NUM_THREADS=1: one thread each, on a core each; a chapter's
# cells kept together on one worker by --dist loadfile), then the `solo` files on their
# own, with every core.  On two cores one thread trains these small networks as fast as
# two (measured: the two CRD/OMGD learning tests took 131 s serially on two threads and
# 127 s side by side on one each), so the pass takes about half the time.  The chapters'
# comparison panels time each network on the worker's one thread and say so in the
# column.  Solo are the files whose book figures time networks on several threads (the
# deployment chapter's interleaved benchmark): those must have the machine to themselves.
SOLO_FILES = ("nb/10_latency.md",)


def pytest_configure(config):
    config.addinivalue_line("markers", "solo: times networks on several threads; `make test` "
                                       "runs it after the parallel pass, with no other test beside it")
    # a chapter's cells share one kernel: xdist's other modes would deal them to different
    # workers, where every cell after the first fails with a NameError
    opts = config.option
    if ((opts.nbval or opts.nbval_lax) and getattr(opts, "numprocesses", None)
            and getattr(opts, "dist", "no") not in ("loadfile", "no")):
        raise pytest.UsageError(f"the chapters run on pytest-xdist workers only with --dist loadfile "
                                f"(got --dist {opts.dist}), which keeps a chapter's cells on one "
                                f"worker: `make test` passes it")


def pytest_collection_modifyitems(config, items):  # noqa: ARG001 - pytest's signature
    for item in items:
        try:
            rel = Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            continue
        if rel in SOLO_FILES:
            item.add_marker(pytest.mark.solo)


# -- the shipped files are never changed by a test or a chapter ------------------------
def _shipped_snapshot() -> dict[str, str]:
    import hashlib

    data = ROOT / "data"
    return {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data.rglob("*")) if p.is_file() and "downloads" not in p.parts}


def pytest_sessionstart(session):
    session.config._shipped_before = _shipped_snapshot()


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest's signature
    before = getattr(session.config, "_shipped_before", None)
    if before is None:
        return
    after = _shipped_snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        session.config.get_terminal_writer().line(
            "FAILED: the test run changed shipped files in data/ (a command wrote where it "
            "should not): " + ", ".join(changed[:10]), red=True)
        session.exitstatus = 1
