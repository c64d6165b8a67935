"""Shipped teachers and students, with manifests.

A shipped file sits in ``data/`` beside a manifest (``NAME.json``) that
records its SHA-256, the exact commands that re-create it, the seed, the code
version that trained it and its metrics.  Loading checks the checksum and
that the weights fit the architecture they are loaded into; either failure is
one :class:`~gancomp_lite.errors.CheckpointError` (the generic helpers live in
:mod:`gancomp_lite.shipped`; the FID feature network ships through
:mod:`gancomp_lite.metrics.features`).  Weights are stored in half precision
(they are small teaching models; the tests check the loss of precision does
not change their outputs visibly).  Explained in chapter ``nb/03_teachers``
(section ``sec-teachers-shipped``).
"""
from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from ..errors import CheckpointError
from ..models import describe, from_config
from ..paths import DATA_DIR
from ..shipped import _half, checked_load, load_into
from ..shipped import read_manifest  # noqa: F401 - re-exported: a shipped file's manifest

TEACHER_FORMAT = "gancomp-lite/teacher/1"
STUDENT_FORMAT = "gancomp-lite/student/1"
TEACHERS_DIR = DATA_DIR / "teachers"
STUDENTS_DIR = DATA_DIR / "students"
SUPERNETS_DIR = DATA_DIR / "supernets"


# -- teachers ------------------------------------------------------------
def teacher_file_name(task: str, scale: str, arch: str = "resnet") -> str:
    """``TASK-SCALE.pt`` for GAN Compression's ResNet teachers, ``TASK-ARCH-SCALE.pt`` otherwise."""
    return f"{task}-{scale}.pt" if arch == "resnet" else f"{task}-{arch}-{scale}.pt"


def teacher_scale_name(scale: str) -> str:
    """The scale whose shipped teachers ``scale`` loads (``small``: ``ci``; others: their own)."""
    from ..config import SCALES

    return SCALES[scale].teacher_scale if scale in SCALES else scale


def teacher_path(task: str, scale: str, arch: str = "resnet") -> Path:
    """The shipped teacher a run at ``scale`` loads (``small`` loads ``ci``'s)."""
    return TEACHERS_DIR / teacher_file_name(task, teacher_scale_name(scale), arch)


def require_teacher_file(path: Path, task: str, scale: str) -> Path:
    """``path`` if it exists, else one error naming the commands that make it."""
    if Path(path).exists():
        return Path(path)
    scale = teacher_scale_name(scale)
    data = " --data FOLDER" if scale != "ci" else ""
    raise CheckpointError(
        f"no {task} teacher at {path}: train one (`gancomp-lite train {task} --scale {scale}{data} "
        f"--out runs/{task}-{scale}`), ship it (`gancomp-lite export-teacher runs/{task}-{scale} "
        f"--out {Path(path).parent}`), or pass another teacher file (--teacher)")


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
def student_payload(G: nn.Module, objective: str, half: bool = True) -> dict:
    """What ships of a trained student: its generator, in half precision
    (``half=False``: as it is, for weights converted from another file)."""
    state = G.state_dict()
    return {"format": STUDENT_FORMAT, "objective": objective,
            "generator": {"config": describe(G), "state_dict": _half(state) if half else state}}


def load_student(name: str, directory: str | Path | None = None) -> nn.Module:
    """The shipped student ``data/students/NAME.pt`` (checksum verified, eval mode)."""
    path = Path(directory or STUDENTS_DIR) / f"{name}.pt"
    if not path.exists():
        raise CheckpointError(f"{path} is missing: re-create it with the commands in "
                              f"its manifest, or `gancomp-lite distill` + `gancomp-lite export-student`")
    return load_student_file(path)


def load_generator_file(path: str | Path) -> nn.Module:
    """The generator of any shipped teacher, student, pruned-network, supernet or
    subnet file (checksum verified)."""
    manifest = read_manifest(Path(path)) if Path(path).with_suffix(".json").exists() else {}
    kind = str(manifest.get("kind", ""))
    students = kind.endswith("student") or kind in (SUBNET_KIND, SUPERNET_KIND, OFFICIAL_KIND)
    return load_student_file(path) if students else load_teacher_file(path)


def load_student_file(path: str | Path) -> nn.Module:
    """The generator of a shipped student file (checksum verified, eval mode)."""
    payload = checked_load(path, STUDENT_FORMAT)
    return load_into(from_config(payload["generator"]["config"]), payload["generator"]["state_dict"],
                     str(path)).eval()


# -- one-step pruned networks (CAT) ----------------------------------------
PRUNED_KIND = "one-step pruned student"
INHERITED = "inherited from the teacher"


