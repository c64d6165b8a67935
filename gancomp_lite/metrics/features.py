"""Feature extractors for FID: a small one for the synthetic tasks, Inception for real data.

FID compares the statistics of two image sets in some feature space.  The
papers use the 2048-d pool features of the TF-FID InceptionV3
{cite:p}`heusel2017gans`, whose weights are a download; that is what the
``small`` and ``full`` scales use (:func:`inception_features`).  Offline, at
the ``ci`` scale, FID uses :class:`SyntheticFeatureNet`: a small CNN trained
by :func:`train_feature_net` to tell apart the domains of the synthetic tasks
and degraded (blurred, noisy, blotchy) versions of their targets, so its
features respond to what a weak generator gets wrong.  Its weights ship in
``data/features/`` with their recipe (:func:`save_feature_net`,
:func:`load_feature_net`).  Explained in chapter ``nb/03_teachers``
(section ``sec-teachers-eval``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from ..progress import tqdm

from ..errors import CheckpointError
from ..paths import DATA_DIR
from ..shipped import checked_load, load_into, staged, write_shipped

FEATURES_FORMAT = "gancomp-lite/features/1"
FEATURES_DIR = DATA_DIR / "features"
FEATURES_NAME = "synthetic-features"

#: the classes the synthetic feature network learns to tell apart
FEATURE_CLASSES = (
    "stripes A", "stripes B", "edges", "shapes", "label map", "street scene",
    "degraded stripes B", "degraded shapes", "degraded street scene",
)


class SyntheticFeatureNet(nn.Module):
    """A small CNN: images in [0, 1] (any size) -> 128-d features.

    Input is resized to 64x64; four stride-2 conv/BN/ReLU stages and global
    average pooling give the features; ``classify`` adds a linear head used
    only for training.  ``num_features`` tells torchmetrics the dimension.
    """

    num_features = 128

    def __init__(self, width: int = 32, n_classes: int = len(FEATURE_CLASSES)):
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.proj = nn.Linear(4 * width, self.num_features)
        self.head = nn.Linear(self.num_features, n_classes)
        self.config = dict(width=width, n_classes=n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        x = (x - 0.5) / 0.5
        return self.proj(self.body(x).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.features(x)))


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausibly bad generator output: blur, noise, colour cast or blotches."""
    from scipy import ndimage

    x = image.astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:
        x = ndimage.gaussian_filter(x, sigma=(rng.uniform(1.0, 2.5),) * 2 + (0,))
    elif kind == 1:
        x = x + rng.normal(0, rng.uniform(15, 40), x.shape)
    elif kind == 2:
        x = x * rng.uniform(0.6, 1.2, 3) + rng.uniform(-30, 30, 3)
    else:
        h, w = x.shape[:2]
        blotch = ndimage.zoom(rng.normal(0, 1, (4, 4, 3)), (h / 4, w / 4, 1), order=1)
        x = x + 40 * blotch[:h, :w]
    return np.clip(x, 0, 255).astype(np.uint8)


def _feature_batch(worlds: dict, batch_size: int, rng: np.random.Generator):
    images, labels = [], []
    for _ in range(batch_size):
        c = int(rng.integers(len(FEATURE_CLASSES)))
        i = int(rng.integers(1_000_000))
        if c in (0, 1, 6):
            img = worlds["stripes"].sample_a(i) if c == 0 else worlds["stripes"].sample_b(i)
        elif c in (2, 3, 7):
            img = worlds["edges2shapes"].sample(i)[0 if c == 2 else 1]
        else:
            img = worlds["labels2scene"].sample(i)[0 if c == 4 else 1]
        if c >= 6:
            img = degrade(img, rng)
        images.append(torch.from_numpy(img).permute(2, 0, 1))
        labels.append(c)
    return torch.stack(images).float() / 255.0, torch.tensor(labels)


