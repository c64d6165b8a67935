"""How good is an image translator: FID, paired metrics, and the oracle error.

* :func:`fid`: Fréchet distance between feature statistics of two image sets
  {cite:p}`heusel2017gans`, through torchmetrics, with a pluggable feature
  extractor (the synthetic one offline, Inception at ``small``/``full``).
  Generated images are quantised to 8 bits first, as in the official protocol.
* :func:`paired_metrics`: L1, PSNR and SSIM against paired targets.
* :func:`oracle_error`: for the ``stripes`` world, L1 to the oracle, the
  true target of an unpaired translation (only a synthetic world has one).
* :func:`evaluate`: all that applies to a task, with the trivial baselines
  every model must beat.

Explained in chapter ``nb/03_teachers`` (section ``sec-teachers-eval``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> [0, 1], quantised to 8 bits."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round() / 255.0


@lru_cache(maxsize=4)
def _feature_extractor(kind: str) -> nn.Module:
    if kind == "synthetic":
        from ..training.checkpoint import load_feature_net
        return load_feature_net()
    if kind == "inception":
        from .features import inception_features
        return inception_features()
    raise GancompError(f"unknown FID features {kind!r}: expected 'synthetic' or 'inception'")


def default_features(scale=None) -> str:
    """``inception`` where the scale uses real data, else ``synthetic``."""
    from ..config import get_scale

    return "inception" if get_scale(scale).real_data else "synthetic"


@torch.no_grad()
def fid(real: torch.Tensor | Iterable[torch.Tensor], fake: torch.Tensor | Iterable[torch.Tensor],
        features: str | nn.Module = "synthetic", batch_size: int = 64) -> float:
    """FID between ``real`` and ``fake`` images (tensors ``N x 3 x H x W`` in [-1, 1]).

    ``features`` is ``"synthetic"``, ``"inception"`` or any module mapping
    ``[0, 1]`` images to ``N x d`` features (with a ``num_features`` attribute).
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    extractor = _feature_extractor(features) if isinstance(features, str) else features
    device = next(extractor.parameters()).device
    metric = FrechetInceptionDistance(feature=extractor, normalize=True).to(device)
    metric.inception.eval()
    for images, real_flag in ((real, True), (fake, False)):
        batches = images.split(batch_size) if isinstance(images, torch.Tensor) else images
        count = 0
        for batch in batches:
            metric.update(_to_unit(batch.to(device)), real=real_flag)
            count += len(batch)
        if count < 2:
            raise GancompError(f"FID needs at least 2 images per set, got {count}")
    return float(metric.compute())


@torch.no_grad()
def paired_metrics(fake: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Mean L1 (on [-1, 1]), PSNR (dB) and SSIM (on [0, 1]) of ``fake`` vs ``target``."""
    from torchmetrics.functional.image import (peak_signal_noise_ratio,
                                               structural_similarity_index_measure)

    if fake.shape != target.shape:
        raise GancompError(f"paired metrics need equal shapes, got {tuple(fake.shape)} and "
                           f"{tuple(target.shape)}")
    a, b = _to_unit(fake), _to_unit(target)
    return {"l1": float(F.l1_loss(fake.clamp(-1, 1), target)),
            "psnr": float(peak_signal_noise_ratio(a, b, data_range=1.0)),
            "ssim": float(structural_similarity_index_measure(a, b, data_range=1.0))}


@torch.no_grad()
def oracle_error(fake: torch.Tensor, oracle: torch.Tensor) -> float:
    """Mean L1 between translations and the oracle's true targets (stripes)."""
    return float(F.l1_loss(fake.clamp(-1, 1), oracle))


@torch.no_grad()
def translate(generator: nn.Module, images: torch.Tensor, batch_size: int = 16,
              device=None) -> torch.Tensor:
    """Run ``generator`` (in eval mode) over ``images`` in batches; CPU result."""
    device = device or next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        out = [generator(b.to(device)).cpu() for b in images.split(batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(out)


def test_set(task: str, n: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """The evaluation images of a synthetic ``task``: its test split as tensors.

    Keys ``A`` and ``B``; for the unpaired ``stripes`` task ``B`` holds
    independent domain-B images and ``B_oracle`` the true targets of ``A``.
    """
    from torch.utils.data import default_collate

    from ..data import WORLDS, open_dataset

    ds = open_dataset(task, phase="test", n=n, size=size, seed=seed)
    batch = default_collate([ds[i] for i in range(len(ds))])
    keys = ["A", "B"] + (["B_oracle"] if not WORLDS[task].aligned else [])
    return {k: batch[k] for k in keys}


def evaluate(generator: nn.Module, task: str, n: int = 64, size: int = 64, seed: int = 0,
             features: str | nn.Module = "synthetic", baselines: bool = True,
             data: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
    """Quality of ``generator`` on the test split of a synthetic ``task``.

    stripes: ``fid`` of G(A) vs B and ``oracle_l1``; paired tasks: ``fid``
    of G(A) vs B and ``l1``/``psnr``/``ssim`` to B.  With ``baselines``,
    also the same numbers for trivial translators: the input itself
    (``identity_*``) and, for paired tasks, the mean target image
    (``mean_target_*``).
    """
    from ..data import WORLDS

    data = data or test_set(task, n, size, seed)
    fake = translate(generator, data["A"])
    out: dict[str, float] = {"n": float(len(fake)), "fid": fid(data["B"], fake, features)}
    if not WORLDS[task].aligned:
        out["oracle_l1"] = oracle_error(fake, data["B_oracle"])
        if baselines:
            out["identity_fid"] = fid(data["B"], data["A"], features)
            out["identity_oracle_l1"] = oracle_error(data["A"], data["B_oracle"])
        return out
    out.update(paired_metrics(fake, data["B"]))
    if baselines:
        out["identity_fid"] = fid(data["B"], data["A"], features)
        out.update({f"identity_{k}": v for k, v in paired_metrics(data["A"], data["B"]).items()})
        mean = data["B"].mean(0, keepdim=True).expand_as(data["B"])
        out["mean_target_fid"] = fid(data["B"], mean, features)
        out.update({f"mean_target_{k}": v for k, v in paired_metrics(mean, data["B"]).items()})
    return out
