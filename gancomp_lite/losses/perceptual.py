"""OMGD's perceptual terms: style (Gram) and feature losses on a backbone, SSIM, total variation.

OMGD {cite:p}`ren2021online` trains its student only on the teacher's
outputs, through terms that compare *images* rather than activations of the
two generators:

* **style**: for each backbone stage ``l`` the Gram matrix
  ``G_l = F_l F_l^T / (C H W)`` of the activations ``F_l`` (``[B, C, HW]``),
  L1 between student and teacher, summed over the stages;
* **feature**: L1 between the activations of the second stage (VGG16's
  ``relu2_2``) {cite:p}`johnson2016perceptual`;
* **SSIM**: ``1 - SSIM(student, teacher)`` with an 11-tap Gaussian window
  (sigma 1.5) and ``C1 = 0.01^2``, ``C2 = 0.03^2``, computed on the images in
  ``[-1, 1]`` as OMGD does (torchmetrics with ``data_range=1``; torchmetrics
  pads the borders differently from OMGD's hand-written SSIM, a small
  difference at the image edges);
* **total variation**: the *sum* (not mean) of absolute neighbour differences
  of the student's output.

OMGD's weights are 10 (SSIM), 1e4 (style), 10 (feature), 1e-5 (TV).

The backbone is pluggable (:func:`load_backbone`): ``vgg16`` is OMGD's,
torchvision's ImageNet VGG16 cut after ``relu1_2``, ``relu2_2``, ``relu3_3``
and ``relu4_3``, fed ``(x + 1) / 2`` without ImageNet mean/std normalisation
(as OMGD does); its weights are a download checked against the checksum in
torchvision's file name (asset ``vgg16`` of :mod:`gancomp_lite.data.download`),
used at ``small``/``full``.  Offline, at ``ci``, the backbone is ``synthetic``:
the four ReLU stages of the package's shipped FID feature network
(:class:`~gancomp_lite.metrics.features.SyntheticFeatureNet`).  That network
also computes FID at ``ci``, so a student trained through it is judged in
part by its own training signal: at ``ci`` the exact metric (L1 to the
paired target) is the evidence, FID only a second opinion.  Every loss
reports the backbone it used (:attr:`PerceptualLoss.backbone_name`).

Explained in chapter ``nb/08_crd`` (section ``sec-crd-perceptual``).
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError

#: OMGD's AGD weights in all its scripts
OMGD_WEIGHTS = {"ssim": 10.0, "style": 1e4, "feature": 10.0, "tv": 1e-5}
BACKBONES = ("vgg16", "synthetic")
#: the last layer of each VGG16 stage used (indices into torchvision's
#: ``features``: the ReLU itself, so a stage ends at full resolution before the
#: max-pool that follows it, as OMGD's and CRD's ``utils/vgg.py`` slices do)
VGG16_CUTS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}


class Backbone(nn.Module):
    """A frozen feature extractor: images in ``[-1, 1]`` -> a list of stage activations."""

    def __init__(self, name: str, stages: list[nn.Module], input_map: str, feature_index: int = 1):
        super().__init__()
        self.name = name
        self.stages = nn.ModuleList(stages)
        self.input_map = input_map
        #: which stage the feature loss compares (VGG16's relu2_2)
        self.feature_index = feature_index
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        return super().train(False)  # frozen: its norms never switch to batch statistics

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x + 1) / 2 if self.input_map == "unit" else x
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


def vgg16_backbone(download: bool = False) -> Backbone:
    """OMGD's VGG16 (torchvision ImageNet weights, checksum-verified).

    Offline and without the file this raises
    :class:`~gancomp_lite.errors.MissingDownloadError` naming the URL and the
    place to put it; ``download=True`` fetches it (``small``/``full``)."""
    from torchvision.models import vgg16

    from ..data.download import ensure, fetch

    path = fetch("vgg16") if download else ensure("vgg16")
    net = vgg16(weights=None)
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise GancompError(f"{path} is not torchvision's VGG16 state dict: {err}") from err
    return vgg16_stages(net)


def vgg16_stages(net: nn.Module) -> Backbone:
    """The :class:`Backbone` of a torchvision VGG16 ``net``: its ``features``
    cut after each layer of :data:`VGG16_CUTS` (each stage from the layer
    after the previous cut, so stages 2-4 begin with a max-pool)."""
    cuts = list(VGG16_CUTS.values())
    starts = [0] + [c + 1 for c in cuts[:-1]]
    stages = [nn.Sequential(*net.features[a:b + 1]) for a, b in zip(starts, cuts)]
    return Backbone("vgg16", stages, input_map="unit")


def synthetic_backbone() -> Backbone:
    """The four ReLU stages of the shipped synthetic FID feature network
    (offline; it normalises its input to [-1, 1], which the generators'
    outputs already are)."""
    from ..metrics.features import load_feature_net

    body = load_feature_net().body
    stages = [nn.Sequential(*list(body)[3 * i:3 * i + 3]) for i in range(4)]
    return Backbone("synthetic", stages, input_map="identity")


def load_backbone(name: str, download: bool = False) -> Backbone:
    """The backbone called ``name`` (one of :data:`BACKBONES`)."""
    if name == "vgg16":
        return vgg16_backbone(download)
    if name == "synthetic":
        return synthetic_backbone()
    raise GancompError(f"unknown perceptual backbone {name!r}; choose from {list(BACKBONES)}")


def default_backbone_name(scale) -> str:
    """``synthetic`` at ``ci`` (offline), ``vgg16`` at ``small`` and ``full``."""
    from ..config import Scale, get_scale

    name = scale.name if isinstance(scale, Scale) else get_scale(scale).name
    return "synthetic" if name == "ci" else "vgg16"


# -- the terms ------------------------------------------------------------------------
def gram(features: torch.Tensor) -> torch.Tensor:
    """``F F^T / (C H W)`` per sample (``[B, C, H, W]`` -> ``[B, C, C]``)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def style_loss(student_feats: list[torch.Tensor], teacher_feats: list[torch.Tensor]) -> torch.Tensor:
    """Sum over stages of L1 between the Gram matrices."""
    return sum(F.l1_loss(gram(s), gram(t.detach())) for s, t in zip(student_feats, teacher_feats))


