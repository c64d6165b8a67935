"""Reading intermediate activations by layer name (forward hooks).

Intermediate feature distillation compares what teacher and student compute
*inside* the network, at layers named as in ``model.named_modules()`` (for
the ResNet generators ``model.9``, ``model.12``, ``model.15``, ``model.18``:
see :attr:`~gancomp_lite.models.resnet.ResnetGenerator.DISTILL_LAYERS`).
:func:`capture_features` attaches a forward hook to each named layer for the
duration of a ``with`` block and collects the layers' outputs, so no hook
stays behind to slow down evaluation or to break a deep copy.

Explained in chapter ``nb/06_distillation`` (section ``sec-distill-hooks``).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn as nn

from ..errors import GancompError


class UnknownLayerError(GancompError, KeyError):
    """A layer name that the model does not have."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def resolve_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """The modules called ``names`` in ``model`` (one clear error if one is missing)."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        top = [n for n in modules if n and n.count(".") <= 1][:40]
        raise UnknownLayerError(
            f"{type(model).__name__} has no layer named {', '.join(map(repr, missing))}; "
            f"layers are named like {', '.join(top)}")
    return {n: modules[n] for n in names}


@contextmanager
def capture_features(model: nn.Module, names: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Collect the outputs of the layers ``names`` while the block runs.

    Yields a dict that fills up as ``model`` runs: after ``y = model(x)``
    inside the block, ``feats[name]`` is the output of layer ``name`` on
    ``x`` (with its autograd graph, so a loss on it trains the layers below).
    If the model runs twice, the last call wins.  Hooks are removed on exit.
    """
    feats: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for name, module in resolve_layers(model, names).items():
            def hook(_module, _inputs, output, name=name):
                feats[name] = output
            handles.append(module.register_forward_hook(hook))
        yield feats
    finally:
        for h in handles:
            h.remove()


def feature_shapes(model: nn.Module, names: Sequence[str], image_size: int = 32,
                   in_channels: int | None = None) -> dict[str, tuple[int, ...]]:
    """Shapes ``(C, H, W)`` of the named layers' outputs for one
    ``image_size`` x ``image_size`` input (a dry run without gradients)."""
    if in_channels is None:
        in_channels = getattr(model, "config", {}).get("input_nc", 3)
    param = next(model.parameters(), None)
    x = torch.zeros(1, in_channels, image_size, image_size,
                    device=param.device if param is not None else None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), capture_features(model, names) as feats:
            model(x)
    finally:
        model.train(was_training)
    return {n: tuple(feats[n].shape[1:]) for n in names}
