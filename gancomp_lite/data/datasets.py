"""Datasets: one interface for real image folders and the synthetic worlds.

Every dataset here is a :class:`torch.utils.data.Dataset` whose items are
dicts of float32 tensors ``3 x H x W`` in ``[-1, 1]`` (``x / 127.5 - 1``) plus
their paths and index:

* unpaired (CycleGAN): :class:`UnalignedFolderDataset` reads
  ``root/{trainA,trainB,testA,testB}``, :class:`SyntheticUnaligned` draws the
  same from a synthetic world; items ``{"A", "B", "A_path", "B_path",
  "index"}``.  The synthetic one also gives ``"B_oracle"``, the true
  translation of ``A``, which no real unpaired dataset can give.
* paired (pix2pix): :class:`AlignedFolderDataset` reads side-by-side ``AB``
  images from ``root/{train,val}``, :class:`SyntheticAligned` draws them;
  items ``{"A", "B", "path", "index"}`` (plus ``"labels"`` for label maps).

:func:`write_dataset` writes a synthetic task to disk in exactly the real
layouts, so the folder classes read it back bit for bit, and
:func:`open_dataset` picks the right class for a task name or a folder.

Items are deterministic: random choices (the unpaired B partner with
``serial=False``, crops and flips) are seeded by ``(seed, epoch, index)``, so
an item does not depend on the order it is read in or on DataLoader workers.
Call :meth:`set_epoch` for fresh crops each epoch.

Explained in the book chapter ``nb/02_worlds``, section ``sec-worlds``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import DatasetLayoutError, ImageSizeError
from .synthetic import (SPLITS, WORLDS, Labels2SceneWorld, SyntheticWorld, UnknownTaskError,
                        check_size, get_world)

__all__ = [
    "to_tensor",
    "to_uint8",
    "UnalignedFolderDataset",
    "AlignedFolderDataset",
    "SyntheticUnaligned",
    "SyntheticAligned",
    "write_dataset",
    "open_dataset",
    "IMG_EXTENSIONS",
    "PREPROCESS_MODES",
]

PathLike = Union[str, Path]
Item = Dict[str, Any]

#: file endings read as images (case-insensitive)
IMG_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: ``"none"``: use images as they are; ``"resize"``: resize to ``size``;
#: ``"resize_and_crop"``: the papers' training preprocessing (resize to
#: ``load_size``, random ``size`` crop, random horizontal flip)
PREPROCESS_MODES = ("none", "resize", "resize_and_crop")

_UNALIGNED_LAYOUT = ("unaligned (CycleGAN) layout: ROOT/trainA/, ROOT/trainB/, ROOT/testA/, "
                     "ROOT/testB/, each holding .png/.jpg/.jpeg images")
_ALIGNED_LAYOUT = ("aligned (pix2pix) layout: ROOT/train/ and ROOT/val/ (or ROOT/test/), each "
                   "holding side-by-side AB images (.png/.jpg/.jpeg, A left half, B right half, "
                   "width 2*H)")


# --------------------------------------------------------------------------
# tensors
# --------------------------------------------------------------------------
def to_tensor(image: np.ndarray) -> torch.Tensor:
    """A ``uint8`` image ``H x W x C`` (or ``H x W``) as float32 ``C x H x W`` in ``[-1, 1]``."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"to_tensor expects a uint8 image, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ImageSizeError(f"to_tensor expects an H x W x C image, got shape {arr.shape}")
    if not arr.flags.writeable:  # e.g. np.asarray(PIL image); torch wants writable memory
        arr = arr.copy()
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).to(torch.float32)
    return t / 127.5 - 1.0


