"""How fast the distiller trains: a benchmark, never a timed test.

The configuration is GAN Compression's own distillation benchmark setting,
so the number compares with the official code run on the same machine:
pix2pix (hinge GAN, L1 100, MSE feature distillation at the four default
layers), a frozen ResNet ngf-64 teacher, a Mobile ResNet ngf-16 student, a
conditional PatchGAN with ndf 128, batch 4, 64x64 crops of the synthetic
``edges2shapes`` task, two CPU threads by default.  Weights are random:
speed does not depend on them.  After ``warmup`` untimed steps it times
``repeats`` runs of ``steps`` steps and reports the median iterations per
second, with the spread.  ``gancomp-lite bench-train`` prints it with and
without the :class:`~gancomp_lite.training.distill.TeacherCache`.

The training set holds ``4 * warmup`` items, so the warm-up is one epoch:
with the cache on, the timed steps are later epochs, where every input has
been seen and the teacher does not run (the steady state of a ``ci`` run
after its first epoch); with it off, the teacher runs on every step, as in
the first epoch or wherever inputs never repeat.  What is computed is the
same either way.
Explained in chapter ``nb/06_distillation``.
"""
from __future__ import annotations

import statistics
import time

import torch


def benchmark(threads: int = 2, warmup: int = 5, repeats: int = 3, steps: int = 5,
              channels_last: bool = False, device: str = "cpu", teacher_cache: bool = True,
              amp: str | None = None) -> dict:
    """Iterations per second of :class:`~gancomp_lite.training.distill.DistillObjective`
    in the benchmark configuration (see the module docstring); ``amp``: the
    trainer's mixed precision (``bf16``, ``fp16``; default float32), which
    pays on a CPU only where it has bfloat16 instructions (AVX512-BF16, AMX)."""
    from ..config import seed_everything
    from ..data import open_dataset
    from ..errors import GancompError
    from ..models import NLayerDiscriminator, build_generator
    from ..training.distill import DistillObjective
    from ..training.loop import Trainer

    for name, value in (("threads", threads), ("repeats", repeats), ("steps", steps)):
        if value < 1:
            raise GancompError(f"--{name} must be a positive integer, got {value}")
    if warmup < 1:
        raise GancompError(f"--warmup must be >= 1 (one epoch of the benchmark's data), got {warmup}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seed_everything(0)
        objective = DistillObjective(build_generator("resnet", ngf=64),
                                     build_generator("mobile_resnet", ngf=16),
                                     NLayerDiscriminator(6, ndf=128), paired=True, gan_mode="hinge",
                                     lambda_recon=100.0, lambda_distill=1.0, image_size=64,
                                     teacher_cache_mb=1024 if teacher_cache else 0)
        if channels_last:
            objective = objective.to(memory_format=torch.channels_last)
        data = open_dataset("edges2shapes", phase="train", n=4 * warmup, size=64, seed=0)
        trainer = Trainer(objective, data, warmup + repeats * steps + 1, batch_size=4, seed=0,
                          device=device, progress=False, amp=amp)
        for _ in range(warmup):
            trainer.train_step()
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            rates.append(steps / (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(before)
    return {"config": "pix2pix distill: ResNet ngf64 teacher (frozen), Mobile ngf16 student, "
                      "PatchGAN ndf128 (conditional), hinge, batch 4, 64x64",
            "threads": threads, "device": device, "channels_last": channels_last,
            "amp": amp or "float32", "teacher_cache": teacher_cache, "cache": objective.teacher_cache.stats(),
            "warmup_steps": warmup, "steps_per_repeat": steps, "repeats": repeats,
            "it_per_s": statistics.median(rates), "it_per_s_min": min(rates),
            "it_per_s_max": max(rates), "torch": torch.__version__}


def describe(report: dict) -> str:
    """One line per fact of a :func:`benchmark` report."""
    return (f"{report['config']}\n"
            f"threads {report['threads']}, device {report['device']}, precision "
            f"{report.get('amp', 'float32')}, channels_last "
            f"{report['channels_last']}, teacher cache {'on' if report['teacher_cache'] else 'off'}, "
            f"torch {report['torch']}\n"
            f"{report['it_per_s']:.3f} it/s (median of {report['repeats']} x {report['steps_per_repeat']} "
            f"steps after {report['warmup_steps']} warm-up; range {report['it_per_s_min']:.3f}-"
            f"{report['it_per_s_max']:.3f})")
