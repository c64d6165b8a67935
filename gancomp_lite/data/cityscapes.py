"""Cityscapes in the official pix2pix layout, from the two archives its licence lets
only the user download.

Cityscapes (https://www.cityscapes-dataset.com) may not be redistributed, so
neither GAN Compression nor this package downloads it.  After registering there,
download ``gtFine_trainvaltest.zip`` (the label maps) and
``leftImg8bit_trainvaltest.zip`` (the photos), unpack both, and run
``gancomp-lite prepare cityscapes --gtfine DIR --leftimg DIR --out DIR``.

:func:`prepare_cityscapes` writes what GAN Compression's
``datasets/prepare_cityscapes_dataset.py`` writes, for the ``val`` and ``train``
splits:

* ``OUT/{split}/{i}.jpg``: the photo (left half, A) beside the colour label map
  (right half, B), each resized to 256x256 with Pillow's default filter for RGB
  images (bicubic, the label map included, as the official script does), JPEG at
  quality 100 without chroma subsampling; ``i`` counts the sorted file names from 0;
* ``OUT/{split}A/{i}_A.jpg`` and ``OUT/{split}B/{i}_B.jpg``: the two halves alone
  (the unpaired layout);
* ``OUT/{split}_table.txt``: one line ``i gtFine/.../*_gtFine_trainIds.png
  leftImg8bit/.../*_leftImg8bit.png`` per image, which maps a generated image back
  to its full-resolution label ids for the mIoU protocol;
* ``OUT/gtFine/{split}/CITY/*_gtFine_trainIds.png``: those label ids, the 19
  evaluated classes numbered 0-18 and everything else 255, made from the
  archive's ``*_gtFine_labelIds.png`` by Cityscapes' own table
  (:data:`TRAIN_IDS`), as GAN Compression's ``datasets/get_trainIds.py`` does
  (it writes them beside the originals; here the downloaded folders are only
  read).

The tables' paths are relative to the folders' parents (the official script's
convention), so the label ids are found under ``OUT``.  The papers translate labels to photos: train with ``direction="BtoA"``
(:class:`~gancomp_lite.data.datasets.AlignedFolderDataset`).  The official tables
are written to ``datasets/{split}_table.txt`` by default; here they sit in the
output folder.  Explained in the book's page ``nb/12_gpu`` (real datasets).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DatasetLayoutError, OutputExistsError
from ..progress import tqdm

#: Cityscapes' label id -> train id of the 19 evaluated classes (its labels.py; all
#: other ids, void included, are 255, which the mIoU leaves out)
TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
             25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}

#: the splits in the order the official script prepares them
SPLITS = ("val", "train")
SIZE = 256
LICENCE = ("Cityscapes may not be redistributed: register at https://www.cityscapes-dataset.com, "
           "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, unpack both, then run "
           "`gancomp-lite prepare cityscapes --gtfine GTFINE_DIR --leftimg LEFTIMG8BIT_DIR "
           "--out data/downloads/datasets/cityscapes`")


def _pairs(gtfine: Path, leftimg: Path, split: str) -> list[tuple[Path, Path]]:
    labels = sorted((gtfine / split).glob("*/*_color.png"))
    photos = sorted((leftimg / split).glob("*/*_leftImg8bit.png"))
    if not labels or not photos:
        raise DatasetLayoutError(
            f"no Cityscapes {split} images: expected {gtfine / split}/CITY/*_gtFine_color.png and "
            f"{leftimg / split}/CITY/*_leftImg8bit.png (the unpacked gtFine_trainvaltest and "
            f"leftImg8bit_trainvaltest folders). " + LICENCE)
    if len(labels) != len(photos):
        raise DatasetLayoutError(f"{len(labels)} label maps in {gtfine / split} but {len(photos)} "
                                 f"photos in {leftimg / split}: the two archives do not match")
    for lab, photo in zip(labels, photos):
        a, b = lab.name.replace("_gtFine_color", ""), photo.name.replace("_leftImg8bit", "")
        if a != b:
            raise DatasetLayoutError(f"{lab} and {photo} are not the same scene: the two archives "
                                     f"do not match")
        ids = lab.with_name(lab.name.replace("_color", "_labelIds"))
        if not ids.exists():
            raise DatasetLayoutError(f"{ids} is missing: gtFine_trainvaltest holds a *_labelIds.png "
                                     f"beside each *_color.png")
    return list(zip(labels, photos))


def train_ids(label_ids):
    """Cityscapes label ids (an ``H x W`` array) as train ids (:data:`TRAIN_IDS`, else 255)."""
    import numpy as np

    table = np.full(256, 255, dtype=np.uint8)
    for i, t in TRAIN_IDS.items():
        table[i] = t
    return table[np.asarray(label_ids, dtype=np.uint8)]


def prepare_cityscapes(gtfine, leftimg, out, force: bool = False, progress: bool = True) -> dict:
    """Write Cityscapes in the official pix2pix layout (see the module docstring).
    ``out`` must be new or empty unless ``force``.  Returns the number of images
    per split."""
    import numpy as np
    from PIL import Image

    gtfine, leftimg, out = Path(gtfine).resolve(), Path(leftimg).resolve(), Path(out)
    for what, folder in (("--gtfine", gtfine), ("--leftimg", leftimg)):
        if not folder.is_dir():
            raise DatasetLayoutError(f"{what} {folder} is not a folder. " + LICENCE)
    pairs = {split: _pairs(gtfine, leftimg, split) for split in SPLITS}   # checked before writing
    if out.exists() and any(out.iterdir()) and not force:
        raise OutputExistsError(f"{out} is not empty: choose a new folder, or pass --force to "
                                f"write the prepared dataset over it")
    counts = {}
    for split in SPLITS:
        for folder in (split, split + "A", split + "B"):
            (out / folder).mkdir(parents=True, exist_ok=True)
        lines = []
        for i, (lab, photo) in enumerate(tqdm(pairs[split], desc=f"cityscapes {split}",
                                               disable=not progress)):
            segmap = Image.open(lab).convert("RGB").resize((SIZE, SIZE))
            image = Image.open(photo).convert("RGB").resize((SIZE, SIZE))
            both = Image.new("RGB", (2 * SIZE, SIZE))
            both.paste(image, (0, 0))
            both.paste(segmap, (SIZE, 0))
            jpeg = dict(format="JPEG", subsampling=0, quality=100)
            both.save(out / split / f"{i}.jpg", **jpeg)
            image.save(out / f"{split}A" / f"{i}_A.jpg", **jpeg)
            segmap.save(out / f"{split}B" / f"{i}_B.jpg", **jpeg)
            ids = ("gtFine" / lab.relative_to(gtfine)).as_posix().replace("_color", "_trainIds")
            (out / ids).parent.mkdir(parents=True, exist_ok=True)
            label_ids = np.asarray(Image.open(lab.with_name(lab.name.replace("_color", "_labelIds"))))
            Image.fromarray(train_ids(label_ids)).save(out / ids)
            lines.append(f"{i} {ids} {photo.relative_to(leftimg.parent).as_posix()}")
        (out / f"{split}_table.txt").write_text("\n".join(lines) + "\n")
        counts[split] = len(lines)
    return counts


def read_table(path) -> dict[int, tuple[str, str]]:
    """A ``{split}_table.txt``: image index -> (label ids file, photo file); the
    label ids relative to the prepared folder, the photo to the folder that holds
    the unpacked ``leftImg8bit``."""
    table = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            i, ids, photo = line.split()
            table[int(i)] = (ids, photo)
    return table
