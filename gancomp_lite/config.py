"""The scale switch, the device and seeding: read in one place.

``GANCOMP_SCALE`` chooses how big every experiment is:

* ``ci``: two CPU cores, each chapter within about 2.5 minutes;
* ``small``: a Colab GPU: the ``ci`` tasks, with the shipped ``ci`` teachers
  (so nothing trains a teacher on Colab) and the chapters' live experiments
  run for thousands of steps;
* ``full``: the papers' settings (256x256 images, ngf 64, paper schedules,
  real datasets).

The same code path serves all three; only the numbers in :class:`Scale`
change.  This module is the only place that reads the variable.  Explained in
the introduction of the book (section ``sec-intro-scale``).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, asdict

import numpy as np
import torch

from .errors import ScaleError

ENV_VAR = "GANCOMP_SCALE"
DEFAULT_SCALE = "ci"


@dataclass(frozen=True)
class Scale:
    """The numbers that differ between the ``ci``, ``small`` and ``full`` runs."""

    name: str
    #: side of the square images every chapter trains and evaluates on
    image_size: int
    #: width (ngf) of the teacher generators
    teacher_ngf: int
    #: training / test images drawn from each synthetic task (per domain;
    #: generated on the fly, so this costs no disk).  ``n_test`` is what
    #: every quality number is measured on: at ``ci`` 512 images, four per
    #: dimension of the 128-d FID features, so the covariance FID needs is
    #: well estimated (64 images left it rank-deficient and FID saturated)
    n_train: int
    n_test: int
    #: mini-batch size of the training loops
    batch_size: int
    #: timed forward passes of a latency benchmark (after as many warm-ups)
    latency_runs: int
    #: True where chapters use real datasets and pretrained weights
    real_data: bool
    #: memory (MiB) the distiller may spend keeping a frozen teacher's outputs
    #: for inputs it has seen (an input seen again is not recomputed); 0 turns
    #: it off.  Only ``ci`` uses it: its synthetic items repeat exactly every
    #: epoch, while the papers' random crops rarely repeat and GPU memory is
    #: better spent on batches
    teacher_cache_mb: int = 0
    #: the scale whose teachers this scale uses (its recipe, its shipped
    #: files): ``small`` uses the ``ci`` teachers, so a Colab run loads them
    #: instead of training three teachers first; empty: the scale's own
    teachers: str = ""

    @property
    def teacher_scale(self) -> str:
        """The name of the scale whose teacher recipes and files this scale uses."""
        return self.teachers or self.name

    def teacher_source(self) -> "Scale":
        """The scale whose teachers this one uses: itself (a modified copy
        included), or the registered scale it names (``small``: ``ci``)."""
        return self if self.teacher_scale == self.name else get_scale(self.teacher_scale)

    def as_dict(self) -> dict:
        return asdict(self)


SCALES = {
    "ci": Scale("ci", image_size=64, teacher_ngf=16, n_train=1000, n_test=512,
                batch_size=4, latency_runs=3, real_data=False, teacher_cache_mb=1024),
    # the ci tasks, sizes and teachers; more training images, the live
    # experiments' longer schedules (each chapter's table) and more timed runs
    "small": Scale("small", image_size=64, teacher_ngf=16, n_train=5000,
                   n_test=512, batch_size=4, latency_runs=20,
                   real_data=False, teachers="ci"),
    "full": Scale("full", image_size=256, teacher_ngf=64, n_train=0,
                  n_test=0, batch_size=1, latency_runs=100, real_data=True),
}


def get_scale(name: str | None = None) -> Scale:
    """Return the :class:`Scale` named by ``name`` or by ``$GANCOMP_SCALE``.

    Unset means ``ci``.  Any other value raises :class:`ScaleError`.
    """
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or DEFAULT_SCALE
    key = str(name).strip().lower()
    if key not in SCALES:
        raise ScaleError(
            f"unknown scale {name!r} (from {ENV_VAR} or a scale= argument): "
            f"expected one of {', '.join(SCALES)}")
    return SCALES[key]


def get_device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (for example ``"cpu"``) overrides the choice.  No code in the
    package names a CUDA device index.
    """
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def describe(scale: Scale | None = None, device: torch.device | None = None) -> str:
    """One line naming the scale and device: every chapter prints it first."""
    scale = scale or get_scale()
    device = device or get_device()
    line = (f"gancomp-lite scale={scale.name} (image {scale.image_size}px, "
            f"teacher ngf {scale.teacher_ngf}) | device={device} | "
            f"torch {torch.__version__} | threads {torch.get_num_threads()}")
    return line