def to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`to_tensor`: ``C x H x W`` (or a batch ``N x C x H x W``) to uint8.

    Values are clamped to ``[-1, 1]`` and rounded; the result is ``H x W x C``
    (``N x H x W x C`` for a batch).
    """
    t = tensor.detach().to("cpu", torch.float32).clamp(-1.0, 1.0)
    u8 = ((t + 1.0) * 127.5).round().to(torch.uint8)
    if u8.ndim == 3:
        return u8.permute(1, 2, 0).numpy()
    if u8.ndim == 4:
        return u8.permute(0, 2, 3, 1).numpy()
    raise ImageSizeError(f"to_uint8 expects C x H x W or N x C x H x W, got shape {tuple(t.shape)}")


# --------------------------------------------------------------------------
# seeding and preprocessing (shared by the folder and the synthetic datasets)
# --------------------------------------------------------------------------
def _mix(*keys: int) -> int:
    """A well-mixed non-negative 63-bit seed from a few integers."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def _random_partner(seed: int, index: int, n: int) -> int:
    """The B index paired with A ``index`` when ``serial=False`` (seeded by ``(seed, index)``)."""
    g = torch.Generator().manual_seed(_mix(seed, index, 7))
    return int(torch.randint(n, (1,), generator=g).item())


def _check_options(size: Optional[int], preprocess: str, load_size: Optional[int]
                   ) -> Tuple[Optional[int], Optional[int]]:
    if preprocess not in PREPROCESS_MODES:
        raise ValueError(f"preprocess must be one of {PREPROCESS_MODES}, got {preprocess!r}")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ImageSizeError(f"size must be a positive int, got {size!r}")
        size = int(size)
    if preprocess != "none" and size is None:
        raise ImageSizeError(f"preprocess={preprocess!r} needs the output size= (got None)")
    if preprocess == "resize_and_crop":
        assert size is not None
        load_size = size * 286 // 256 if load_size is None else int(load_size)
        if load_size < size:
            raise ImageSizeError(f"load_size ({load_size}) must be at least size ({size})")
    return size, load_size


class _Preprocess:
    """Resize / random crop / random flip, the same for every image of one item."""

    def __init__(self, mode: str, size: Optional[int], load_size: Optional[int]) -> None:
        self.mode, self.size, self.load_size = mode, size, load_size

    def __call__(self, images: Sequence[Image.Image], nearest: Sequence[bool],
                 rng: np.random.Generator) -> List[Image.Image]:
        if self.mode == "none":
            return list(images)
        assert self.size is not None
        if self.mode == "resize":
            return [im.resize((self.size, self.size),
                              Image.NEAREST if nn else Image.BICUBIC) for im, nn in zip(images, nearest)]
        assert self.load_size is not None
        load, size = self.load_size, self.size
        x = int(rng.integers(0, load - size + 1))
        y = int(rng.integers(0, load - size + 1))
        flip = bool(rng.random() < 0.5)
        out = []
        for im, nn in zip(images, nearest):
            im = im.resize((load, load), Image.NEAREST if nn else Image.BICUBIC)
            im = im.crop((x, y, x + size, y + size))
            if flip:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            out.append(im)
        return out


