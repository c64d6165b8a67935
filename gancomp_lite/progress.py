"""The one progress bar of the package (:func:`tqdm`).

``tqdm.auto`` picks tqdm's notebook widget whenever it runs in a Jupyter
kernel, and when ``ipywidgets`` is not installed (the book's build, nbval, a
bare Jupyter) it prints a ``TqdmWarning`` ("IProgress not found") into the
cell's output instead.  Here the widget is used only where it can be drawn;
elsewhere the plain text bar, without the warning.
"""
from __future__ import annotations

import importlib.util


def _choose():
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm as auto
        return auto
    from tqdm.std import tqdm as plain
    return plain


#: tqdm's notebook bar where ipywidgets can draw it, its text bar elsewhere
tqdm = _choose()

__all__ = ["tqdm"]
