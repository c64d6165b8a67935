"""MobileNet-style decomposition of the ResNet generator, stage by stage.

GAN Compression (section 3.2, Table 4) splits the ResNet generator into three
stages and replaces the convolutions of one stage at a time by depthwise-
separable ones {cite:p}`howard2017mobilenets`:

``down``
    the three convolutions before the blocks (7x7, and two 3x3 with stride
    2).  Each becomes a depthwise kxk convolution with the same stride
    (one filter per input channel), a norm, and a pointwise 1x1 convolution
    to the output channels.
``blocks``
    the two 3x3 convolutions inside each of the nine residual blocks, the
    same way.  This is GAN Compression's MobileNet-style generator.
``up``
    the two stride-2 transposed convolutions.  A transposed convolution has
    no single obvious separable form.  We use a *depthwise transposed*
    convolution (each channel upsampled by its own 3x3 kernel, stride 2),
    a norm, then a pointwise 1x1 convolution at the output resolution.  This
    keeps the order of the separable convolution (spatial first, then
    channels) and its inductive bias (upsampling learned per channel).  The
    alternative, pointwise first at the input resolution and depthwise
    upsampling after, is cheaper when channels shrink but makes the 1x1 mix
    run before any spatial context.  Our choice reproduces the paper's cost
    for this variant (48.3G MACs, 11.05M parameters at ngf 64), which
    suggests it is also theirs.

Norms inside a separable convolution follow the generator's norm.  The
layer indices of ``model`` do not change (``model.9`` is still the last
encoder ReLU), so distillation hooks still find their layers.  Weights are
freshly initialised: a decomposed network computes a different function.
Explained in chapter ``nb/04_decomposition``.
"""
from __future__ import annotations

from typing import Iterable

from ..errors import GancompError
from ..models.resnet import ResnetGenerator

STAGES = ("down", "blocks", "up")
_FLAGS = {"down": "separable_down", "blocks": "separable_blocks", "up": "separable_up"}


def parse_stages(stages: str | Iterable[str]) -> tuple[str, ...]:
    """``"down,up"`` or ``["down", "up"]`` -> ``("down", "up")``, checked."""
    if isinstance(stages, str):
        stages = [s for s in stages.replace(" ", "").split(",") if s]
    stages = tuple(dict.fromkeys(stages))
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise GancompError(f"unknown stage(s) {', '.join(bad)}: expected any of {', '.join(STAGES)}")
    return stages


def decompose(model: ResnetGenerator, stages: str | Iterable[str]) -> ResnetGenerator:
    """A fresh ResNet generator like ``model`` with ``stages`` made separable.

    Stages already separable in ``model`` stay separable.
    """
    if not isinstance(model, ResnetGenerator):
        raise GancompError(f"decompose works on ResnetGenerator, not {type(model).__name__}")
    config = dict(model.config)
    for stage in parse_stages(stages):
        config[_FLAGS[stage]] = True
    return ResnetGenerator(**config)


def separable_stages(model: ResnetGenerator) -> tuple[str, ...]:
    """Which stages of ``model`` are decomposed."""
    return tuple(s for s in STAGES if model.config.get(_FLAGS[s], False))
