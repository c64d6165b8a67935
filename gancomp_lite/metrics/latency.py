"""Latency benchmarks: wall-clock time of a generator's forward pass.

A benchmark *reports* a time; no test asserts one (timings depend on the
machine and on what else it is doing).  On CUDA the device is synchronised
around each timed call.  Explained in chapter ``nb/01_cost`` (section
``sec-cost-latency``).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..config import get_device


@dataclass(frozen=True)
class Latency:
    """Seconds per forward pass over ``runs`` timed calls (after ``warmup``)."""

    median_s: float
    min_s: float
    max_s: float
    runs: int
    warmup: int
    batch_size: int
    input_size: tuple[int, int]
    device: str
    threads: int

    def as_dict(self) -> dict:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    def __str__(self) -> str:
        return (f"median {self.median_s * 1e3:.1f} ms (min {self.min_s * 1e3:.1f}, "
                f"max {self.max_s * 1e3:.1f}) per batch of {self.batch_size} at "
                f"{self.input_size[0]}x{self.input_size[1]}, {self.runs} runs on "
                f"{self.device} ({self.threads} threads)")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(model: nn.Module, size=(256, 256), batch_size: int = 1, runs: int = 10,
                    warmup: int | None = None, device: torch.device | str | None = None,
                    in_channels: int = 3, progress: bool = False) -> Latency:
    """Time ``runs`` forward passes of ``model`` on random input.

    ``warmup`` untimed passes come first (default: as many as ``runs``, at
    least one).  The model is moved to ``device`` (default: the best
    available) and put in eval mode; its original mode is restored.
    """
    if isinstance(size, int):
        size = (size, size)
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    device = torch.device(device) if device is not None else get_device()
    warmup = max(1, runs if warmup is None else warmup)
    was_training = model.training
    model = model.to(device).eval()
    x = torch.randn(batch_size, in_channels, *size, device=device)
    times = []
    try:
        for _ in range(warmup):
            model(x)
        _sync(device)
        for _ in tqdm(range(runs), desc="latency", disable=not progress, leave=False):
            _sync(device)
            t0 = time.perf_counter()
            model(x)
            _sync(device)
            times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return Latency(median_s=statistics.median(times), min_s=min(times), max_s=max(times),
                   runs=runs, warmup=warmup, batch_size=batch_size,
                   input_size=(int(size[0]), int(size[1])), device=str(device),
                   threads=torch.get_num_threads())
