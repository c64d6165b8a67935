"""Tools for the book itself (not for readers): the Colab copies.

Every chapter ``nb/NN_name.md`` (a MyST Jupytext notebook, the source) has an
output-free ``nb/NN_name.ipynb`` beside it, committed, because Colab opens
only ``.ipynb`` files and the book's Colab buttons point at them.
``python -m gancomp_lite.booktools sync-colab`` (``make colab``) rewrites the
copies; ``check-colab`` exits 1 when any is stale, and a test does the same.
``sync-readme`` (also run by ``make colab``) writes the README's table of
chapter times at ``small`` from the recorded ``bench-chapters`` run.
As a Sphinx extension it also keeps the execution cache current and checks
the built pages (:func:`page_problems`: no warning printed into an output, no
table left as text).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from html import unescape
from pathlib import Path

from .paths import REPO_ROOT, chapter_sources

NB_DIR = REPO_ROOT / "nb"
#: the public repository the Colab buttons and the Colab setup cell use
REPOSITORY_URL = "https://github.com/gancomp-lite/gancomp-lite"
BRANCH = "main"

#: the first code cell of every chapter (tagged remove-cell): on Colab it
#: clones the repository and installs the package, pinning the torch,
#: torchvision and numpy Colab already has; elsewhere it does nothing.
COLAB_SETUP_CELL = '# Colab only: clone the repository (code and the small files in data/) and\n# install the package, keeping Colab\'s own torch, torchvision and numpy.\nimport os, sys\nif "google.colab" in sys.modules:\n    import subprocess\n    from importlib.metadata import version\n    repo = "https://github.com/gancomp-lite/gancomp-lite"\n    subprocess.run(["git", "clone", "--depth", "1", repo, "/content/gancomp-lite"], check=False)\n    with open("/tmp/keep-colab-pins.txt", "w") as f:\n        f.write("\\n".join(f"{p}=={version(p)}" for p in ("torch", "torchvision", "numpy")))\n    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/keep-colab-pins.txt",\n                    "-e", "/content/gancomp-lite"], check=True)\n    sys.path.insert(0, "/content/gancomp-lite")\n    import torch\n    if torch.cuda.is_available():\n        os.environ.setdefault("GANCOMP_SCALE", "small")'


def chapters() -> list[Path]:
    """The chapter sources, in order (:func:`gancomp_lite.paths.chapter_sources`)."""
    return chapter_sources(NB_DIR)


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


# --- the execution cache: `make test` executes the chapters, the book reuses them --
#
# nbval (conftest.py) runs every chapter in a kernel.  When all of a chapter's cells
# pass, conftest stores the executed notebook (:func:`cache_executed_chapter`) in the
# jupyter-cache database ``.jupyter_cache/`` that ``_config.yml`` names for
# ``execute_notebooks: cache``, so the book takes the outputs from there instead of
# running the chapter a second time; a chapter not in the cache (a fresh clone, a
# chapter whose test failed) is executed by the book and cached by myst-nb.
# jupyter-cache keys a notebook by its code cells (and their metadata) only, so
# every record also carries a stamp of what else its outputs came from: a digest
# of the chapter's whole source and :func:`inputs_fingerprint` (the package, the
# shipped data, the lock, the GANCOMP_* variables).  This module is also a Sphinx
# extension (``sphinx.extra_extensions`` in ``_config.yml``): before the book reads
# any chapter it drops every record whose stamp is not current
# (:func:`prune_cache`), and after the build it stamps the records myst-nb added
# with the state taken before the build (:func:`stamp_cache`).

#: the cache folder, relative to the repository root (``execute.cache`` in _config.yml)
CACHE_DIR = ".jupyter_cache"
#: what every chapter's outputs depend on besides its own source
CACHE_INPUTS = ("gancomp_lite", "data", "requirements-lock.txt", "pyproject.toml")
#: environment variables that change what the chapters compute (GANCOMP_SCALE, ...)
ENV_PREFIX = "GANCOMP_"
_NOT_INPUTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store"}
_SNAPSHOT = "gancomp-snapshot.json"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _input_files(top: Path):
    if top.is_file():
        yield top
        return
    for path in sorted(top.rglob("*")):
        parts = path.relative_to(top).parts
        if (any(p in _NOT_INPUTS or p.endswith(".egg-info") for p in parts)
                or path.suffix in (".pyc", ".pyo") or not path.is_file()):
            continue
        yield path


def inputs_fingerprint(root: str | Path | None = None) -> str:
    """A digest of everything a chapter's outputs depend on besides its own
    source: the content of every file under :data:`CACHE_INPUTS` (bytecode and
    caches left out) and the ``GANCOMP_*`` environment variables.  Downloaded
    datasets (``data/downloads/`` or ``$GANCOMP_DATA``: large, checksummed when
    fetched) count by name, size and modification time instead of content."""
    root = Path(root or REPO_ROOT).resolve()
    downloads = [root / "data" / "downloads"]
    if os.environ.get("GANCOMP_DATA"):
        downloads.append(Path(os.environ["GANCOMP_DATA"]).expanduser().resolve())
    h = hashlib.sha256()

    def by_stat(path: Path, name: str) -> None:
        st = path.stat()
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())

    for name in CACHE_INPUTS:
        h.update(f"input {name}\n".encode())
        for path in _input_files(root / name):
            rel = path.relative_to(root).as_posix()
            if any(path.is_relative_to(d) for d in downloads):
                by_stat(path, rel)
            else:
                h.update(f"{rel}\0{_digest(path)}\n".encode())
    for d in downloads[1:]:
        if d.is_dir() and not any(d.is_relative_to(root / n) for n in CACHE_INPUTS):
            for path in _input_files(d):
                by_stat(path, str(path))
    for key in sorted(os.environ):
        if key.startswith(ENV_PREFIX):
            h.update(f"env {key}={os.environ[key]}\n".encode())
    return h.hexdigest()


def chapter_stamp(chapter: str | Path, inputs: str, source: str | bytes | None = None) -> dict:
    """What a cache record of ``chapter`` keeps beside the outputs: the digest of
    the chapter's source (``source``: the text that was executed; default: the
    file now) and the :func:`inputs_fingerprint` it ran with."""
    if source is None:
        digest = _digest(Path(chapter))
    else:
        digest = hashlib.sha256(source.encode() if isinstance(source, str) else source).hexdigest()
    return {"gancomp_source": digest, "gancomp_inputs": inputs}


def record_is_current(data: dict | None, uri: str, inputs: str) -> bool:
    """Whether a cache record (its ``data`` and ``uri``) may still be shown: it
    carries a stamp, and neither its chapter's source nor the inputs
    (``inputs``: :func:`inputs_fingerprint` now) changed since it executed."""
    data = data or {}
    path = Path(uri)
    return (data.get("gancomp_inputs") == inputs and path.is_file()
            and data.get("gancomp_source") == _digest(path))


def _cache(root: str | Path | None = None, folder: str | Path | None = None):
    from jupyter_cache import get_cache

    return get_cache(Path(folder) if folder else Path(root or REPO_ROOT) / CACHE_DIR)


def _remove_records(cache, records) -> None:
    from jupyter_cache.cache.db import NbCacheRecord

    for record in records:
        try:
            cache.remove_cache(record.pk)
        except KeyError:  # the notebook file is gone already: drop the row
            NbCacheRecord.remove_records([record.pk], cache.db)


def forget_chapter(chapter: str | Path, root: str | Path | None = None) -> None:
    """Remove every cached execution of ``chapter`` (conftest: before it runs)."""
    folder = Path(root or REPO_ROOT) / CACHE_DIR
    if folder.exists():
        cache = _cache(folder=folder)
        uri = str(Path(chapter).absolute())
        _remove_records(cache, [r for r in cache.list_cache_records() if r.uri == uri])


def cache_executed_chapter(chapter: str | Path, text: str, sources: list[str],
                           outputs: list[list[dict]], inputs: str,
                           seconds: float | None = None, root: str | Path | None = None):
    """Store the outputs nbval produced for ``chapter`` as if the book had run it.

    ``text`` is the chapter's source as it was read for the run, ``sources`` the
    code of the cells that ran and ``outputs`` their outputs, in order.  The
    notebook is read from ``text`` the way myst-nb reads it (so the cache key is
    the one the book computes); if its code cells are not ``sources``, nothing is
    stored.  Returns the record, or None."""
    import nbformat
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import read_myst_markdown_notebook

    chapter = Path(chapter).absolute()
    nb = read_myst_markdown_notebook(text, add_source_map=True, path=str(chapter))
    code = [c for c in nb.cells if c.cell_type == "code"]
    if [c.source for c in code] != list(sources) or len(outputs) != len(code):
        return None  # myst-nb would read other code than the code that ran
    count = 0
    for cell, outs in zip(code, outputs):
        if not cell.source.strip():  # nbclient skips empty cells
            cell.outputs, cell.execution_count = [], None
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(dict(o)) for o in outs]
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = count
    nb.metadata["language_info"] = dict(IPythonKernel.language_info)
    nbformat.validate(nb)
    data = {"execution_seconds": seconds, **chapter_stamp(chapter, inputs, text)}
    return _cache(root).cache_notebook_bundle(
        CacheBundleIn(nb, str(chapter), data=data), check_validity=False, overwrite=True)


def prune_cache(root: str | Path | None = None, folder: str | Path | None = None,
                snapshot: bool = True) -> list[str]:
    """Drop every cache record that is not current (:func:`record_is_current`);
    a database that cannot be read is deleted whole.  With ``snapshot``, also
    note the state now for :func:`stamp_cache`.  Returns what was dropped."""
    root = Path(root or REPO_ROOT).resolve()
    folder = Path(folder) if folder else root / CACHE_DIR
    inputs = inputs_fingerprint(root)
    dropped: list[str] = []
    if folder.exists():
        try:
            cache = _cache(folder=folder)
            stale = [r for r in cache.list_cache_records()
                     if not record_is_current(r.data, r.uri, inputs)]
            _remove_records(cache, stale)
            dropped = [r.uri for r in stale]
        except Exception:  # noqa: BLE001 - a cache we cannot read is no cache
            shutil.rmtree(folder)
            dropped = [str(folder)]
    if snapshot:
        sources = {str(p.absolute()): _digest(p) for p in sorted((root / "nb").glob("*.md"))}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _SNAPSHOT).write_text(json.dumps({"inputs": inputs, "sources": sources}))
    return dropped


def stamp_cache(root: str | Path | None = None, folder: str | Path | None = None) -> list[str]:
    """Stamp the records that carry no stamp (myst-nb's, added while the book
    built) with the state :func:`prune_cache` noted before the build.  A record
    whose chapter or inputs changed meanwhile gets a stamp that is no longer
    current, so the next build drops it.  Returns the stamped URIs."""
    from jupyter_cache.cache.db import NbCacheRecord, session_context

    folder = Path(folder) if folder else Path(root or REPO_ROOT) / CACHE_DIR
    snap_file = folder / _SNAPSHOT
    if not snap_file.exists():
        return []
    snap = json.loads(snap_file.read_text())
    stamped = []
    cache = _cache(folder=folder)
    with session_context(cache.db) as session:
        for record in session.query(NbCacheRecord).all():
            data = dict(record.data or {})
            if "gancomp_inputs" in data or record.uri not in snap["sources"]:
                continue
            data.update(gancomp_source=snap["sources"][record.uri], gancomp_inputs=snap["inputs"])
            record.data = data
            stamped.append(record.uri)
        session.commit()
    snap_file.unlink()
    return stamped


def _anchor_cache_path(app, config) -> None:
    """Read a relative ``execute.cache`` from the book's root, not from the folder
    the build happens to run in (myst-nb would use the latter)."""
    path = config.nb_execution_cache_path
    if path and not Path(path).is_absolute():
        config.nb_execution_cache_path = str(Path(app.srcdir, path))


def _sphinx_cache_folder(app) -> Path | None:
    config = getattr(app.env, "mystnb_config", None)
    if config is None or config.execution_mode != "cache":
        return None
    return Path(config.execution_cache_path).absolute()


def _prune_before_build(app) -> None:
    from sphinx.util import logging

    folder = _sphinx_cache_folder(app)
    if folder is not None:
        dropped = prune_cache(app.srcdir, folder)
        logging.getLogger(__name__).info(
            f"gancomp-lite: execution cache {folder}: dropped {len(dropped)} stale record(s)"
            + "".join(f"\n  {uri}" for uri in dropped))


def fill_downloads(html_dir: str | Path, folder: str | Path) -> list[Path]:
    """Put the cached outputs into the pages' ``.ipynb`` downloads (``_sources/``).

    myst-nb writes the notebook it read, not the one it merged from the cache,
    so a chapter taken from the cache would download without outputs (an
    executed one has them).  Returns the notebooks filled."""
    import nbformat

    cache, filled = _cache(folder=folder), []
    for path in sorted(Path(html_dir, "_sources").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not code or any(c.get("outputs") for c in code):
            continue
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:
            continue
        nbformat.write(merged, path)
        filled.append(path)
    return filled


def _stamp_after_build(app, exception) -> None:  # noqa: ARG001 - Sphinx's signature
    from sphinx.util import logging

    folder = _sphinx_cache_folder(app)
    if folder is not None:
        stamped = stamp_cache(app.srcdir, folder)
        filled = fill_downloads(app.outdir, folder) if app.builder.format == "html" else []
        logging.getLogger(__name__).info(
            f"gancomp-lite: execution cache: stamped {len(stamped)} new record(s), "
            f"put cached outputs into {len(filled)} .ipynb download(s)")


# -- what a reader sees: the built pages checked ----------------------------------
_STDERR = re.compile(r'<div class="[^"]*\bstderr\b[^"]*">(.*?)</div>', re.S)
_WARNING = re.compile(r"\b[A-Z]\w*Warning\b")
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
# a table's rule line left as text: ``|---|``, which Sphinx's smart quotes turn into ``|—|``
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?(?:-{3,}|[\u2014\u2013]+):?\s*\|", re.M)


def page_problems(html: str) -> list[str]:
    """What is wrong with one built page, as a reader would see it: a
    warning printed into a cell's output (a ``...Warning`` in a stderr
    block), or a Markdown table that did not render (its ``|---|`` rule left
    as text in a paragraph).  Empty for a clean page."""
    problems = []
    for block in _STDERR.findall(html):
        text = unescape(re.sub(r"<[^>]+>", "", block))
        hit = _WARNING.search(text)
        if hit:
            line = next(ln for ln in text.splitlines() if hit.group(0) in ln).strip()
            problems.append(f"a warning in a cell's output: {line[:160]}")
    for para in _PARAGRAPH.findall(html):
        text = unescape(re.sub(r"<[^>]+>", "", para))
        if _TABLE_RULE.search(text):
            problems.append(f"a Markdown table shown as text: {text.strip().splitlines()[0][:160]}")
    return problems


def _check_pages(app, exception) -> None:
    """After an HTML build: each problem of :func:`page_problems` in a
    chapter's page is a Sphinx warning (with ``-W``, a failed build)."""
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    for page in sorted(Path(app.outdir).glob("nb/*.html")):
        for problem in page_problems(page.read_text(encoding="utf-8")):
            log.warning(f"{page.relative_to(app.outdir)}: {problem}")


