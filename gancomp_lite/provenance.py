"""Provenance: which code made a file, and refusing to ship from uncommitted code.

Every shipped file (``data/teachers``, ``data/students``, ``data/features``)
and every recorded result (``data/results``) names the code version that made
it: the git commit of the package's repository.  That record only holds if
the commit *is* the code that ran, so the commands that ship something refuse
to run from a package tree with uncommitted changes (:func:`require_clean`),
or to export a run whose recorded version was such a tree
(:func:`require_clean_run`), unless told ``--allow-dirty``, in which case the
manifest says so (``"allow_dirty": true``).  Files are checked on load against
the SHA-256 their manifest records (:func:`sha256_of`).  Chapter
``nb/03_teachers`` explains the shipped files and their manifests.

A bottom-layer module: it imports only :mod:`gancomp_lite.errors`,
:mod:`gancomp_lite.paths` and the standard library.
"""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Iterable

from .errors import GancompError
from . import paths

DIRTY = "+dirty"


class DirtyTreeError(GancompError):
    """The package tree, or the run being exported, has uncommitted changes."""


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 (hex) of the file at ``path``, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gancomp-lite")
    except metadata.PackageNotFoundError:
        return "(unknown version)"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=True).stdout


def code_version(root: str | Path | None = None) -> str:
    """The git commit of the repository at ``root`` (default: the package's,
    :data:`gancomp_lite.paths.REPO_ROOT`), with ``+dirty`` appended when the
    package's code there (``root/gancomp_lite``: changed, staged, deleted or
    new files git does not ignore) differs from that commit; the package
    version, marked ``(no git)``, when ``root`` is not the top of a git
    checkout (an installed package)."""
    root = Path(root) if root is not None else paths.REPO_ROOT
    try:
        top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        if top.resolve() != root.resolve():
            raise subprocess.CalledProcessError(1, "git")  # inside some other repository
        commit = _git(root, "rev-parse", "HEAD").strip()
        dirty = _git(root, "status", "--porcelain", "--untracked-files=normal", "--",
                     "gancomp_lite")
    except (OSError, subprocess.CalledProcessError):
        return f"gancomp-lite {_package_version()} (no git)"
    return commit + (DIRTY if dirty.strip() else "")


def is_dirty(version: str | None) -> bool:
    """Whether a recorded code version says the code had uncommitted changes."""
    return bool(version) and version.endswith(DIRTY)


def same_package(recorded: str | None, current: str | None, root: str | Path | None = None) -> bool:
    """Whether two code versions ran the same package: the same clean commit,
    or two clean commits whose ``gancomp_lite/`` trees are identical (commits
    that changed only chapters, data or documentation).  A dirty or unknown
    version is never the same as anything."""
    if not recorded or not current or is_dirty(recorded) or is_dirty(current):
        return False
    if recorded == current:
        return True
    root = Path(root) if root is not None else paths.REPO_ROOT
    try:
        return not _git(root, "diff", "--name-only", recorded, current, "--", "gancomp_lite").strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False


def require_clean(allow_dirty: bool = False, what: str = "this command",
                  root: str | Path | None = None) -> str:
    """The current :func:`code_version` (of ``root``, default the package's);
    raises :class:`DirtyTreeError` when it is ``+dirty``, unless ``allow_dirty``."""
    version = code_version(root)
    if is_dirty(version) and not allow_dirty:
        raise DirtyTreeError(
            f"refusing to {what} from a package tree with uncommitted changes (code version "
            f"{version}): commit them first, or pass --allow-dirty (the manifest then records it)")
    return version


def require_clean_run(recorded: str | Iterable[str | None] | None, run: str | Path,
                      allow_dirty: bool = False, what: str = "this command") -> None:
    """Raise :class:`DirtyTreeError` when any code version that ``run`` recorded
    (one string or several, e.g. one per resumed session) is ``+dirty``,
    unless ``allow_dirty``.  A run that recorded none passes."""
    versions = [recorded] if isinstance(recorded, str) or recorded is None else list(recorded)
    dirty = [v for v in versions if is_dirty(v)]
    if dirty and not allow_dirty:
        raise DirtyTreeError(
            f"refusing to {what}: {Path(run).as_posix()} was made by code with uncommitted "
            f"changes (code version {dirty[0]}): re-run it from a committed tree, or pass "
            f"--allow-dirty (the manifest then records it)")
