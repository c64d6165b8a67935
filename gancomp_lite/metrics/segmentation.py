"""Cityscapes mIoU of generated photos, as GAN Compression and CAT measure it.

A label-to-photo generator is scored by how well a fixed segmentation network,
DRN-D-105 trained on Cityscapes (Yu, Koltun and Funkhouser's dilated residual
network, the ``drn-d-105_ms_cityscapes.pth`` file of its authors), recovers the
input labels from the generated photo:

* the generated image, quantised to 8 bits as GAN Compression's ``tensor2im``
  does (``(x + 1) / 2 * 255``, truncated), is scaled to [0, 1] and normalised
  with Cityscapes' mean and standard deviation (:data:`MEAN`, :data:`STD`), at
  its own resolution (256x256);
* :class:`DRNSeg` gives per-class log-probabilities at 1/8 of the input,
  upsampled x8 by a fixed bilinear transposed convolution;
* each class map is resized bilinearly (Pillow, float32) to the label's
  2048x1024 and the prediction is the arg-max;
* a 19x19 confusion matrix is summed over all images, labels outside 0-18 (255,
  "ignore") left out; the score is the mean over classes of
  ``TP / (TP + FP + FN)``, times 100, classes never seen or predicted left out
  (``nanmean``), rounded to 2 decimals as the official code reports it.

:class:`DRNSeg` has the official module tree (``base.0`` ... ``base.8``,
``seg``, ``up``), so the released weights load by their own key names
(:func:`load_drn`).  The weights themselves are a manual download
(:data:`DRN_URL`): their authors publish them on a page, not at a fixed file
address.  Explained in the book's page ``nb/12_gpu``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..errors import CheckpointError, GancompError

#: Cityscapes' channel statistics, as GAN Compression's ``cityscapes_mIoU.py`` sets them
MEAN = (0.29010095242892997, 0.32808144844279574, 0.28696394422942517)
STD = (0.1829540508368939, 0.18656561047509476, 0.18447508988480435)
CLASSES = 19
LABEL_SIZE = (2048, 1024)        # width, height of the Cityscapes label maps
DRN_URL = "http://go.yf.io/drn-cityscapes-models"
DRN_FILE = "drn-d-105_ms_cityscapes.pth"


class _Bottleneck(nn.Module):
    """DRN's bottleneck: 1x1, dilated 3x3, 1x1 (x4 channels), BatchNorm after each."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, bias=False,
                               dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


def _conv_layers(inplanes: int, channels: int, convs: int, stride: int = 1, dilation: int = 1):
    modules = []
    for i in range(convs):
        modules += [nn.Conv2d(inplanes, channels, 3, stride=stride if i == 0 else 1,
                              padding=dilation, bias=False, dilation=dilation),
                    nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        inplanes = channels
    return nn.Sequential(*modules)


def _bottleneck_layer(inplanes: int, planes: int, blocks: int, stride: int = 1, dilation: int = 1):
    downsample = None
    if stride != 1 or inplanes != planes * 4:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(planes * 4))
    layers = [_Bottleneck(inplanes, planes, stride, downsample, dilation)]
    layers += [_Bottleneck(planes * 4, planes, dilation=dilation) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def _bilinear_up(classes: int) -> nn.ConvTranspose2d:
    """The fixed x8 upsampling: a grouped 16x16 transposed convolution holding a
    bilinear kernel (the official ``fill_up_weights``)."""
    up = nn.ConvTranspose2d(classes, classes, 16, stride=8, padding=4, groups=classes, bias=False)
    f = math.ceil(16 / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    k = torch.tensor([[(1 - abs(i / f - c)) * (1 - abs(j / f - c)) for j in range(16)]
                      for i in range(16)])
    with torch.no_grad():
        up.weight.copy_(k.expand(classes, 1, 16, 16))
    up.weight.requires_grad_(False)
    return up


class DRNSeg(nn.Module):
    """DRN-D-105 with a 1x1 class head and the fixed x8 upsampling; returns the
    per-class log-probabilities at the input's size (see the module docstring).
    Built with random weights; :func:`load_drn` gives the released ones."""

    def __init__(self, classes: int = CLASSES):
        super().__init__()
        layers, channels = (1, 1, 3, 4, 23, 3, 1, 1), (16, 32, 64, 128, 256, 512, 512, 512)
        stem = nn.Sequential(nn.Conv2d(3, channels[0], 7, padding=3, bias=False),
                             nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True))
        self.base = nn.Sequential(
            stem,
            _conv_layers(channels[0], channels[0], layers[0]),
            _conv_layers(channels[0], channels[1], layers[1], stride=2),
            _bottleneck_layer(channels[1], channels[2], layers[2], stride=2),
            _bottleneck_layer(channels[2] * 4, channels[3], layers[3], stride=2),
            _bottleneck_layer(channels[3] * 4, channels[4], layers[4], dilation=2),
            _bottleneck_layer(channels[4] * 4, channels[5], layers[5], dilation=4),
            _conv_layers(channels[5] * 4, channels[6], layers[6], dilation=2),
            _conv_layers(channels[6], channels[7], layers[7]))
        self.seg = nn.Conv2d(channels[7], classes, 1)
        self.up = _bilinear_up(classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m is not self.up:
                m.weight.data.normal_(0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1]
                                                          * m.out_channels)))
        self.seg.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.up(self.seg(self.base(x))), dim=1)