class _Seeded:
    """Per-item random generators from ``(seed, epoch, index, stream)``."""

    seed: int
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the crops and flips of ``epoch`` (items stay deterministic per epoch)."""
        self.epoch = int(epoch)

    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, stream])


def _resolve_index(index: int, length: int) -> int:
    index = int(index)
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for a dataset of {length} items")
    return index


def _list_images(folder: Path, layout: str) -> List[Path]:
    if not folder.is_dir():
        raise DatasetLayoutError(f"missing folder {folder}; expected the {layout}")
    files = sorted((p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS), key=lambda p: p.name)
    if not files:
        raise DatasetLayoutError(
            f"folder {folder} holds no images (.png/.jpg/.jpeg); expected the {layout}")
    return files


def _open_image(path: Path) -> Image.Image:
    """The decoded image at ``path``; a file that is not one names itself."""
    from ..errors import CorruptImageError

    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (OSError, SyntaxError, ValueError) as err:   # PIL's UnidentifiedImageError is an OSError
        raise CorruptImageError(f"cannot read image {path}: the file is corrupt or not an image "
                                f"({type(err).__name__})") from err


def _report_changes(folder: Path, paths: Sequence[Path], preprocess: str, pairs: bool = False) -> dict:
    """Say once (a :class:`~gancomp_lite.errors.DataChangeWarning`) how many
    images of ``folder`` the loader will change: converted to RGB (grayscale,
    palette, alpha, 16-bit) or, with a resizing ``preprocess``, stretched out
    of their aspect ratio.  Reads only the files' headers.  Returns the counts."""
    import warnings

    from ..errors import DataChangeWarning

    converted = stretched = 0
    for p in paths:
        try:
            with Image.open(p) as im:
                mode, (w, h) = im.mode, im.size
        except (OSError, SyntaxError, ValueError):
            continue  # named when it is read
        converted += mode != "RGB"
        if preprocess != "none":
            stretched += (w != 2 * h) if pairs else (w != h)
    parts = []
    if converted:
        parts.append(f"{converted} converted to RGB (they are grayscale, palette, alpha or 16-bit)")
    if stretched:
        shape = "not twice as wide as high" if pairs else "not square"
        parts.append(f"{stretched} resized out of their aspect ratio ({shape})")
    if parts:
        warnings.warn(f"{folder}: of {len(paths)} images, " + "; ".join(parts),
                      DataChangeWarning, stacklevel=3)
    return {"images": len(paths), "converted": converted, "stretched": stretched}


def _load_rgb(path: Path) -> Image.Image:
    return _open_image(path).convert("RGB")


def _check_square(path: Path, im: Image.Image, size: Optional[int]) -> None:
    if size is not None and im.size != (size, size):
        raise ImageSizeError(
            f"{path}: expected a {size}x{size} image, found {im.size[0]}x{im.size[1]} (W x H); "
            f"pass preprocess='resize' or 'resize_and_crop' to resize it")


# --------------------------------------------------------------------------
# real folders
# --------------------------------------------------------------------------
def _companions(folder: Path, paths: List[Path], what: str, of: str) -> Optional[List[Path]]:
    """Paths of a companion folder (oracles, label maps) holding one file per
    image of ``paths`` under the same name; ``None`` if the folder is absent."""
    if not folder.is_dir():
        return None
    out = [folder / p.name for p in paths]
    missing = [p for p in out if not p.is_file()]
    if missing:
        raise DatasetLayoutError(
            f"{folder} lacks {missing[0].name} ({len(missing)} missing): {what} folder must "
            f"hold one image per {of} image, with the same name")
    return out


