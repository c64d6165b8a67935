"""Downloads with checksums: real datasets and pretrained weights.

Nothing here runs at the ``ci`` scale or in the tests' normal course; the
tests exercise it on files they make and serve from ``file://`` URLs.  Every
asset has a URL, a file name, where it goes under
:func:`gancomp_lite.paths.downloads_dir` and a checksum: a full SHA-256 where
the project knows it, else the SHA-256 prefix its publisher put in the file
name (the torch-hub convention), else none, in which case the first download
records its SHA-256 in ``checksums.json`` beside it and every later use is
checked against that ("trust on first use", said so in the message).

:func:`ensure` returns the path of a verified asset or raises one
:class:`~gancomp_lite.errors.MissingDownloadError` that says what to fetch and
where it goes; :func:`fetch` downloads (only when asked).
"""
from __future__ import annotations

import json
import shutil
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..progress import tqdm

from ..errors import CheckpointError, MissingDownloadError
from ..paths import downloads_dir
from ..provenance import sha256_of


@dataclass(frozen=True)
class Asset:
    """A file the package can download."""

    name: str
    url: str
    filename: str
    subdir: str
    what: str
    sha256: str | None = None          # full digest, when known
    sha256_prefix: str | None = None   # publisher's prefix in the file name
    extract_to: str | None = None      # archives: folder they unpack to


ASSETS: dict[str, Asset] = {a.name: a for a in [
    # pytorch-fid's port of the TF FID graph: the file GAN Compression's metric/inception.py loads
    Asset("inception-fid",
          "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
          "pt_inception-2015-12-05-6726825d.pth",
          "pt_inception-2015-12-05-6726825d.pth", "weights",
          "TF-FID InceptionV3 weights (pytorch-fid's pt_inception file), for FID at small/full scale",
          sha256_prefix="6726825d"),
    # torchvision's VGG16_Weights.IMAGENET1K_V1 (OMGD/CRD's perceptual backbone)
    Asset("vgg16", "https://download.pytorch.org/models/vgg16-397923af.pth",
          "vgg16-397923af.pth", "weights",
          "torchvision's VGG16 ImageNet weights, for the perceptual losses at small/full scale",
          sha256_prefix="397923af"),
    Asset("horse2zebra", "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip",
          "horse2zebra.zip", "datasets", "CycleGAN horse2zebra (unaligned trainA/trainB/testA/testB)",
          extract_to="horse2zebra"),
    Asset("summer2winter",
          "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/summer2winter_yosemite.zip",
          "summer2winter_yosemite.zip", "datasets",
          "CycleGAN summer2winter_yosemite (unaligned trainA/trainB/testA/testB)",
          extract_to="summer2winter_yosemite"),
    # GAN Compression's map2sat is pix2pix's maps read BtoA (map -> satellite photo)
    Asset("maps", "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz",
          "maps.tar.gz", "datasets",
          "pix2pix maps (aligned train/val AB images; map2sat reads them BtoA)", extract_to="maps"),
    Asset("edges2shoes-r",
          "https://huggingface.co/mit-han-lab/gan-compression/resolve/main/datasets/edges2shoes-r.tar.gz",
          "edges2shoes-r.tar.gz", "datasets",
          "GAN Compression's edges2shoes-r (aligned train/val AB images)", extract_to="edges2shoes-r"),
]}


#: GAN Compression's releases, on Hugging Face since its earlier hosts went away
GC_HUB = "https://huggingface.co/mit-han-lab/gan-compression/resolve/main/"
#: the released generators (``pretrained/<model>/<task>/<stage>/latest_net_G.pth``) that
#: ``convert-official`` reads: the full ResNet teacher and the compressed student
GC_MODELS = (("pix2pix", "edges2shoes-r"), ("pix2pix", "map2sat"), ("pix2pix", "cityscapes"),
             ("cycle_gan", "horse2zebra"))
for _model, _task in GC_MODELS:
    for _stage, _arch in (("full", "resnet"), ("compressed", "sub_mobile_resnet")):
        ASSETS[f"gc-{_task}-{_stage}"] = Asset(
            f"gc-{_task}-{_stage}", f"{GC_HUB}pretrained/{_model}/{_task}/{_stage}/latest_net_G.pth",
            "latest_net_G.pth", f"weights/gan-compression/{_model}/{_task}/{_stage}",
            f"GAN Compression's released {_stage} {_model} {_task} generator (convert-official "
            f"--arch {_arch})")
