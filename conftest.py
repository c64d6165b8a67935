"""Collect the Jupytext notebooks in nb/ as nbval tests.

nbval only collects ``.ipynb`` files; our chapters are MyST-markdown Jupytext
notebooks.  For each ``nb/*.md`` file with a Jupytext header we hand nbval's
own collector a reader that parses the text notebook with jupytext, so every
code cell runs in a real kernel (in the notebook's folder) and a cell that
raises fails the test.  This leans on nbval 0.11 internals (``IPyNbFile``
reads through ``nbval.plugin.nbformat.read``), which is why nbval is pinned.
"""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbval.plugin as _nbval

NB_DIR = Path(__file__).resolve().parent / "nb"


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
        real = _nbval.nbformat
        _nbval.nbformat = _ReadWithJupytext(real)
        try:
            yield from super().collect()
        finally:
            _nbval.nbformat = real


def pytest_collect_file(file_path: Path, parent):
    opts = parent.config.option
    if (opts.nbval or opts.nbval_lax) and is_text_notebook(file_path):
        return TextNotebookFile.from_parent(parent, path=file_path)
    return None