class UnalignedFolderDataset(_Seeded, Dataset):
    """Unpaired images in the CycleGAN layout ``root/{trainA,trainB,testA,testB}``.

    Item ``i`` is the ``i``-th A image (cycling if B is longer) with a B
    partner: ``i % len(B)`` when ``serial`` (deterministic), else one drawn by
    a ``torch.Generator`` seeded with ``(seed, i)`` (deterministic too).  The
    length is ``max(len(A), len(B))``.  If ``root/{phase}B_oracle/`` exists
    (written by :func:`write_dataset` for synthetic tasks) the item also holds
    ``"B_oracle"``, the true translation of A, read from the same file name.

    Parameters
    ----------
    root, phase:
        dataset folder and ``"train"``/``"test"``.
    size:
        with ``preprocess="none"``, every image must be exactly
        ``size x size`` (else :class:`ImageSizeError`, raised when the item
        is read); otherwise the output size.
    preprocess, load_size:
        see :data:`PREPROCESS_MODES`; ``load_size`` defaults to
        ``size * 286 // 256`` as in the papers.
    serial, seed:
        how B partners are chosen; ``seed`` also seeds crops and flips.
    """

    def __init__(self, root: PathLike, phase: str = "train", size: Optional[int] = None,
                 preprocess: str = "none", load_size: Optional[int] = None,
                 serial: bool = True, seed: int = 0) -> None:
        self.root = Path(root)
        self.phase = phase
        self.size, self.load_size = _check_options(size, preprocess, load_size)
        self.preprocess = preprocess
        self.serial = bool(serial)
        self.seed = int(seed)
        self._transform = _Preprocess(preprocess, self.size, self.load_size)
        if not self.root.is_dir():
            raise DatasetLayoutError(
                f"dataset folder {self.root} does not exist; expected the {_UNALIGNED_LAYOUT}")
        self.dir_A = self.root / f"{phase}A"
        self.dir_B = self.root / f"{phase}B"
        self.A_paths = _list_images(self.dir_A, _UNALIGNED_LAYOUT)
        self.B_paths = _list_images(self.dir_B, _UNALIGNED_LAYOUT)
        self.changes = {d.name: _report_changes(d, paths, preprocess)
                        for d, paths in ((self.dir_A, self.A_paths), (self.dir_B, self.B_paths))}
        self.oracle_paths = _companions(self.root / f"{phase}B_oracle", self.A_paths,
                                        "an oracle", self.dir_A.name)

    def __len__(self) -> int:
        return max(len(self.A_paths), len(self.B_paths))

    def __getitem__(self, index: int) -> Item:
        index = _resolve_index(index, len(self))
        a_path = self.A_paths[index % len(self.A_paths)]
        n_b = len(self.B_paths)
        b_path = self.B_paths[index % n_b if self.serial else _random_partner(self.seed, index, n_b)]
        a_imgs = [_load_rgb(a_path)]
        if self.oracle_paths is not None:
            a_imgs.append(_load_rgb(self.oracle_paths[index % len(self.A_paths)]))
        b_img = _load_rgb(b_path)
        if self.preprocess == "none":
            _check_square(a_path, a_imgs[0], self.size)
            _check_square(b_path, b_img, self.size)
        # A and its oracle share one crop and flip; B gets its own
        a_imgs = self._transform(a_imgs, [False] * len(a_imgs), self._rng(index, 0))
        (b_img,) = self._transform([b_img], [False], self._rng(index, 1))
        item: Item = {"A": to_tensor(np.asarray(a_imgs[0])), "B": to_tensor(np.asarray(b_img)),
                      "A_path": str(a_path), "B_path": str(b_path), "index": index}
        if len(a_imgs) > 1:
            item["B_oracle"] = to_tensor(np.asarray(a_imgs[1]))
        return item


