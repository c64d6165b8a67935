"""Shipped files and their manifests: the generic helpers every kind of shipped file uses.

A shipped file ``NAME.pt`` sits beside a manifest ``NAME.json`` that records
its SHA-256 and size first, then whatever its kind records (commands, seed,
code version, metrics).  :func:`write_shipped` writes both;
:func:`checked_load` reads a file back only if its checksum and format match;
:func:`load_into` loads weights only if every key and shape fits the model.
Each failure is one :class:`~gancomp_lite.errors.CheckpointError`.  The kinds
live with what they hold: teachers and students in
:mod:`gancomp_lite.training.checkpoint`, the FID feature network in
:mod:`gancomp_lite.metrics.features`.  Explained in chapter ``nb/03_teachers``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn

from .errors import CheckpointError
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
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"cannot read {path}: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise CheckpointError(f"{path} is not a {expected_format} file")
    return payload


def write_shipped(payload: dict, path: Path, manifest: dict) -> dict:
    """Save ``payload`` to ``path`` and its manifest (with size and SHA-256) beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return write_manifest(path, manifest)


def write_manifest(path: Path, manifest: dict) -> dict:
    """Write ``path``'s manifest (its size and SHA-256 first, then ``manifest``)."""
    manifest = {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
                **manifest}
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
