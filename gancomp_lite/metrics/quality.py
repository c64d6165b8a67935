"""How good is an image translator: FID, paired metrics, and the oracle error.

* :func:`fid`: Fréchet distance between feature statistics of two image sets
  {cite:p}`heusel2017gans`, through torchmetrics, with a pluggable feature
  extractor (the synthetic one offline, Inception at ``small``/``full``).
  Generated images are quantised to 8 bits first, as in the official protocol.
* :func:`paired_metrics`: L1, PSNR and SSIM against paired targets.
* :func:`oracle_metrics`: for the ``stripes`` world, errors against the
  oracle, the true target of an unpaired translation (only a synthetic
  world has one): pixel L1, L1 on the background (what should not change),
  and a stripe-phase-invariant distance inside the animals (what should).
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
    """The named FID feature network, on the best device (on a GPU runtime the
    features of a 512-image test split at 299x299 take seconds, not minutes)."""
    from ..config import get_device

    if kind == "synthetic":
        from .features import load_feature_net
        return load_feature_net().to(get_device())
    if kind == "inception":
        from .features import inception_features
        return inception_features(download=True).to(get_device())
    raise GancompError(f"unknown FID features {kind!r}: expected 'synthetic' or 'inception'")


def default_features(scale=None) -> str:
    """``synthetic`` at the ``ci`` scale (offline), ``inception`` at ``small``
    and ``full`` (the papers' FID; its weights are downloaded on first use)."""
    from ..config import get_scale

    return "synthetic" if get_scale(scale).name == "ci" else "inception"


@torch.no_grad()
def fid(real: torch.Tensor | Iterable[torch.Tensor], fake: torch.Tensor | Iterable[torch.Tensor],
        features: str | nn.Module = "synthetic", batch_size: int = 64) -> float:
    """FID between ``real`` and ``fake`` images (tensors ``N x 3 x H x W`` in [-1, 1]).

    ``features`` is ``"synthetic"``, ``"inception"`` or any module mapping
    ``[0, 1]`` images to ``N x d`` features.
    """
    extractor = _extractor(features)
    return fid_of_features(batch_features(real, extractor, batch_size),
                           batch_features(fake, extractor, batch_size))


def _extractor(features: str | nn.Module) -> nn.Module:
    """The feature network ``features`` names (or is), in eval mode."""
    extractor = _feature_extractor(features) if isinstance(features, str) else features
    return extractor.eval()


@torch.no_grad()
def batch_features(images: torch.Tensor | Iterable[torch.Tensor], extractor: nn.Module,
                   batch_size: int = 64) -> list[torch.Tensor]:
    """The features of ``images`` (``N x 3 x H x W`` in [-1, 1], or an iterable of
    such batches), batch by batch, as :func:`fid` and :func:`kid` see them: each
    set's features are computed once and shared by both metrics."""
    device = next(extractor.parameters()).device
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else images
    return [extractor(_to_unit(b.to(device))) for b in batches]


def fid_of_features(real: list[torch.Tensor], fake: list[torch.Tensor]) -> float:
    """FID from per-batch features, computed as torchmetrics'
    ``FrechetInceptionDistance`` does (float64 sums and cross-products added batch
    by batch, the unbiased covariance, its eigenvalue form of the trace of the
    square root), so it equals that metric on the same batches; computed by the
    process that calls it, never gathered across a torchrun group."""
    from torchmetrics.image.fid import _compute_fid

    stats = []
    for batches in (real, fake):
        count = sum(len(f) for f in batches)
        if count < 2:
            raise GancompError(f"FID needs at least 2 images per set, got {count}")
        d, device = batches[0].shape[-1], batches[0].device
        total = torch.zeros(d, dtype=torch.double, device=device)
        products = torch.zeros(d, d, dtype=torch.double, device=device)
        for f in batches:
            f = f.double()
            total += f.sum(dim=0)
            products += f.t().mm(f)
        # a count tensor on the device, as torchmetrics keeps it: dividing a CUDA tensor by a
        # Python number multiplies by its reciprocal, which may differ in the last bit
        n = torch.tensor(count, device=device)
        mean = (total / n).unsqueeze(0)
        stats.append((mean.squeeze(0), (products - n * mean.t().mm(mean)) / (n - 1)))
    (mu_r, cov_r), (mu_f, cov_f) = stats
    return float(_compute_fid(mu_r, cov_r, mu_f, cov_f).to(real[0].dtype))


#: images per KID subset (torchmetrics' default is 1000; the ``ci`` test split is smaller)
KID_SUBSET = 100


@torch.no_grad()
def image_statistics(images: torch.Tensor | Iterable[torch.Tensor],
                     features: str | nn.Module = "inception", batch_size: int = 64,
                     truncate: bool = True):
    """The mean and covariance (float64 NumPy) of the features of ``images``
    (``N x 3 x H x W`` in [-1, 1], quantised to 8 bits: truncated as GAN
    Compression's ``tensor2im`` does, or with ``truncate=False`` rounded as
    :func:`fid` does): the statistics a FID compares, as GAN Compression's
    ``get_real_stat.py`` stores them."""
    import numpy as np

    extractor = _extractor(features)
    device = next(extractor.parameters()).device
    unit = _to_unit_truncated if truncate else _to_unit
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else images
    feats = [extractor(unit(b.to(device))).double().cpu() for b in batches]
    feats = torch.cat(feats).numpy() if feats else np.zeros((0, 0))
    if len(feats) < 2:
        raise GancompError(f"statistics need at least 2 images, got {len(feats)}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """The Frechet distance of two Gaussians, as pytorch-fid (and so GAN Compression)
    computes it: ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2))``, with ``eps`` added to
    both diagonals when the product is singular and the imaginary rounding dropped."""
    import numpy as np
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise GancompError(f"the two statistics have other dimensions: {mu1.shape[0]} and "
                           f"{mu2.shape[0]} features (were both made with the same network?)")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def load_statistics(path):
    """``mu`` and ``sigma`` of a real-statistics ``.npz`` (GAN Compression's
    ``real_stat/*.npz``, or one written by :func:`save_statistics`), checked."""
    import numpy as np
    from pathlib import Path

    path = Path(path)
    try:
        with np.load(path) as f:
            mu, sigma = f["mu"], f["sigma"]
    except (OSError, ValueError, KeyError, TypeError) as err:   # TypeError: a .npy, not a .npz
        raise GancompError(f"{path} is not a statistics file with mu and sigma "
                           f"({type(err).__name__}: {err})") from err
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise GancompError(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not fit together")
    return mu, sigma


def save_statistics(path, mu, sigma) -> None:
    """Write ``mu`` and ``sigma`` in GAN Compression's ``.npz`` layout."""
    import numpy as np

    np.savez(path, mu=mu, sigma=sigma)


def fid_to_statistics(fake: torch.Tensor | Iterable[torch.Tensor], statistics,
                      features: str | nn.Module = "inception", batch_size: int = 64,
                      truncate: bool = True) -> float:
    """FID of ``fake`` against stored real statistics (a ``.npz`` path, or ``(mu, sigma)``);
    ``truncate``: 8-bit quantisation as :func:`image_statistics`."""
    mu, sigma = load_statistics(statistics) if not isinstance(statistics, tuple) else statistics
    mu2, sigma2 = image_statistics(fake, features, batch_size, truncate)
    return frechet_distance(mu, sigma, mu2, sigma2)


@torch.no_grad()
def kid(real: torch.Tensor, fake: torch.Tensor, features: str | nn.Module = "synthetic",
        subsets: int = 100, batch_size: int = 64) -> tuple[float, float]:
    """Kernel inception distance {cite:p}`binkowski2018demystifying` between
    ``real`` and ``fake`` (``N x 3 x H x W`` in [-1, 1]): their features
    (same ``features`` as :func:`fid`) through :func:`kid_from_features`.
    Unlike FID, its estimate is unbiased at small sample sizes, so two samples
    of one distribution score about 0 (sometimes below)."""
    extractor = _extractor(features)
    return kid_from_features(torch.cat(batch_features(real, extractor, batch_size)),
                             torch.cat(batch_features(fake, extractor, batch_size)), subsets)


def kid_from_features(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100,
                      subset_size: int = KID_SUBSET) -> tuple[float, float]:
    """KID from two sets of features (``N x D``), as torchmetrics'
    ``KernelInceptionDistance.compute`` does it: the mean and standard
    deviation of the unbiased polynomial-kernel MMD (its ``poly_mmd``: degree 3,
    gamma 1/D) over ``subsets`` random subsets of ``subset_size`` features of
    each set (fewer if a set is smaller).  The subsets are drawn with a fixed
    seed by a generator of their own (the same subsets as the global generator
    seeded 0 would draw), so the value is reproducible and no global random
    state, a GPU's included, is touched."""
    from torchmetrics.image.kid import poly_mmd

    n = min(len(real), len(fake))
    if n < 2:
        raise GancompError(f"KID needs at least 2 images per set, got {n}")
    size = min(subset_size, n)
    g = torch.Generator().manual_seed(0)     # its own: no device's global state is touched
    scores = []
    for _ in range(subsets):
        a = real[torch.randperm(len(real), generator=g)[:size]]
        b = fake[torch.randperm(len(fake), generator=g)[:size]]
        scores.append(poly_mmd(a, b))
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


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
def oracle_metrics(fake: torch.Tensor, oracle: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Errors of stripes translations against the oracle's true targets.

    ``mask`` (``N x H x W`` bool) marks the animal pixels.

    * ``oracle_l1``: pixel L1 over the whole image;
    * ``oracle_background_l1``: pixel L1 outside the animals (should stay 0);
    * ``oracle_animal_w1``: inside the animals, the 1-D Wasserstein distance
      between the output's and the oracle's values, per colour channel
      (mean absolute difference of the sorted values).  It compares *what*
      colours appear (plain brown vs black and white stripes), not where:
      stripes shifted by half a period score near 0 here, while their pixel
      L1 is as bad as no stripes at all.
    """
    fake = fake.clamp(-1, 1)
    mask = mask.bool()
    w1 = []
    for f, o, m in zip(fake, oracle, mask):
        if m.any():
            a, b = f[:, m].sort(dim=1).values, o[:, m].sort(dim=1).values
            w1.append((a - b).abs().mean())
    back = ~mask[:, None].expand_as(fake)
    return {"oracle_l1": float(F.l1_loss(fake, oracle)),
            "oracle_background_l1": float((fake - oracle).abs()[back].mean()),
            "oracle_animal_w1": float(torch.stack(w1).mean()) if w1 else float("nan")}


@torch.no_grad()
def translate(generator: nn.Module, images: torch.Tensor, batch_size: int = 16,
              device=None) -> torch.Tensor:
    """Run ``generator`` (in eval mode) over ``images`` in batches; CPU result
    (a module without parameters, such as an exported file's
    :class:`~gancomp_lite.deploy.ExportedGenerator`, runs on the CPU)."""
    device = device or next(iter(generator.parameters()), torch.empty(0)).device
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
    independent domain-B images, ``B_oracle`` the true targets of ``A`` and
    ``mask`` the animal pixels of ``A`` (``N x H x W`` bool).
    """
    import numpy as np
    from torch.utils.data import default_collate

    from ..data import WORLDS, get_world, open_dataset

    ds = open_dataset(task, phase="test", n=n, size=size, seed=seed)
    batch = default_collate([ds[i] for i in range(len(ds))])
    out = {k: batch[k] for k in ("A", "B")}
    if not WORLDS[task].aligned:
        out["B_oracle"] = batch["B_oracle"]
        world = get_world(task, size=size, seed=seed)
        out["mask"] = torch.from_numpy(np.stack([world.animal_mask(i, "test") for i in range(n)]))
    return out


#: what each task's verdicts are judged on first: the exact metric its world has
PRIMARY_METRIC = {"stripes": "oracle_animal_w1", "edges2shapes": "l1", "labels2scene": "l1"}

#: metrics where higher is better (all others: lower is better)
HIGHER_IS_BETTER = ("psnr", "ssim")


def primary_metric(task: str) -> str:
    """The exact metric a task's verdicts use first (see :data:`PRIMARY_METRIC`)."""
    return PRIMARY_METRIC.get(task, "fid")


def evaluate(generator: nn.Module, task: str, n: int | None = None, size: int = 64, seed: int = 0,
             features: str | nn.Module | None = None, baselines: bool = True,
             data: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
    """Quality of ``generator`` on the test split of a synthetic ``task``.

    stripes: ``fid`` and ``kid`` of G(A) vs B and the :func:`oracle_metrics`; paired
    tasks: ``fid``, ``kid`` and ``l1``/``psnr``/``ssim`` to B.  ``kid_std`` is
    KID's spread over its subsets.  With ``baselines``, also the same numbers
    for trivial translators: the input itself (``identity_*``) and, for paired
    tasks, the mean target image (``mean_target_*``).  ``n`` defaults to the
    scale's ``n_test``; ``features`` to :func:`default_features`.
    """
    from ..config import get_scale
    from ..data import WORLDS

    features = features if features is not None else default_features()
    data = data or test_set(task, n or get_scale().n_test, size, seed)
    fake = translate(generator, data["A"])
    real_f = batch_features(data["B"], _extractor(features))      # once for every translator
    out = {"n": float(len(fake)), **_distribution_metrics(data["B"], fake, features, real_f)}
    out.update(oracle_metrics(fake, data["B_oracle"], data["mask"]) if not WORLDS[task].aligned
               else paired_metrics(fake, data["B"]))
    if baselines:
        prefix = {"identity": "identity_", "mean target": "mean_target_"}
        for name, metrics in trivial_translators(task, data, features, real_f).items():
            out.update({prefix[name] + k: v for k, v in metrics.items()})
    return out


def _to_unit_truncated(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> [0, 1] through 8 bits as GAN Compression's
    ``tensor2im`` makes them: ``(x + 1) / 2 * 255``, truncated (not rounded)."""
    return torch.floor((x.clamp(-1, 1) + 1) / 2 * 255) / 255.0


@torch.no_grad()
def evaluate_folder(generator: nn.Module, folder, direction: str = "AtoB", size: int | None = 256,
                    features: str | nn.Module = "inception", real_statistics=None,
                    batch_size: int = 16, progress: bool = False,
                    segmentation: tuple | None = None,
                    paired: bool | None = None) -> dict[str, float]:
    """Quality of ``generator`` on the test split of a real dataset folder, as GAN
    Compression measures it: every test image read once and resized to ``size``
    (bicubic; its test loader's ``load_size = crop_size = 256``), translated
    (``testA`` of an unpaired folder; ``test``/``val`` of a paired one, read
    ``direction``), quantised to 8 bits by truncation as its ``tensor2im`` does, and
    FID of the outputs against ``real_statistics`` (a ``.npz`` such as its
    ``real_stat/*.npz``) or, without them, against the folder's own test targets, each
    read once, and then also KID (:func:`kid_from_features`, on the same features;
    stored statistics hold no samples, so they give FID alone); for paired folders
    also L1, PSNR and SSIM to the target.  Without
    stored statistics a CycleGAN task's FID uses only the test targets, where GAN
    Compression's statistics hold train+test (its README: about 4 higher with test
    only).  ``paired``: read the folder in that layout (the task's kind; the official
    Cityscapes folder holds both); default: the layout it has.  ``segmentation``:
    ``(drn, cityscapes_root)`` adds Cityscapes' ``miou`` (:mod:`.segmentation`): each
    output is segmented and compared with the label ids that the prepared folder's
    ``val_table.txt`` names under ``cityscapes_root`` (default: the prepared folder,
    where ``prepare cityscapes`` writes them).  Streams the images in batches."""
    import numpy as np
    from pathlib import Path

    from torch.utils.data import DataLoader

    from ..data.datasets import (AlignedFolderDataset, ImageListDataset, UnalignedFolderDataset,
                                 open_dataset)
    from ..progress import tqdm

    size = size or 256
    if paired is None:
        layout = open_dataset(folder, phase="test", direction=direction)
        paired = isinstance(layout, AlignedFolderDataset)
    if paired:
        data = AlignedFolderDataset(folder, phase="test", size=size, preprocess="resize",
                                    direction=direction)
        targets = None
    else:
        domains = UnalignedFolderDataset(folder, phase="test")
        data = ImageListDataset(domains.A_paths, size)
        targets = ImageListDataset(domains.B_paths, size)
    extractor = _extractor(features)
    device = next(iter(generator.parameters()), torch.empty(0)).device
    fdev = next(extractor.parameters()).device

    def feats(images):
        return extractor(_to_unit_truncated(images).to(fdev)).double().cpu()

    if segmentation is not None:
        from PIL import Image

        from ..data.cityscapes import read_table
        from . import segmentation as seg

        drn, cityscapes_root = segmentation
        cityscapes_root = Path(cityscapes_root or folder)
        table_file = Path(folder) / "val_table.txt"
        if not table_file.exists():
            raise GancompError(f"{table_file} is missing: mIoU needs a folder written by "
                               f"`gancomp-lite prepare cityscapes`")
        table, hist = read_table(table_file), np.zeros((seg.CLASSES, seg.CLASSES))
    was_training = generator.training
    generator.eval()
    fake_feats, real_feats, sums, count = [], [], {"l1": 0.0, "psnr": 0.0, "ssim": 0.0}, 0
    try:
        for batch in tqdm(DataLoader(data, batch_size=batch_size), desc="evaluate",
                          disable=not progress):
            fake = generator(batch["A"].to(device)).float().cpu()
            fake_feats.append(feats(fake))
            if paired:
                if real_statistics is None:
                    real_feats.append(feats(batch["B"]))
                m = paired_metrics(fake, batch["B"])
                for k in sums:
                    sums[k] += m[k] * len(fake)
            if segmentation is not None:
                for image, path in zip(seg.to_uint8(fake), batch["path"]):
                    index = int(Path(path).stem)
                    if index not in table:
                        raise GancompError(f"{table_file} has no line for {Path(path).name}")
                    ids = cityscapes_root / table[index][0]
                    if not ids.exists():
                        raise GancompError(f"{ids} is missing: the label ids are written by "
                                           f"`gancomp-lite prepare cityscapes` (--cityscapes-root: "
                                           f"the folder that holds gtFine/)")
                    label = np.asarray(Image.open(ids))
                    pred = seg.predict(drn, image, (label.shape[1], label.shape[0]))
                    hist += seg.confusion(pred.ravel(), label.ravel())
            count += len(fake)
        if targets is not None and real_statistics is None:
            real_feats = [feats(b["A"]) for b in DataLoader(targets, batch_size=batch_size)]
    finally:
        generator.train(was_training)
    if count < 2:
        raise GancompError(f"{folder} has {count} test image(s): FID needs at least 2")
    fake_f = torch.cat(fake_feats).numpy()
    mu2, sigma2 = fake_f.mean(axis=0), np.cov(fake_f, rowvar=False)
    if real_statistics is None:
        real_f = torch.cat(real_feats).numpy()
        mu, sigma = real_f.mean(axis=0), np.cov(real_f, rowvar=False)
    else:
        mu, sigma = (load_statistics(real_statistics) if not isinstance(real_statistics, tuple)
                     else real_statistics)
    out = {"n": float(count), "fid": frechet_distance(mu, sigma, mu2, sigma2)}
    if real_statistics is None:      # KID needs the real samples, not only their statistics
        out["kid"], out["kid_std"] = kid_from_features(torch.cat(real_feats), torch.cat(fake_feats))
    if paired:
        out.update({k: v / count for k, v in sums.items()})
    if segmentation is not None:
        out["miou"] = seg.miou(hist)
    return out


def trivial_translators(task: str, data: dict[str, torch.Tensor],
                        features: str | nn.Module | None = None,
                        real_features: list[torch.Tensor] | None = None) -> dict[str, dict[str, float]]:
    """The metrics of the translators that learn nothing, on the test images
    ``data``: ``identity`` (the input itself) and, for paired tasks, ``mean
    target`` (the mean target image for every input).  A student that does
    not clearly beat them has not learned the task
    (:func:`~gancomp_lite.experiments.results.learned`)."""
    from ..data import WORLDS

    features = features if features is not None else default_features()
    A, B = data["A"], data["B"]
    real_f = real_features if real_features is not None else batch_features(B, _extractor(features))
    if not WORLDS[task].aligned:
        return {"identity": {**_distribution_metrics(B, A, features, real_f),
                             **oracle_metrics(A, data["B_oracle"], data["mask"])}}
    mean = B.mean(0, keepdim=True).expand_as(B)
    return {"identity": {**_distribution_metrics(B, A, features, real_f), **paired_metrics(A, B)},
            "mean target": {**_distribution_metrics(B, mean, features, real_f),
                            **paired_metrics(mean, B)}}


def _distribution_metrics(real, fake, features, real_features=None) -> dict[str, float]:
    """FID and KID of ``fake`` against ``real``, each set's features computed once
    (``real_features``: the real set's, already computed by :func:`batch_features`)."""
    extractor = _extractor(features)
    real_f = real_features if real_features is not None else batch_features(real, extractor)
    fake_f = batch_features(fake, extractor)
    k, k_std = kid_from_features(torch.cat(real_f), torch.cat(fake_f))
    return {"fid": fid_of_features(real_f, fake_f), "kid": k, "kid_std": k_std}


@torch.no_grad()
def noise_floor(task: str, n: int | None = None, size: int = 64, reference: nn.Module | None = None,
                features: str | nn.Module | None = None, seed: int = 0,
                other_seed: int = 1) -> dict[str, float]:
    """How far apart the quality metrics are when nothing but the test sample changes.

    The evaluation sample is the test split drawn with world seed ``seed``
    (what :func:`evaluate` uses); a second, disjoint sample of the same
    distribution is drawn with ``other_seed``.

    * ``fid`` / ``kid``: the metric between the two real samples' B images
      (a perfect generator scores about this);
    * the per-image metrics (``l1``, ``psnr``, ``ssim``; for stripes the
      ``oracle_*`` ones): how much ``reference`` (a trained generator, say the
      teacher) scores differently on the two samples, ``|m(sample 1) - m(sample 2)|``.
      Without ``reference`` they are left out.

    A difference between two models' means that is not larger than this row
    is within the noise of the test sample itself.  Explained in chapter
    ``nb/04_decomposition`` (section ``sec-decomp-rule``).
    """
    from ..config import get_scale
    from ..data import WORLDS

    n = n or get_scale().n_test
    features = features if features is not None else default_features()
    one, two = test_set(task, n, size, seed), test_set(task, n, size, other_seed)
    out = {"n": float(n), **_distribution_metrics(one["B"], two["B"], features)}
    out.pop("kid_std")
    if reference is not None:
        if WORLDS[task].aligned:
            m1 = paired_metrics(translate(reference, one["A"]), one["B"])
            m2 = paired_metrics(translate(reference, two["A"]), two["B"])
        else:
            m1 = oracle_metrics(translate(reference, one["A"]), one["B_oracle"], one["mask"])
            m2 = oracle_metrics(translate(reference, two["A"]), two["B_oracle"], two["mask"])
        out.update({k: abs(m1[k] - m2[k]) for k in m1})
    return out
