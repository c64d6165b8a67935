"""Where shipped artifacts and downloaded files live.

``data/`` at the repository root holds small shipped artifacts (checkpoints,
results files) each with the recipe that made it.  Real datasets and
pretrained weights are downloaded (only at the ``small``/``full`` scales) to
``data/downloads/``, which git ignores.  ``GANCOMP_DATA`` moves that folder
elsewhere (for example to a Google Drive on Colab).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = REPO_ROOT / "data"


def chapter_sources(folder: Path | None = None) -> list[Path]:
    """The chapters' Jupytext sources ``NN_name.md`` in ``folder`` (default ``nb/``),
    in book order (``10_latency`` before ``10b_deployment``)."""
    return sorted(Path(folder or REPO_ROOT / "nb").glob("[0-9][0-9]*_*.md"))


def downloads_dir() -> Path:
    """Folder for downloaded datasets and weights (not shipped, not in git)."""
    override = os.environ.get("GANCOMP_DATA")
    return Path(override).expanduser() if override else DATA_DIR / "downloads"