def save_network(net: nn.Module, out: str | Path, objective: str, manifest: dict, what: str,
                 force: bool = False, half: bool = True) -> tuple[Path, dict]:
    """Write ``net`` to ``out`` (a ``.pt`` file in the students' format: half
    precision, checksummed) with ``manifest`` beside it, staged so that a
    failure leaves nothing behind; an existing file is kept unless ``force``.
    ``what`` names the network in the error for another suffix.  Returns the
    path and the manifest as written."""
    from ..shipped import refuse_existing, staged, write_manifest, write_shipped

    out = Path(out)
    if out.suffix != ".pt":
        raise CheckpointError(f"{what} is written to a .pt file, got {out}")
    refuse_existing([out, out.with_suffix(".json")], force)
    with staged(out, force) as tmp:
        write_shipped(student_payload(net, objective, half), tmp, {}, name=out.name)
        return out, write_manifest(tmp, manifest, name=out.name)


def _file_record(path: str | Path | None) -> dict | None:
    from ..provenance import sha256_of

    return None if path is None else {"file": Path(path).name, "sha256": sha256_of(Path(path))}


def save_pruned(student: nn.Module, report, out: str | Path, teacher_file: str | Path | None,
                inherit: bool, command: str, costs: dict | None = None,
                force: bool = False) -> Path:
    """Write the network of a one-step pruning
    (:func:`~gancomp_lite.compression.one_step.one_step_prune`) to ``out``
    (a ``.pt`` file in the students' format) with a manifest naming its teacher's
    file (``teacher_file``; ``None`` for a teacher never saved to one, such as
    one trained in a notebook), whether its weights are the teacher's
    (``inherit``) or to be re-initialised, the command, the code version, the
    pruning report and ``costs``.  An existing file is kept unless ``force``."""
    from ..provenance import code_version

    return save_network(student, out, "one-step-prune", {
        "kind": PRUNED_KIND, "teacher": _file_record(teacher_file),
        "weights": INHERITED if inherit else "re-initialised", "command": command,
        "code_version": code_version(), "prune": report.as_dict(), "costs": costs or {}},
        "a pruned network", force)[0]


def load_pruned(path: str | Path) -> tuple[nn.Module, bool]:
    """The network of a file written by :func:`save_pruned` (or an exported
    once-for-all subnet, :func:`save_subnet`) and whether its weights are kept
    (``True``: the teacher's kept channels, or the supernet's slice) or meant
    to be re-initialised."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("kind") == SUBNET_KIND:
        return load_student_file(path), True
    if manifest.get("kind") != PRUNED_KIND:
        raise CheckpointError(f"{path} is not a network written by `gancomp-lite prune` or "
                              f"`gancomp-lite export-subnet`")
    return load_student_file(path), manifest.get("weights") == INHERITED


# -- once-for-all supernets and their subnets (GAN Compression) ------------
SUPERNET_KIND = "once-for-all supernet"
#: the kind of a generator converted from an official release (:mod:`gancomp_lite.training.official`)
OFFICIAL_KIND = "converted official generator"
SUBNET_KIND = "once-for-all subnet"


def save_supernet(supernet: nn.Module, out: str | Path, manifest: dict, force: bool = False) -> dict:
    """Write a trained supernet to ``out`` (``.pt``, half precision, the
    students' format) with ``manifest`` (its recipe, commands, code version)
    beside it; an existing file is kept unless ``force``.  Returns the manifest."""
    return save_network(supernet, out, "supernet", {"kind": SUPERNET_KIND, **manifest},
                        "a supernet", force)[1]


def load_supernet(path: str | Path) -> tuple[nn.Module, dict]:
    """The supernet of a file written by :func:`save_supernet` (checksum
    verified, eval mode) and its manifest; any other file is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing: train a supernet (`gancomp-lite train-supernet`)")
    manifest = read_manifest(path)
    if manifest.get("kind") != SUPERNET_KIND:
        raise CheckpointError(f"{path} is not a supernet written by `gancomp-lite train-supernet`")
    return load_student_file(path), manifest


def save_subnet(subnet: nn.Module, out: str | Path, config: str, supernet_file: str | Path | None,
                command: str, costs: dict | None = None, force: bool = False) -> Path:
    """Write an exported subnet to ``out`` (``.pt``) with a manifest naming
    its configuration and supernet file (with its SHA-256), the command, the
    code version and ``costs``.  ``gancomp-lite distill --student-from`` fine-tunes
    it from these weights.  An existing file is kept unless ``force``."""
    from ..provenance import code_version

    return save_network(subnet, out, "export-subnet", {
        "kind": SUBNET_KIND, "config": config, "supernet": _file_record(supernet_file),
        "command": command, "code_version": code_version(), "costs": costs or {}},
        "a subnet", force)[0]