def setup(app):
    """Sphinx extension: keep the execution cache honest around every build,
    and check what the built pages show (:func:`page_problems`)."""
    app.connect("config-inited", _anchor_cache_path)
    app.connect("builder-inited", _prune_before_build, priority=900)  # after myst-nb's
    app.connect("build-finished", _stamp_after_build)
    app.connect("build-finished", _check_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


#: the README's block that :func:`readme_chapter_times` keeps equal to the recorded run
README_MARKS = ("<!-- chapter-times:start (written by `make colab` from data/ -->",
                "<!-- chapter-times:end -->")


def readme_chapter_times(readme: str) -> str:
    """``readme`` with its chapter-times block rewritten from the recorded
    ``bench-chapters`` run (:func:`gancomp_lite.experiments.chapter_cost.markdown`)."""
    from .experiments import chapter_cost

    start, end = README_MARKS
    if start not in readme or end not in readme:
        raise ValueError(f"README.md lacks the chapter-times marks {start!r} ... {end!r}")
    found = chapter_cost.recorded()
    table = chapter_cost.markdown(found[1] if found else None)
    head, rest = readme.split(start, 1)
    return f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancomp_lite.booktools")
    parser.add_argument("command", choices=["sync-colab", "check-colab", "sync-readme",
                                            "prune-cache"])
    args = parser.parse_args(argv)
    if args.command == "prune-cache":
        for uri in prune_cache(snapshot=False):
            print(f"dropped stale execution of {uri}")
        return 0
    if args.command == "sync-readme":
        readme = REPO_ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        new = readme_chapter_times(text)
        if new != text:
            readme.write_text(new, encoding="utf-8")
            print("wrote README.md (chapter times)")
        return 0
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
