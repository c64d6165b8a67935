"""Shipped artifacts: teachers, students and the FID feature network, with manifests.

A shipped file sits in ``data/`` beside a manifest (``NAME.json``) that
records its SHA-256, the exact commands that re-create it, the seed, the code
version that trained it and its metrics.  Loading checks the checksum and
that the weights fit the architecture they are loaded into; either failure is
one :class:`~gancomp_lite.errors.CheckpointError`.  Weights are stored in
half precision (they are small teaching models; the tests check the loss of
precision does not change their outputs visibly).  Explained in chapter
``nb/03_teachers`` (section ``sec-teachers-shipped``).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn

from ..data.download import sha256_of
from ..errors import CheckpointError
from ..models import describe, from_config
from ..paths import DATA_DIR

TEACHER_FORMAT = "gancomp-lite/teacher/1"
STUDENT_FORMAT = "gancomp-lite/student/1"
FEATURES_FORMAT = "gancomp-lite/features/1"
TEACHERS_DIR = DATA_DIR / "teachers"
STUDENTS_DIR = DATA_DIR / "students"
FEATURES_DIR = DATA_DIR / "features"
FEATURES_NAME = "synthetic-features"


def _half(state: dict) -> dict:
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


# -- teachers ------------------------------------------------------------
def teacher_path(task: str, scale: str) -> Path:
    return TEACHERS_DIR / f"{task}-{scale}.pt"


def teacher_payload(objective) -> dict:
    """What ships of a trained objective: the A->B generator and the
    discriminator that judged its outputs (GAN Compression inherits it)."""
    G, D = objective.translator()
    payload = {"format": TEACHER_FORMAT, "objective": type(objective).__name__,
               "generator": {"config": describe(G), "state_dict": _half(G.state_dict())}}
    if D is not None:
        payload["discriminator"] = {"config": describe(D), "state_dict": _half(D.state_dict())}
    return payload


def load_teacher_file(path: str | Path, discriminator: bool = False):
    """The generator (and, if asked, discriminator) of a shipped teacher file."""
    payload = checked_load(path, TEACHER_FORMAT)
    G = load_into(from_config(payload["generator"]["config"]), payload["generator"]["state_dict"],
                  str(path)).eval()
    if not discriminator:
        return G
    if "discriminator" not in payload:
        raise CheckpointError(f"{path} ships no discriminator")
    D = load_into(from_config(payload["discriminator"]["config"]),
                  payload["discriminator"]["state_dict"], str(path)).eval()
    return G, D


# -- students ------------------------------------------------------------
def student_payload(G: nn.Module, objective: str) -> dict:
    """What ships of a trained student: its generator, in half precision."""
    return {"format": STUDENT_FORMAT, "objective": objective,
            "generator": {"config": describe(G), "state_dict": _half(G.state_dict())}}


def load_student(name: str, directory: str | Path | None = None) -> nn.Module:
    """The shipped student ``data/students/NAME.pt`` (checksum verified, eval mode)."""
    path = Path(directory or STUDENTS_DIR) / f"{name}.pt"
    if not path.exists():
        raise CheckpointError(f"{path} is missing: re-create it with the commands in "
                              f"its manifest, or `gancomp-lite distill` + `gancomp-lite export-student`")
    payload = checked_load(path, STUDENT_FORMAT)
    return load_into(from_config(payload["generator"]["config"]), payload["generator"]["state_dict"],
                     str(path)).eval()


# -- the FID feature network ---------------------------------------------
def load_feature_net(path: str | Path | None = None) -> nn.Module:
    """The shipped :class:`~gancomp_lite.metrics.features.SyntheticFeatureNet` (eval mode)."""
    from ..metrics.features import SyntheticFeatureNet

    path = Path(path) if path else FEATURES_DIR / f"{FEATURES_NAME}.pt"
    if not path.exists():
        raise CheckpointError(f"{path} is missing: re-create it with "
                              f"`gancomp-lite train-features --out {path.parent}`")
    payload = checked_load(path, FEATURES_FORMAT)
    net = SyntheticFeatureNet(**payload["config"])
    return load_into(net, payload["state_dict"], str(path)).eval()


def save_feature_net(net: nn.Module, info: dict, out_dir: str | Path, command: str,
                     code_version: str) -> dict:
    payload = {"format": FEATURES_FORMAT, "config": net.config, "state_dict": net.state_dict()}
    return write_shipped(payload, Path(out_dir) / f"{FEATURES_NAME}.pt",
                         {"kind": "FID feature network for the synthetic tasks",
                          "command": command, "seed": info["seed"], "code_version": code_version,
                          "metrics": {"held_out_accuracy": info["held_out_accuracy"]},
                          "recipe": {k: v for k, v in info.items() if k != "held_out_accuracy"}})