#: GAN Compression's real-image FID statistics (``mu``, ``sigma`` of pool3 features):
#: paired tasks use the val target images, CycleGAN tasks train+test target images
for _stat in ("edges2shoes-r_B", "maps_A", "cityscapes_A", "horse2zebra_A", "horse2zebra_B"):
    ASSETS[f"real-stat-{_stat}"] = Asset(
        f"real-stat-{_stat}", f"{GC_HUB}real_stat/{_stat}.npz", f"{_stat}.npz", "real_stat",
        f"GAN Compression's precomputed real statistics {_stat}.npz")


def _target(asset: Asset, root: Path | None) -> Path:
    return (root or downloads_dir()) / asset.subdir / asset.filename


def _recorded(root: Path) -> dict:
    path = root / "checksums.json"
    return json.loads(path.read_text()) if path.exists() else {}


def verify(asset: Asset, path: Path, root: Path | None = None) -> str:
    """Check ``path`` against the asset's checksum; return its SHA-256.

    Raises :class:`CheckpointError` naming the file, the expected and the
    actual digest when they differ.
    """
    root = root or downloads_dir()
    digest = sha256_of(path)
    expected = asset.sha256 or _recorded(root).get(asset.name)
    if expected and digest != expected:
        raise CheckpointError(f"{path} fails its checksum: sha256 {digest}, expected {expected}; "
                              f"delete it and download {asset.url} again")
    if asset.sha256_prefix and not digest.startswith(asset.sha256_prefix):
        raise CheckpointError(f"{path} fails its checksum: sha256 {digest} does not start with "
                              f"{asset.sha256_prefix}; delete it and download {asset.url} again")
    return digest


def local_folder(name: str, root: Path | None = None) -> Path:
    """Where asset ``name`` is used from: its unpacked folder (archives) or its file."""
    asset = _asset(name)
    path = _target(asset, root)
    return path.parent / asset.extract_to if asset.extract_to else path


def _instructions(asset: Asset, path: Path) -> str:
    return (f"{asset.what} is not on disk. Run `gancomp-lite download {asset.name}` on a machine "
            f"with a network connection, or fetch {asset.url} and save it as {path}"
            + (f" (it unpacks to {path.parent / asset.extract_to})" if asset.extract_to else "")
            + ". Set GANCOMP_DATA to keep downloads elsewhere.")


def ensure(name: str, root: Path | None = None) -> Path:
    """The verified local path of asset ``name`` (its unpacked folder for archives)."""
    asset = _asset(name)
    path = _target(asset, root)
    if asset.extract_to and (path.parent / asset.extract_to).is_dir():
        return path.parent / asset.extract_to
    if not path.exists():
        raise MissingDownloadError(_instructions(asset, path))
    verify(asset, path, root)
    if asset.extract_to:
        return _extract(path, path.parent)
    return path


def fetch(name: str, root: Path | None = None, progress: bool = True) -> Path:
    """Download asset ``name`` if missing, verify it, unpack archives; return :func:`ensure`'s path."""
    asset = _asset(name)
    root = root or downloads_dir()
    path = _target(asset, root)
    if not path.exists() and not (asset.extract_to and (path.parent / asset.extract_to).is_dir()):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        try:
            with urllib.request.urlopen(asset.url, timeout=60) as response, open(tmp, "wb") as f:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=asset.filename,
                          disable=not progress, leave=False) as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        f.write(block)
                        bar.update(len(block))
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise MissingDownloadError(f"download failed ({err}). " + _instructions(asset, path)) from err
        digest = verify(asset, tmp, root)
        tmp.replace(path)
        if not asset.sha256:
            record = _recorded(root)
            record.setdefault(asset.name, digest)
            (root / "checksums.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return ensure(name, root)


def _extract(archive: Path, dest: Path) -> Path:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)
    else:
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    asset = next(a for a in ASSETS.values() if a.filename == archive.name)
    out = dest / asset.extract_to
    if not out.is_dir():
        raise CheckpointError(f"{archive} did not unpack to {out}")
    return out


#: datasets whose licence forbids redistribution: the user downloads them, then prepares them
MANUAL: dict[str, str] = {"cityscapes": "Cityscapes labels -> photos (manual download; "
                                        "`gancomp-lite prepare cityscapes`)"}


def _asset(name: str) -> Asset:
    if name in MANUAL:
        from .cityscapes import LICENCE

        raise MissingDownloadError(f"{name} is not downloaded by the package. {LICENCE}")
    if name not in ASSETS:
        raise MissingDownloadError(f"unknown asset {name!r}: known assets are "
                                   f"{', '.join([*ASSETS, *MANUAL])}")
    return ASSETS[name]


def remove(name: str, root: Path | None = None) -> None:
    """Delete a downloaded asset (file and unpacked folder)."""
    asset = _asset(name)
    path = _target(asset, root)
    path.unlink(missing_ok=True)
    if asset.extract_to:
        shutil.rmtree(path.parent / asset.extract_to, ignore_errors=True)
