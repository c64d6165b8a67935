"""Data: synthetic worlds shaped like the papers' datasets, and one dataset interface.

* :mod:`gancomp_lite.data.synthetic`: the procedural worlds ``stripes``
  (unpaired, like horse->zebra, with an oracle), ``edges2shapes`` (paired,
  like edges->shoes) and ``labels2scene`` (paired, like Cityscapes
  labels->photo);
* :mod:`gancomp_lite.data.datasets`: torch datasets over real folders (CycleGAN
  and pix2pix layouts) and over the worlds, with the same items, plus
  :func:`write_dataset` and :func:`open_dataset`.

Explained in the book chapter ``nb/02_worlds``, section ``sec-worlds``.
"""
from .datasets import (IMG_EXTENSIONS, PREPROCESS_MODES, AlignedFolderDataset,
                       SyntheticAligned, SyntheticUnaligned, UnalignedFolderDataset,
                       open_dataset, to_tensor, to_uint8, write_dataset)
from .synthetic import (WORLDS, Edges2ShapesWorld, Labels2SceneWorld, StripesWorld,
                        SyntheticWorld, UnknownTaskError, check_size, get_world)

__all__ = [
    "SyntheticWorld",
    "StripesWorld",
    "Edges2ShapesWorld",
    "Labels2SceneWorld",
    "WORLDS",
    "get_world",
    "check_size",
    "UnknownTaskError",
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