def feature_loss(student_feats, teacher_feats, index: int = 1) -> torch.Tensor:
    """L1 between the activations of stage ``index`` (VGG16's ``relu2_2``)."""
    return F.l1_loss(student_feats[index], teacher_feats[index].detach())


def ssim_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` (torchmetrics; Gaussian 11, sigma 1.5, OMGD's constants on [-1, 1])."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    return 1 - ssim(student, teacher.detach(), gaussian_kernel=True, sigma=1.5, kernel_size=11,
                    data_range=1.0, k1=0.01, k2=0.03)


def tv_loss(images: torch.Tensor) -> torch.Tensor:
    """Total variation: the sum of absolute horizontal and vertical differences."""
    return ((images[..., :, 1:] - images[..., :, :-1]).abs().sum()
            + (images[..., 1:, :] - images[..., :-1, :]).abs().sum())


@dataclass(frozen=True)
class PerceptualWeights:
    """Weights of the four terms (0 leaves a term out)."""

    ssim: float = 0.0
    style: float = 0.0
    feature: float = 0.0
    tv: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def needs_backbone(self) -> bool:
        return bool(self.style or self.feature)


class PerceptualLoss(nn.Module):
    """The weighted perceptual terms between student and teacher output images.

    ``forward`` returns ``{term: unweighted value}`` for the terms with a
    non-zero weight; :meth:`total` weights and sums them.  The backbone is
    a frozen :class:`Backbone` (not trained, not in any optimizer group)."""

    def __init__(self, weights: PerceptualWeights, backbone: Backbone | None = None):
        super().__init__()
        if weights.needs_backbone and backbone is None:
            raise GancompError("style and feature terms need a backbone (see load_backbone)")
        self.weights = weights
        self.backbone = backbone if weights.needs_backbone else None

    @property
    def backbone_name(self) -> str | None:
        return self.backbone.name if self.backbone is not None else None

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> dict[str, torch.Tensor]:
        w, out = self.weights, {}
        if self.backbone is not None:
            fs = self.backbone(student)
            with torch.no_grad():
                ft = self.backbone(teacher.detach())
            if w.style:
                out["style"] = style_loss(fs, ft)
            if w.feature:
                out["feature"] = feature_loss(fs, ft, self.backbone.feature_index)
        if w.ssim:
            out["ssim"] = ssim_loss(student, teacher)
        if w.tv:
            out["tv"] = tv_loss(student)
        return out

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(getattr(self.weights, k) * v for k, v in terms.items())
