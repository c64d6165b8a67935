"""Relational knowledge distillation on sets of items, and CRD's content sets.

Relational KD {cite:p}`park2019relational` does not ask the student to match
the teacher's vectors, only the *relations between* them: for a set of items
``e_1..e_N`` (each a flattened vector) it matches

* the **distance** term: the matrix of pairwise Euclidean distances
  ``d_ij = |e_i - e_j|``, each side divided by the mean of its positive
  entries (so a global scale of either side does not matter), compared by
  smooth-L1;
* the **angle** term: for every anchor ``i`` and pair ``(j, k)`` the cosine of
  the angle between ``e_j - e_i`` and ``e_k - e_i`` (``N^3`` values, invariant
  to translation and scale of the whole set), compared by smooth-L1.

CRD {cite:p}`you2022exploring` (content relationship distillation) applies
this to *pieces of one output image* instead of to the images of a batch
(:func:`content_sets`): its rows (``H`` items of ``3W`` values), its columns
(``W`` items of ``3H``) and its non-overlapping square patches (``32x32`` at
``256x256``: 64 items of ``3*32*32`` values).  Instance-level RKD, the
baseline CRD compares against, uses the images of the batch as the items
(:func:`instance_set`).

Weights.  The official code sums ``1 * distance + 2 * angle`` (``w_d = 1``,
``w_a = 2``: :data:`OFFICIAL_WEIGHTS`); the paper's text sets "alpha and beta
to 2 and 1", which read in the order the equations are written gives the
opposite ratio 2:1.  The package follows the code; the ratio is an argument.

Batches.  Every set here is built per image and the relations are computed
per image, then averaged over the batch (``reduction="mean"``) or summed
(``"sum"``, what the official pix2pix code does).  The official CycleGAN code
squeezes the batch dimension away and only works at batch 1; the official
pix2pix patch term indexes the list of patches by the batch index, so each
call relates the three colour channels of one 32x32 patch.  Here every image
of a batch gets its full rows/columns/patches sets.

Explained in chapter ``nb/08_crd`` (section ``sec-crd-relations``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import GancompError

#: the official code's weights of the distance and angle terms
OFFICIAL_WEIGHTS = {"distance": 1.0, "angle": 2.0}
#: CRD's content sets, in the order of the paper
CONTENT_SETS = ("rows", "columns", "patches")
#: the default patch side at 256x256 images (scaled with the image side)
REFERENCE_PATCH = 32
REFERENCE_SIZE = 256

_EPS = 1e-12
#: distances at or below this are zero (two identical items)
_TINY = 1e-5


class PatchSizeError(GancompError, ValueError):
    """A patch size that does not tile the image."""


# -- the relations of one set --------------------------------------------------
def _gram(items: torch.Tensor) -> torch.Tensor:
    """Gram matrix of the items (``[B, N, D]`` -> ``[B, N, N]``), centred first:
    distances and angles do not change under translation, and centring keeps
    the differences of large inner products accurate."""
    items = items - items.mean(dim=1, keepdim=True)
    return items @ items.transpose(1, 2)


def _distances(gram: torch.Tensor) -> torch.Tensor:
    sq = gram.diagonal(dim1=1, dim2=2)
    d2 = (sq.unsqueeze(2) + sq.unsqueeze(1) - 2 * gram).clamp_min(_EPS)
    d = d2.sqrt()
    eye = torch.eye(d.shape[-1], dtype=torch.bool, device=d.device)
    return d.masked_fill(eye, 0.0)


def distance_matrix(items: torch.Tensor) -> torch.Tensor:
    """Pairwise distances of each set (``[B, N, D]`` -> ``[B, N, N]``), divided
    by the mean of the set's positive distances (the RKD normalisation)."""
    d = _distances(_gram(_check_items(items)))
    pos = d > 0
    mean = (d * pos).sum(dim=(1, 2)) / pos.sum(dim=(1, 2)).clamp_min(1)
    return d / mean.clamp_min(_EPS).view(-1, 1, 1)


def angle_tensor(items: torch.Tensor) -> torch.Tensor:
    """Cosines ``cos(e_j - e_i, e_k - e_i)`` for every anchor ``i`` and pair
    ``(j, k)`` (``[B, N, D]`` -> ``[B, N, N, N]``, index order ``i, j, k``).

    Computed from the Gram matrix ``G``: ``<e_j - e_i, e_k - e_i> = G_jk -
    G_ij - G_ik + G_ii``, so no ``[N, N, D]`` tensor of differences is made.
    A zero difference (``j = i``) gives cosine 0, as the official code's
    normalise-with-epsilon does."""
    g = _gram(_check_items(items))
    d = _distances(g)
    gii = g.diagonal(dim1=1, dim2=2)
    inner = (g.unsqueeze(1) - g.unsqueeze(3) - g.unsqueeze(2) + gii.view(*gii.shape, 1, 1))
    dij, dik = d.unsqueeze(3), d.unsqueeze(2)
    cos = inner / (dij * dik).clamp_min(_EPS)
    # a zero difference has no direction: cosine 0 (rounding would otherwise
    # divide noise by ~0); cosines stay in [-1, 1] despite rounding
    degenerate = (dij <= _TINY) | (dik <= _TINY)
    return cos.masked_fill(degenerate, 0.0).clamp(-1.0, 1.0)


