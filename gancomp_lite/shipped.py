"""Shipped files and their manifests: the generic helpers every kind of shipped file uses.

A shipped file ``NAME.pt`` sits beside a manifest ``NAME.json`` that records
its SHA-256 and size first, then whatever its kind records (commands, seed,
code version, metrics).  :func:`write_shipped` writes both;
:func:`checked_load` reads a file back only if its checksum and format match;
:func:`load_into` loads weights only if every key and shape fits the model.
Each failure is one :class:`~gancomp_lite.errors.CheckpointError`.

Writing follows one rule (:func:`staged`): an existing file is replaced only
when the caller says ``force``, and the new file and its manifest are written
under temporary names and moved into place only when everything (the
evaluation of the written weights included) has succeeded, so a failure
leaves nothing half-written behind.  :func:`check_name` keeps a user-given
name inside its output folder.  The kinds
live with what they hold: teachers and students in
:mod:`gancomp_lite.training.checkpoint`, the FID feature network in
:mod:`gancomp_lite.metrics.features`.  Explained in chapter ``nb/03_teachers``.
"""
from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
import torch.nn as nn

from .errors import CheckpointError, GancompError, OutputExistsError
from .provenance import sha256_of


def _half(state: dict) -> dict:
    """``state`` with its floating-point tensors in half precision (how weights ship)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def load_into(model: nn.Module, state: dict, source: str) -> nn.Module:
    """Load ``state`` into ``model`` after checking every key and shape.

    A missing or unexpected key, or a shape that differs, raises one
    :class:`CheckpointError` that names ``source`` and the first mismatches.
    """
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in own]
    problems += [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                 for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise CheckpointError(f"{source} does not match {type(model).__name__}: "
                              + "; ".join(problems[:5]) + more)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model


def read_manifest(path: Path) -> dict:
    """The manifest ``NAME.json`` beside the shipped file ``path``."""
    manifest = path.with_suffix(".json")
    if not manifest.exists():
        raise CheckpointError(f"{path} has no manifest {manifest.name} beside it")
    return json.loads(manifest.read_text())


def checked_load(path: str | Path, expected_format: str) -> dict:
    """``torch.load`` a shipped file after verifying its manifest checksum."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    manifest = read_manifest(path)
    digest = sha256_of(path)
    if digest != manifest.get("sha256"):
        raise CheckpointError(f"{path} fails its checksum: sha256 {digest}, manifest says "
                              f"{manifest.get('sha256')}; the file is corrupt or was replaced")
    payload = read_torch_file(path)
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise CheckpointError(f"{path} is not a {expected_format} file")
    return payload


def read_torch_file(path: str | Path, weights_only: bool = True, map_location="cpu"):
    """``torch.load`` with one short :class:`~gancomp_lite.errors.CheckpointError`
    for a missing, truncated or foreign file (torch's own multi-line advice is
    kept out of the message; ``--debug`` shows it as the cause)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as err:  # noqa: BLE001 - any unreadable file is one error
        raise CheckpointError(f"cannot read {path}: not a PyTorch file this package wrote, "
                              f"or a corrupt one ({type(err).__name__})") from err


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is a plain file name (letters, digits, ``.``, ``_``, ``-``,
    not starting with a dot); anything that could leave the output folder or
    hide a file is a :class:`~gancomp_lite.errors.GancompError`."""
    if not name or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name):
        raise GancompError(f"bad {what} {name!r}: use letters, digits, '.', '_' and '-' "
                           f"(not starting with '.'), no folders")
    return name


def refuse_existing(paths, force: bool) -> None:
    """Raise :class:`~gancomp_lite.errors.OutputExistsError` if any of ``paths``
    exists and ``force`` is not set."""
    if force:
        return
    for p in paths:
        if Path(p).exists():
            raise OutputExistsError(f"{p} exists: pass --force (force=True) to replace it, "
                                    f"or write elsewhere (--out)")


@contextmanager
def staged(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Write the shipped file ``path`` (and its manifest) safely.

    Refuses an existing ``path`` or manifest unless ``force``.  Yields a
    temporary path beside ``path``: write the file and its manifest there
    (:func:`write_shipped`, :func:`write_manifest` with ``name=path.name``).
    When the block ends without error both are moved into place; when it
    raises, both temporary files are removed and the old files stay as they were.
    """
    path = Path(path)
    refuse_existing([path, path.with_suffix(".json")], force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if not tmp.exists() or not tmp.with_suffix(".json").exists():
            raise GancompError(f"internal: {tmp.name} or its manifest was not written")
        os.replace(tmp, path)
        os.replace(tmp.with_suffix(".json"), path.with_suffix(".json"))
    finally:
        for leftover in (tmp, tmp.with_suffix(".json")):
            leftover.unlink(missing_ok=True)


def write_shipped(payload: dict, path: Path, manifest: dict, name: str | None = None) -> dict:
    """Save ``payload`` to ``path`` and its manifest (with size and SHA-256) beside it
    (``name``: the file name the manifest records, when ``path`` is a staged one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return write_manifest(path, manifest, name)


def write_manifest(path: Path, manifest: dict, name: str | None = None) -> dict:
    """Write ``path``'s manifest (its size and SHA-256 first, then ``manifest``)."""
    manifest = {"file": name or path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
                **manifest}
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