def train_feature_net(steps: int = 600, batch_size: int = 32, size: int = 64, seed: int = 0,
                      progress: bool = True) -> tuple[SyntheticFeatureNet, dict]:
    """Train :class:`SyntheticFeatureNet` on freshly drawn samples (the recipe).

    Training images come from world seed ``seed + 1000``, never from the
    seeds the chapters evaluate on.  Returns the network (eval mode) and its
    held-out accuracy.
    """
    from ..data import get_world

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    worlds = {n: get_world(n, size=size, seed=seed + 1000) for n in
              ("stripes", "edges2shapes", "labels2scene")}
    net = SyntheticFeatureNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    net.train()
    for _ in tqdm(range(steps), desc="feature net", disable=not progress, leave=False):
        x, y = _feature_batch(worlds, batch_size, rng)
        loss = F.cross_entropy(net.classify(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    held_out = {n: get_world(n, size=size, seed=seed + 2000) for n in worlds}
    x, y = _feature_batch(held_out, 512, np.random.default_rng(seed + 1))
    with torch.no_grad():
        acc = float((net.classify(x).argmax(1) == y).float().mean())
    return net, {"held_out_accuracy": acc, "steps": steps, "batch_size": batch_size,
                 "size": size, "seed": seed}


def load_feature_net(path: str | Path | None = None) -> nn.Module:
    """The shipped :class:`SyntheticFeatureNet` (checksum verified, eval mode);
    default ``data/features/synthetic-features.pt``."""
    path = Path(path) if path else FEATURES_DIR / f"{FEATURES_NAME}.pt"
    if not path.exists():
        raise CheckpointError(f"{path} is missing: re-create it with "
                              f"`gancomp-lite train-features --out {path.parent}`")
    payload = checked_load(path, FEATURES_FORMAT)
    net = SyntheticFeatureNet(**payload["config"])
    return load_into(net, payload["state_dict"], str(path)).eval()


def save_feature_net(net: nn.Module, info: dict, out_dir: str | Path, command: str,
                     code_version: str, allow_dirty: bool = False, force: bool = False) -> dict:
    """Ship ``net`` (trained by :func:`train_feature_net`, which returned
    ``info``) as ``out_dir/synthetic-features.pt`` with its manifest: the
    ``command`` that made it, the seed, the ``code_version`` that trained it,
    whether that was allowed to be ``+dirty`` and the held-out accuracy.
    An existing file is an error unless ``force``."""
    payload = {"format": FEATURES_FORMAT, "config": net.config, "state_dict": net.state_dict()}
    path = Path(out_dir) / f"{FEATURES_NAME}.pt"
    with staged(path, force) as tmp:
        manifest = write_shipped(payload, tmp,
                                 {"kind": "FID feature network for the synthetic tasks",
                                  "command": command, "seed": info["seed"],
                                  "code_version": code_version, "allow_dirty": allow_dirty,
                                  "metrics": {"held_out_accuracy": info["held_out_accuracy"]},
                                  "recipe": {k: v for k, v in info.items()
                                             if k != "held_out_accuracy"}},
                                 name=path.name)
    return manifest


def inception_features(download: bool = False):
    """The TF-FID InceptionV3 (2048-d pool3 features) the papers use, as GAN
    Compression computes it: pytorch-fid's port (``metric/inception.py`` in
    the official code is a copy of it) with its ``pt_inception-2015-12-05``
    weights, inputs resized bilinearly to 299x299 and mapped to [-1, 1].

    The weights are a download (see :mod:`gancomp_lite.data.download`, asset
    ``inception-fid``), fetched here only with ``download=True`` (the
    ``small``/``full`` scales); without the file, and offline, this raises
    :class:`~gancomp_lite.errors.MissingDownloadError` saying what to fetch and
    where to put it.  Explained in chapter ``nb/12_gpu``.
    """
    from ..data.download import ensure, fetch

    return fid_inception_from_file(fetch("inception-fid") if download else ensure("inception-fid"))


def fid_inception_from_file(path: str | Path) -> nn.Module:
    """pytorch-fid's FID InceptionV3 with the weights in ``path`` (checked by
    the caller), taking [0, 1] images and returning ``N x 2048`` features.

    pytorch-fid builds the network and loads its weights through torch.hub's
    cache; the cache is pointed, for that call only, at a temporary folder
    holding ``path`` under the name pytorch-fid asks for, so nothing is
    downloaded and the caller's torch.hub setting is left as it was.  A
    file that does not load as that network is one :class:`CheckpointError`.
    """
    import shutil
    import tempfile
    import warnings

    try:
        from pytorch_fid import inception as pfid
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise CheckpointError("Inception FID needs the pytorch-fid package "
                              "(pip install pytorch-fid)") from err
    path = Path(path).resolve()
    if not path.is_file():
        raise CheckpointError(f"no Inception weights at {path}")
    previous = getattr(torch.hub, "_hub_dir", None)   # None: torch.hub follows $TORCH_HOME
    with tempfile.TemporaryDirectory() as hub:
        cached = Path(hub) / "checkpoints" / pfid.FID_WEIGHTS_URL.rsplit("/", 1)[1]
        cached.parent.mkdir()
        try:
            cached.symlink_to(path)
        except OSError:  # pragma: no cover - filesystems without links
            shutil.copyfile(path, cached)
        torch.hub.set_dir(hub)
        try:
            with warnings.catch_warnings():
                # pytorch-fid builds torchvision's Inception with arguments torchvision calls deprecated
                warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
                warnings.filterwarnings("ignore", category=FutureWarning, module="torchvision")
                net = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
                                       resize_input=True, normalize_input=True)
        except Exception as err:  # noqa: BLE001 - any file that does not load is one error
            first = (str(err).splitlines() or [""])[0]
            raise CheckpointError(f"{path} is not pytorch-fid's FID Inception state dict "
                                  f"({type(err).__name__}: {first[:200]})") from err
        finally:
            torch.hub._hub_dir = previous       # as it was, unset included (set_dir cannot unset)
    return _PoolFeatures(net.eval())


class _PoolFeatures(nn.Module):
    """pytorch-fid's InceptionV3 as an ``N x 2048`` feature extractor of
    [0, 1] images (its forward returns a list of ``N x 2048 x 1 x 1`` maps)."""

    num_features = 2048

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255
        return self.inner(x)[0].flatten(1)