class ImageListDataset(Dataset):
    """The images of ``paths``, each resized to ``size x size`` (bicubic, as the
    official test transforms do), as ``{"A": tensor in [-1, 1], "path": str}``: a
    folder's images read once each, for evaluation."""

    def __init__(self, paths: Sequence[PathLike], size: int) -> None:
        self.paths = [Path(p) for p in paths]
        self.size = int(size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Item:
        path = self.paths[_resolve_index(index, len(self))]
        im = _load_rgb(path)
        if im.size != (self.size, self.size):
            im = im.resize((self.size, self.size), Image.BICUBIC)
        return {"A": to_tensor(np.asarray(im)), "path": str(path)}


class AlignedFolderDataset(_Seeded, Dataset):
    """Paired images in the pix2pix layout: side-by-side ``AB`` images in ``root/{train,val}``.

    Each image holds A in its left half and B in its right half, so its width
    must be twice its height (else :class:`ImageSizeError`).  ``phase="test"``
    reads ``root/test`` or, if that is missing, ``root/val``.  A and B get the
    same crop and flip.  If ``root/{folder}_labels/`` exists (written by
    :func:`write_dataset` for ``labels2scene``), the item also holds
    ``"labels"``: the int64 ``H x W`` class ids from the same file name.
    ``direction="BtoA"`` swaps A and B.
    """

    def __init__(self, root: PathLike, phase: str = "train", size: Optional[int] = None,
                 preprocess: str = "none", load_size: Optional[int] = None,
                 direction: str = "AtoB", seed: int = 0) -> None:
        self.root = Path(root)
        self.phase = phase
        self.size, self.load_size = _check_options(size, preprocess, load_size)
        self.preprocess = preprocess
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        self.direction = direction
        self.seed = int(seed)
        self._transform = _Preprocess(preprocess, self.size, self.load_size)
        if not self.root.is_dir():
            raise DatasetLayoutError(
                f"dataset folder {self.root} does not exist; expected the {_ALIGNED_LAYOUT}")
        folder = self.root / phase
        if phase == "test" and not folder.is_dir() and (self.root / "val").is_dir():
            folder = self.root / "val"
        self.dir_AB = folder
        self.AB_paths = _list_images(folder, _ALIGNED_LAYOUT)
        self.changes = {folder.name: _report_changes(folder, self.AB_paths, preprocess, pairs=True)}
        self.label_paths = _companions(self.root / f"{folder.name}_labels", self.AB_paths,
                                       "a labels", folder.name)

    def __len__(self) -> int:
        return len(self.AB_paths)

    def __getitem__(self, index: int) -> Item:
        index = _resolve_index(index, len(self))
        path = self.AB_paths[index]
        ab = _load_rgb(path)
        w, h = ab.size
        if w != 2 * h:
            raise ImageSizeError(
                f"{path}: expected side-by-side AB image of width 2*H, found {w}x{h} (W x H)")
        if self.preprocess == "none" and self.size is not None and h != self.size:
            raise ImageSizeError(
                f"{path}: expected a {2 * self.size}x{self.size} AB image (two {self.size}x"
                f"{self.size} halves), found {w}x{h} (W x H)")
        images = [ab.crop((0, 0, h, h)), ab.crop((h, 0, w, h))]
        nearest = [False, False]
        if self.label_paths is not None:
            lab = _open_image(self.label_paths[index])
            if lab.size != (h, h):
                raise ImageSizeError(
                    f"{self.label_paths[index]}: expected a {h}x{h} label image, "
                    f"found {lab.size[0]}x{lab.size[1]}")
            images.append(lab)
            nearest.append(True)
        images = self._transform(images, nearest, self._rng(index, 0))
        a, b = to_tensor(np.asarray(images[0])), to_tensor(np.asarray(images[1]))
        if self.direction == "BtoA":
            a, b = b, a
        item: Item = {"A": a, "B": b, "path": str(path), "index": index}
        if self.label_paths is not None:
            item["labels"] = torch.from_numpy(np.asarray(images[2], dtype=np.int64).copy())
        return item


# --------------------------------------------------------------------------
# synthetic worlds
# --------------------------------------------------------------------------
def _check_n(n: int, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return int(n)


def _check_phase(phase: str) -> str:
    if phase not in SPLITS:
        raise UnknownTaskError(f"unknown phase {phase!r}; expected one of {sorted(SPLITS)}")
    return phase


class _SyntheticBase(_Seeded, Dataset):
    def __init__(self, task: str, n: int, size: int, seed: int, phase: str,
                 preprocess: str, load_size: Optional[int]) -> None:
        self.world: SyntheticWorld = get_world(task, size, seed)
        self.task = task
        self.n = _check_n(n)
        self.size = self.world.size
        self.seed = self.world.seed
        self.phase = _check_phase(phase)
        _, self.load_size = _check_options(self.size, preprocess, load_size)
        self.preprocess = preprocess
        self._transform = _Preprocess(preprocess, self.size, self.load_size)

    def __len__(self) -> int:
        return self.n

    def _prep(self, arrays: Sequence[np.ndarray], index: int, stream: int,
              nearest: Optional[Sequence[bool]] = None) -> List[np.ndarray]:
        """Apply the preprocessing to uint8 arrays exactly as the folder datasets do."""
        if self.preprocess == "none":
            return list(arrays)
        nearest = [False] * len(arrays) if nearest is None else nearest
        images = [Image.fromarray(a) for a in arrays]
        return [np.asarray(im) for im in self._transform(images, nearest, self._rng(index, stream))]


class SyntheticUnaligned(_SyntheticBase):
    """Unpaired samples of a synthetic world, with the same items as :class:`UnalignedFolderDataset`.

    Item ``i``: ``A`` = ``world.sample_a(i)``, ``B`` = ``world.sample_b(j)``
    of an independent scene (``j = i`` when ``serial``, else drawn as the
    folder dataset draws it), and ``B_oracle`` = ``world.oracle(i)``: the
    true B rendering of A's scene.  Real unpaired datasets cannot give this;
    it lets the book measure how far a translation is from the truth.  Paths
    are strings like ``"synthetic://stripes/train/A/000003"``.  Any world
    works, paired ones included (their B images then come from unrelated
    scenes).  Samples are drawn on the fly.
    """

    def __init__(self, task: str = "stripes", n: int = 64, size: int = 64, seed: int = 0,
                 phase: str = "train", serial: bool = True, preprocess: str = "none",
                 load_size: Optional[int] = None) -> None:
        super().__init__(task, n, size, seed, phase, preprocess, load_size)
        self.serial = bool(serial)

    def __getitem__(self, index: int) -> Item:
        index = _resolve_index(index, self.n)
        j = index if self.serial else _random_partner(self.seed, index, self.n)
        a, oracle = self.world.sample(index, self.phase)
        b = self.world.sample_b(j, self.phase)
        a, oracle = self._prep([a, oracle], index, 0)
        (b,) = self._prep([b], index, 1)
        prefix = f"synthetic://{self.task}/{self.phase}"
        return {"A": to_tensor(a), "B": to_tensor(b), "B_oracle": to_tensor(oracle),
                "A_path": f"{prefix}/A/{index:06d}", "B_path": f"{prefix}/B/{j:06d}",
                "index": index}


class SyntheticAligned(_SyntheticBase):
    """Paired samples of a synthetic world, with the same items as :class:`AlignedFolderDataset`.

    Item ``i`` holds ``A, B = world.sample(i)`` (for the unpaired stripes
    world, B is the oracle), ``path`` like
    ``"synthetic://edges2shapes/train/000003"`` and, for ``labels2scene``,
    ``"labels"`` (int64 ``H x W`` class ids).
    """

    def __init__(self, task: str = "edges2shapes", n: int = 64, size: int = 64, seed: int = 0,
                 phase: str = "train", direction: str = "AtoB", preprocess: str = "none",
                 load_size: Optional[int] = None) -> None:
        super().__init__(task, n, size, seed, phase, preprocess, load_size)
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        self.direction = direction

    def __getitem__(self, index: int) -> Item:
        index = _resolve_index(index, self.n)
        labels: Optional[np.ndarray] = None
        if isinstance(self.world, Labels2SceneWorld):
            a, b, labels = self.world.sample_with_labels(index, self.phase)
        else:
            a, b = self.world.sample(index, self.phase)
        if labels is not None:
            a, b, lab8 = self._prep([a, b, labels.astype(np.uint8)], index, 0, [False, False, True])
            labels = lab8.astype(np.int64)
        else:
            a, b = self._prep([a, b], index, 0)
        ta, tb = to_tensor(a), to_tensor(b)
        if self.direction == "BtoA":
            ta, tb = tb, ta
        item: Item = {"A": ta, "B": tb, "path": f"synthetic://{self.task}/{self.phase}/{index:06d}",
                      "index": index}
        if labels is not None:
            item["labels"] = torch.from_numpy(np.ascontiguousarray(labels))
        return item


# --------------------------------------------------------------------------
# writing synthetic tasks to disk, and opening anything
# --------------------------------------------------------------------------
_NUMBERED = re.compile(r"^(\d{6})\.png$")


def _save_png(array: np.ndarray, path: Path) -> None:
    # Pillow writes no time stamp or other metadata by default: same pixels, same bytes
    Image.fromarray(array).save(path, format="PNG", compress_level=6)


#: what :func:`write_dataset` records as ``generator`` in ``dataset.json``
WRITER = "gancomp_lite.data.write_dataset"


def _prepare_folder(folder: Path, count: int) -> None:
    """Create ``folder`` (a fresh one: :func:`write_dataset` clears earlier writes first)."""
    folder.mkdir(parents=True, exist_ok=True)


def _written_by_us(root: Path) -> Optional[Dict[str, Any]]:
    """The ``dataset.json`` of a folder :func:`write_dataset` wrote, else ``None``."""
    meta = root / "dataset.json"
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("generator") == WRITER else None


def write_dataset(task: str, out: PathLike, n: int = 64, n_test: Optional[int] = None,
                  size: int = 64, seed: int = 0, force: bool = False) -> Path:
    """Write synthetic ``task`` to ``out`` in the layout of the real datasets; return ``out``.

    * unpaired tasks: ``out/trainA``, ``trainB`` (``n`` images each),
      ``testA``, ``testB`` and ``testB_oracle`` (``n_test`` each; the oracle
      of each ``testA`` image under the same name);
    * paired tasks: ``out/train`` (``n``) and ``out/val`` (``n_test``) of
      side-by-side AB images, plus for ``labels2scene`` ``out/train_labels``
      and ``out/val_labels``: single-channel PNGs of the class ids.

    Files are ``000000.png``, ``000001.png``, ...; ``out/dataset.json``
    records the arguments (and class names and palette for label maps).  The
    same arguments write byte-identical files.  ``n_test`` defaults to
    ``max(1, n // 4)``.

    ``out`` must be empty or missing.  A folder this function wrote before
    (its ``dataset.json`` says so) is replaced only with ``force``: the
    folders it listed are removed first.  A non-empty folder it did not write
    is never touched (:class:`~gancomp_lite.errors.OutputExistsError`).
    """
    import shutil

    from ..errors import OutputExistsError

    world = get_world(task, size, seed)
    n = _check_n(n)
    n_test = max(1, n // 4) if n_test is None else _check_n(n_test, "n_test")
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise OutputExistsError(f"{root} is a file, not a folder")
    if root.is_dir() and any(root.iterdir()):
        earlier = _written_by_us(root)
        if earlier is None:
            raise OutputExistsError(f"{root} holds files that `data` did not write: "
                                    f"choose an empty or new folder")
        ours = {"dataset.json", *earlier.get("folders", [])}
        foreign = sorted(p.name for p in root.iterdir() if p.name not in ours)
        if foreign:
            raise OutputExistsError(f"{root} holds files besides the dataset written earlier "
                                    f"({', '.join(foreign[:3])}): choose an empty or new folder")
        if not force:
            raise OutputExistsError(f"{root} holds a {earlier.get('task')} dataset written "
                                    f"earlier: pass --force (force=True) to replace it")
        for entry in list(root.iterdir()):   # only real entries of root, never a path from the json
            if entry.is_dir() and entry.name in ours:
                shutil.rmtree(entry)
        (root / "dataset.json").unlink()
    root.mkdir(parents=True, exist_ok=True)
    meta: Dict[str, Any] = {"task": task, "n": n, "n_test": n_test, "size": world.size,
                            "seed": world.seed, "generator": WRITER}
    if not world.aligned:
        meta["layout"] = "unaligned"
        meta["folders"] = ["trainA", "trainB", "testA", "testB", "testB_oracle"]
        for split, count in (("train", n), ("test", n_test)):
            dirs = {k: root / f"{split}{k}" for k in ("A", "B")}
            if split == "test":
                dirs["B_oracle"] = root / "testB_oracle"
            for d in dirs.values():
                _prepare_folder(d, count)
            for i in range(count):
                name = f"{i:06d}.png"
                if split == "test":
                    a, oracle = world.sample(i, split)
                    _save_png(oracle, dirs["B_oracle"] / name)
                else:
                    a = world.sample_a(i, split)
                _save_png(a, dirs["A"] / name)
                _save_png(world.sample_b(i, split), dirs["B"] / name)
    else:
        meta["layout"] = "aligned"
        with_labels = isinstance(world, Labels2SceneWorld)
        meta["folders"] = ["train", "val"] + (["train_labels", "val_labels"] if with_labels else [])
        for split, folder, count in (("train", "train", n), ("test", "val", n_test)):
            _prepare_folder(root / folder, count)
            if with_labels:
                _prepare_folder(root / f"{folder}_labels", count)
            for i in range(count):
                name = f"{i:06d}.png"
                if with_labels:
                    assert isinstance(world, Labels2SceneWorld)
                    a, b, labels = world.sample_with_labels(i, split)
                    _save_png(labels.astype(np.uint8), root / f"{folder}_labels" / name)
                else:
                    a, b = world.sample(i, split)
                _save_png(np.concatenate([a, b], axis=1), root / folder / name)
        if with_labels:
            meta["class_names"] = list(Labels2SceneWorld.CLASS_NAMES)
            meta["palette"] = Labels2SceneWorld.PALETTE.tolist()
    (root / "dataset.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return root


def open_dataset(task_or_path: PathLike, phase: str = "train", size: Optional[int] = None, *,
                 n: Optional[int] = None, seed: int = 0, serial: bool = True,
                 preprocess: str = "none", load_size: Optional[int] = None,
                 direction: str = "AtoB") -> Dataset:
    """Open a synthetic task by name or a dataset folder, with one set of options.

    * a known task name (``"stripes"``, ``"edges2shapes"``, ``"labels2scene"``)
      gives :class:`SyntheticUnaligned` or :class:`SyntheticAligned` after the
      task's kind (``n`` items, default 64; ``size`` default 64);
    * a folder with ``trainA``/``trainB``/``testA``/``testB`` gives
      :class:`UnalignedFolderDataset`; one with ``train``/``val``/``test``
      gives :class:`AlignedFolderDataset` (``n`` is ignored).

    Options that do not apply to the chosen class (``serial`` for paired
    data, ``direction`` for unpaired data) are ignored.
    """
    name = str(task_or_path)
    if isinstance(task_or_path, str) and name in WORLDS:
        size = 64 if size is None else check_size(size)
        n = 64 if n is None else n
        if WORLDS[name].aligned:
            return SyntheticAligned(name, n=n, size=size, seed=seed, phase=phase,
                                    direction=direction, preprocess=preprocess, load_size=load_size)
        return SyntheticUnaligned(name, n=n, size=size, seed=seed, phase=phase, serial=serial,
                                  preprocess=preprocess, load_size=load_size)
    path = Path(task_or_path)
    if path.is_dir():
        if any((path / f"{p}{d}").is_dir() for p in ("train", "test") for d in "AB"):
            return UnalignedFolderDataset(path, phase=phase, size=size, preprocess=preprocess,
                                          load_size=load_size, serial=serial, seed=seed)
        if any((path / d).is_dir() for d in ("train", "val", "test")):
            return AlignedFolderDataset(path, phase=phase, size=size, preprocess=preprocess,
                                        load_size=load_size, direction=direction, seed=seed)
        raise DatasetLayoutError(
            f"{path} has no known dataset layout; expected either the {_UNALIGNED_LAYOUT}, "
            f"or the {_ALIGNED_LAYOUT}")
    raise DatasetLayoutError(
        f"{name!r} is neither a synthetic task ({', '.join(sorted(WORLDS))}) nor an existing "
        f"dataset folder; a folder needs either the {_UNALIGNED_LAYOUT}, or the {_ALIGNED_LAYOUT}")