def _check_items(items: torch.Tensor) -> torch.Tensor:
    if items.dim() != 3:
        raise GancompError(f"a relation set is [batch, items, values]; got shape {tuple(items.shape)}")
    if items.shape[1] < 2:
        raise GancompError(f"relations need at least 2 items per set; got {items.shape[1]}")
    return items


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    raise GancompError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def distance_loss(student: torch.Tensor, teacher: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """RKD distance term between two sets of the same number of items (their
    item lengths may differ); the teacher side carries no gradient."""
    _same_count(student, teacher)
    with torch.no_grad():
        t = distance_matrix(teacher)
    s = distance_matrix(student)
    per = F.smooth_l1_loss(s, t, reduction="none").flatten(1).mean(1)
    return _reduce(per, reduction)


def angle_loss(student: torch.Tensor, teacher: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """RKD angle term between two sets of the same number of items."""
    _same_count(student, teacher)
    with torch.no_grad():
        t = angle_tensor(teacher)
    s = angle_tensor(student)
    per = F.smooth_l1_loss(s, t, reduction="none").flatten(1).mean(1)
    return _reduce(per, reduction)


def _same_count(student: torch.Tensor, teacher: torch.Tensor) -> None:
    if student.shape[:2] != teacher.shape[:2]:
        raise GancompError(f"student and teacher sets differ in batch or item count: "
                           f"{tuple(student.shape)} vs {tuple(teacher.shape)}")


def rkd_loss(student: torch.Tensor, teacher: torch.Tensor, w_distance: float = 1.0,
             w_angle: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """``w_distance * distance + w_angle * angle`` (default: the official 1 and 2)."""
    total = student.new_zeros(())
    if w_distance:
        total = total + w_distance * distance_loss(student, teacher, reduction)
    if w_angle:
        total = total + w_angle * angle_loss(student, teacher, reduction)
    return total


# -- content sets ---------------------------------------------------------------
def rows(images: torch.Tensor) -> torch.Tensor:
    """Each row of each image as an item: ``[B, C, H, W]`` -> ``[B, H, C*W]``."""
    b, c, h, w = _check_images(images).shape
    return images.permute(0, 2, 1, 3).reshape(b, h, c * w)


def columns(images: torch.Tensor) -> torch.Tensor:
    """Each column of each image as an item: ``[B, C, H, W]`` -> ``[B, W, C*H]``."""
    b, c, h, w = _check_images(images).shape
    return images.permute(0, 3, 1, 2).reshape(b, w, c * h)


def default_patch_size(image_size: int) -> int:
    """CRD's 32x32 patches at 256x256, scaled with the image side (8 at 64)."""
    return max(1, REFERENCE_PATCH * int(image_size) // REFERENCE_SIZE)


def patches(images: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """Non-overlapping ``size x size`` patches as items:
    ``[B, C, H, W]`` -> ``[B, (H/size)(W/size), C*size*size]``.

    ``size`` defaults to :func:`default_patch_size` of the image height; one
    that does not divide both sides raises :class:`PatchSizeError`."""
    b, c, h, w = _check_images(images).shape
    size = default_patch_size(h) if size is None else int(size)
    if size < 1 or h % size or w % size:
        raise PatchSizeError(f"patch size {size} does not tile a {h}x{w} image; use a divisor of "
                             f"both sides (the default for this size is {default_patch_size(h)})")
    if (h // size) * (w // size) < 2:
        raise PatchSizeError(f"patch size {size} leaves one patch in a {h}x{w} image; relations "
                             "need at least two")
    unfolded = F.unfold(images, kernel_size=size, stride=size)   # [B, C*s*s, L]
    return unfolded.transpose(1, 2)


def instance_set(images: torch.Tensor) -> torch.Tensor:
    """Instance-level RKD's one set: the images of the batch as items,
    ``[B, C, H, W]`` -> ``[1, B, C*H*W]`` (needs a batch of at least 2)."""
    images = _check_images(images)
    if images.shape[0] < 2:
        raise GancompError("instance-level relations need a batch of at least 2 images; "
                           f"got {images.shape[0]}")
    return images.flatten(1).unsqueeze(0)


def _check_images(images: torch.Tensor) -> torch.Tensor:
    if images.dim() != 4:
        raise GancompError(f"expected images [batch, channels, height, width]; got shape "
                           f"{tuple(images.shape)}")
    return images


def content_sets(images: torch.Tensor, sets: Sequence[str] = CONTENT_SETS,
                 patch_size: int | None = None) -> dict[str, torch.Tensor]:
    """The named sets of ``images`` (``rows``, ``columns``, ``patches``, ``instance``)."""
    build = {"rows": rows, "columns": columns, "instance": instance_set,
             "patches": lambda x: patches(x, patch_size)}
    unknown = [s for s in sets if s not in build]
    if unknown:
        raise GancompError(f"unknown relation set(s) {unknown}; choose from {sorted(build)}")
    return {s: build[s](images) for s in sets}


def content_relation_loss(student: torch.Tensor, teacher: torch.Tensor,
                          sets: Sequence[str] = CONTENT_SETS, patch_size: int | None = None,
                          w_distance: float = 1.0, w_angle: float = 2.0,
                          reduction: str = "mean") -> dict[str, torch.Tensor]:
    """RKD of each named set between student and teacher output images:
    a dict ``{set name: loss}`` (weight and sum them as the recipe says)."""
    if student.shape != teacher.shape:
        raise GancompError(f"student and teacher images differ in shape: {tuple(student.shape)} "
                           f"vs {tuple(teacher.shape)}")
    s_sets = content_sets(student, sets, patch_size)
    t_sets = content_sets(teacher.detach(), sets, patch_size)
    return {name: rkd_loss(s_sets[name], t_sets[name], w_distance, w_angle, reduction)
            for name in sets}
