"""Generators and discriminators, built by name.

Chapter ``nb/01_cost`` introduces them; later chapters add architectures to
:data:`GENERATORS` under their own names.
"""
from __future__ import annotations

from typing import Callable

import torch.nn as nn

from ..errors import GancompError
from .discriminator import MultiNLayerDiscriminator, NLayerDiscriminator
from .inception import InceptionBlock, InceptionGenerator
from .norm import NORMS, conv_bias, get_norm_layer
from .omgd import MobileResnetDeepestGenerator
from .dynamic import SuperMobileResnetGenerator
from .resnet import (MobileResnetGenerator, ResnetBlock, ResnetGenerator,
                     SeparableConv2d, SubMobileResnetGenerator, init_weights)
from .unet import UnetGenerator, UnetSkipConnectionBlock


class UnknownArchError(GancompError, ValueError):
    """An architecture name that :func:`build_generator` does not know."""


def _resnet(ngf: int, norm: str | None, image_size: int | None, **kw) -> nn.Module:
    return ResnetGenerator(ngf=ngf, norm=norm or "instance", **kw)


def _mobile(ngf: int, norm: str | None, image_size: int | None, **kw) -> nn.Module:
    return MobileResnetGenerator(ngf=ngf, norm=norm or "instance", **kw)


def _unet(ngf: int, norm: str | None, image_size: int | None, **kw) -> nn.Module:
    num_downs = kw.pop("num_downs", None)
    if num_downs is None:
        return UnetGenerator(ngf=ngf, norm=norm or "batch", num_downs=None,
                             image_size=image_size or 256, **kw)
    return UnetGenerator(ngf=ngf, norm=norm or "batch", num_downs=num_downs, **kw)


def _deepest(ngf: int, norm: str | None, image_size: int | None, **kw) -> nn.Module:
    return MobileResnetDeepestGenerator(ngf=ngf, norm=norm or "instance", **kw)


def _inception(ngf: int, norm: str | None, image_size: int | None, **kw) -> nn.Module:
    return InceptionGenerator(ngf=ngf, norm=norm or "instance_affine", **kw)


#: architecture name -> constructor ``f(ngf, norm, image_size, **kw)``
GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "resnet": _resnet,
    "mobile_resnet": _mobile,
    "unet": _unet,
    "inception": _inception,
    "mobile_deepest_resnet": _deepest,   # OMGD's deep teacher (models.omgd)
}


def build_generator(arch: str, ngf: int = 64, norm: str | None = None,
                    image_size: int | None = None, **kw) -> nn.Module:
    """Build the generator ``arch`` (see :data:`GENERATORS`) with width ``ngf``.

    ``norm`` defaults to each architecture's official norm (non-affine
    InstanceNorm for the ResNets, BatchNorm for the U-Net).  ``image_size``
    only matters for the U-Net, whose depth follows it.
    """
    if arch not in GENERATORS:
        raise UnknownArchError(
            f"unknown generator {arch!r}: expected one of {', '.join(sorted(GENERATORS))}")
    return GENERATORS[arch](ngf, norm, image_size, **kw)


__all__ = [
    "GENERATORS", "InceptionBlock", "InceptionGenerator", "NORMS", "MobileResnetDeepestGenerator",
    "MobileResnetGenerator", "MultiNLayerDiscriminator", "NLayerDiscriminator", "ResnetBlock",
    "ResnetGenerator", "SeparableConv2d", "SubMobileResnetGenerator", "SuperMobileResnetGenerator",
    "UnetGenerator", "UnetSkipConnectionBlock",
    "UnknownArchError", "build_generator", "conv_bias", "get_norm_layer", "init_weights",
]


#: classes that checkpoints may name, for :func:`from_config`
MODEL_CLASSES = {c.__name__: c for c in (ResnetGenerator, MobileResnetGenerator, UnetGenerator,
                                         InceptionGenerator, NLayerDiscriminator,
                                         SubMobileResnetGenerator, SuperMobileResnetGenerator,
                                         MobileResnetDeepestGenerator, MultiNLayerDiscriminator)}


def from_config(description: dict) -> nn.Module:
    """Rebuild a network from ``{"cls": name, **model.config}`` (as checkpoints store it)."""
    description = dict(description)
    name = description.pop("cls", None)
    if name not in MODEL_CLASSES:
        raise UnknownArchError(f"cannot build network class {name!r}: expected one of "
                               f"{', '.join(MODEL_CLASSES)}")
    if name == "MobileResnetGenerator":
        description.pop("separable_blocks", None)
    return MODEL_CLASSES[name](**description)


def describe(model: nn.Module) -> dict:
    """``{"cls": ..., **config}``: what :func:`from_config` needs to rebuild ``model``."""
    return {"cls": type(model).__name__, **getattr(model, "config", {})}