def load_drn(path) -> DRNSeg:
    """:class:`DRNSeg` with the weights of ``path`` (the released
    ``drn-d-105_ms_cityscapes.pth``, whose keys are the official module names);
    a file that does not fit is one clear error naming the first mismatch."""
    from ..shipped import read_torch_file

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is not on disk: download {DRN_FILE} from {DRN_URL} "
                              f"(DRN-D-105 trained on Cityscapes) and give its path")
    state = read_torch_file(path, weights_only=True, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    model = DRNSeg()
    ours = model.state_dict()
    for key in ours:
        if key not in state:
            raise CheckpointError(f"{path} is not DRN-D-105 for Cityscapes: it has no {key!r}")
        if tuple(state[key].shape) != tuple(ours[key].shape):
            raise CheckpointError(f"{path}: {key} has shape {tuple(state[key].shape)}, DRN-D-105 "
                                  f"needs {tuple(ours[key].shape)}")
    extra = sorted(set(state) - set(ours))
    if extra:
        raise CheckpointError(f"{path} holds weights DRN-D-105 does not have, first {extra[0]!r}")
    model.load_state_dict(state)
    return model.eval()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``N x 3 x H x W`` images in [-1, 1] as ``N x H x W x 3`` uint8, as GAN
    Compression's ``tensor2im`` makes them (scaled, then truncated)."""
    x = images.detach().float().cpu().clamp(-1, 1)
    return ((x.permute(0, 2, 3, 1).numpy() + 1) / 2.0 * 255.0).astype(np.uint8)


def confusion(pred: np.ndarray, label: np.ndarray, n: int = CLASSES) -> np.ndarray:
    """The ``n x n`` confusion matrix (rows: true class) of the pixels whose label is a class."""
    keep = (label >= 0) & (label < n)
    return np.bincount(n * label[keep].astype(int) + pred[keep].astype(int),
                       minlength=n * n).reshape(n, n)


def miou(hist: np.ndarray) -> float:
    """Mean over classes of TP / (TP + FP + FN), x100, classes never present
    nor predicted left out, rounded to 2 decimals."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ious = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
    return round(float(np.nanmean(ious * 100)), 2)


def _resize_maps(maps: np.ndarray, size) -> np.ndarray:
    from PIL import Image

    width, height = size
    if maps.shape[-2:] == (height, width):
        return maps
    return np.stack([np.asarray(Image.fromarray(m).resize((width, height), Image.BILINEAR))
                     for m in maps])


@torch.no_grad()
def predict(model: nn.Module, image: np.ndarray, size=LABEL_SIZE) -> np.ndarray:
    """The class of every label pixel (``H x W`` int64 at ``size``) that ``model``
    reads from one ``H x W x 3`` uint8 image."""
    device = next(model.parameters()).device
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255)
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    logp = model(x[None].to(device))[0].float().cpu().numpy().astype(np.float32)
    return _resize_maps(logp, size).argmax(axis=0)


def cityscapes_miou(fakes: torch.Tensor | np.ndarray, labels, model: nn.Module,
                    progress: bool = False) -> float:
    """GAN Compression's Cityscapes mIoU of generated photos ``fakes`` (``N x 3 x H x W``
    in [-1, 1], or uint8 ``N x H x W x 3``) against ``labels``: the label-id maps
    (``H x W`` arrays, or paths of the ``*_gtFine_trainIds.png`` files the prepared
    ``val_table.txt`` names), one per image."""
    from PIL import Image

    from ..progress import tqdm

    images = to_uint8(fakes) if isinstance(fakes, torch.Tensor) else np.asarray(fakes, np.uint8)
    if len(images) != len(labels):
        raise GancompError(f"{len(images)} generated images but {len(labels)} label maps")
    model.eval()
    hist = np.zeros((CLASSES, CLASSES))
    for image, label in tqdm(list(zip(images, labels)), desc="mIoU", disable=not progress):
        label = np.asarray(Image.open(label)) if isinstance(label, (str, Path)) else np.asarray(label)
        pred = predict(model, image, (label.shape[1], label.shape[0]))
        hist += confusion(pred.ravel(), label.ravel())
    return miou(hist)
