"""Tools for the book itself (not for readers): the Colab copies.

Every chapter ``nb/NN_name.md`` (a MyST Jupytext notebook, the source) has an
output-free ``nb/NN_name.ipynb`` beside it, committed, because Colab opens
only ``.ipynb`` files and the book's Colab buttons point at them.
``python -m gancomp_lite.booktools sync-colab`` (``make colab``) rewrites the
copies; ``check-colab`` exits 1 when any is stale, and a test does the same.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paths import REPO_ROOT

NB_DIR = REPO_ROOT / "nb"
#: the public repository the Colab buttons and the Colab setup cell use
REPOSITORY_URL = "https://github.com/gancomp-lite/gancomp-lite"
BRANCH = "main"

#: the first code cell of every chapter (tagged remove-cell): on Colab it
#: clones the repository and installs the package, pinning the torch,
#: torchvision and numpy Colab already has; elsewhere it does nothing.
COLAB_SETUP_CELL = '# Colab only: clone the repository (code and the small files in data/) and\n# install the package, keeping Colab\'s own torch, torchvision and numpy.\nimport os, sys\nif "google.colab" in sys.modules:\n    import subprocess\n    from importlib.metadata import version\n    repo = "https://github.com/gancomp-lite/gancomp-lite"\n    subprocess.run(["git", "clone", "--depth", "1", repo, "/content/gancomp-lite"], check=False)\n    with open("/tmp/keep-colab-pins.txt", "w") as f:\n        f.write("\\n".join(f"{p}=={version(p)}" for p in ("torch", "torchvision", "numpy")))\n    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/keep-colab-pins.txt",\n                    "-e", "/content/gancomp-lite"], check=True)\n    sys.path.insert(0, "/content/gancomp-lite")\n    import torch\n    if torch.cuda.is_available():\n        os.environ.setdefault("GANCOMP_SCALE", "small")'


def chapters() -> list[Path]:
    """The chapter sources, in order."""
    return sorted(p for p in NB_DIR.glob("[0-9][0-9]_*.md"))


def colab_url(chapter: Path) -> str:
    rel = chapter.with_suffix(".ipynb").resolve().relative_to(REPO_ROOT)
    return (f"https://colab.research.google.com/github/"
            f"{REPOSITORY_URL.split('github.com/')[1]}/blob/{BRANCH}/{rel.as_posix()}")


def colab_notebook(chapter: Path) -> str:
    """The output-free ``.ipynb`` text that belongs beside ``chapter``."""
    import jupytext

    nb = jupytext.read(chapter)
    nb.metadata.pop("jupytext", None)
    nb.metadata["colab"] = {"provenance": []}
    nb.metadata.setdefault("accelerator", "GPU")
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"  # stable ids: nbformat would draw random ones
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return jupytext.writes(nb, fmt="ipynb")


def stale_copies() -> list[Path]:
    """Chapters whose ``.ipynb`` copy is missing or differs from the source."""
    out = []
    for chapter in chapters():
        copy = chapter.with_suffix(".ipynb")
        if not copy.exists() or copy.read_text(encoding="utf-8") != colab_notebook(chapter):
            out.append(chapter)
    return out


def sync_colab() -> list[Path]:
    written = []
    for chapter in stale_copies():
        chapter.with_suffix(".ipynb").write_text(colab_notebook(chapter), encoding="utf-8")
        written.append(chapter)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancomp_lite.booktools")
    parser.add_argument("command", choices=["sync-colab", "check-colab"])
    args = parser.parse_args(argv)
    if args.command == "sync-colab":
        for path in sync_colab():
            print(f"wrote {path.with_suffix('.ipynb').relative_to(REPO_ROOT)}")
        return 0
    stale = stale_copies()
    for path in stale:
        print(f"stale Colab copy: {path.with_suffix('.ipynb').relative_to(REPO_ROOT)}")
    return 1 if stale else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
