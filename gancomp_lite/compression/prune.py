"""Initialising a narrow student from its teacher by L1-norm filter selection.

GAN Compression's distillation starts the student not from random weights but
from a *pruned* copy of the teacher (Table 3, "Pr."): in every convolution
keep the output filters with the largest L1 norm (sum of absolute weights),
and copy their weights.  Three rules make the copied pieces fit together:

* a layer's *input* channels are the channels the previous layer kept (the
  first convolution keeps all image channels);
* inside a residual block the second convolution must return to the channels
  of the block's input, because ``x + block(x)`` adds them channel by
  channel.  So the residual width is chosen once, at the last downsampling
  convolution, and every block's output uses exactly those channels; only
  the inner width of each block is selected freely;
* the last convolution keeps all its output (image) channels.

The score of a filter is the L1 norm of the part that survives: its weights
on the kept input channels (for a transposed convolution, whose weight is
laid out ``[in, out, k, k]``, the output filter is ``W[:, j]``).  Biases and
affine norm parameters of kept channels are copied; a depthwise-separable
convolution keeps the depthwise filters of its kept inputs and selects its
outputs by the L1 norm of the pointwise filters.

Kept filters are ordered by decreasing norm, so selecting at the teacher's
own width permutes its channels and computes exactly the teacher's function
(a test checks this).  Works for :class:`~gancomp_lite.models.ResnetGenerator` and its Mobile variant
(same block type for teacher and student).  Explained in chapter
``nb/06_distillation`` (section ``sec-distill-prune``).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import GancompError
from ..models.resnet import ResnetBlock, ResnetGenerator, SeparableConv2d


def filter_l1(weight: torch.Tensor, transposed: bool = False) -> torch.Tensor:
    """L1 norm of each output filter: ``sum |W[j]|`` (``sum |W[:, j]|`` if transposed)."""
    w = weight.detach().abs()
    return w.sum(dim=(0, 2, 3)) if transposed else w.sum(dim=(1, 2, 3))


def top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` largest scores, largest first (ties: lower index first).

    Keeping the order of importance (rather than the teacher's order) means
    the student's leading channels are its strongest, so a later slice of
    leading channels (the once-for-all supernet's sub-networks) keeps them.
    """
    if k > scores.numel():
        raise GancompError(f"cannot keep {k} of {scores.numel()} filters")
    return torch.argsort(-scores, stable=True)[:k]


def _copy_norm(src: nn.Module, dst: nn.Module, idx: torch.Tensor) -> None:
    if getattr(src, "weight", None) is not None and getattr(dst, "weight", None) is not None:
        dst.weight.data.copy_(src.weight.data[idx])
        dst.bias.data.copy_(src.bias.data[idx])
    if getattr(src, "running_mean", None) is not None and getattr(dst, "running_mean", None) is not None:
        dst.running_mean.copy_(src.running_mean[idx])
        dst.running_var.copy_(src.running_var[idx])


def _copy_conv(src: nn.Conv2d, dst: nn.Conv2d, in_idx: torch.Tensor,
               out_idx: torch.Tensor | None) -> torch.Tensor:
    """Copy a dense convolution; choose ``out_idx`` by L1 if not given."""
    w = src.weight.data[:, in_idx]
    if out_idx is None:
        out_idx = top_k(filter_l1(w), dst.out_channels)
    dst.weight.data.copy_(w[out_idx])
    if src.bias is not None and dst.bias is not None:
        dst.bias.data.copy_(src.bias.data[out_idx])
    return out_idx


def _copy_conv_transpose(src: nn.ConvTranspose2d, dst: nn.ConvTranspose2d,
                         in_idx: torch.Tensor) -> torch.Tensor:
    w = src.weight.data[in_idx]                       # [in, out, k, k]
    out_idx = top_k(filter_l1(w, transposed=True), dst.out_channels)
    dst.weight.data.copy_(w[:, out_idx])
    if src.bias is not None and dst.bias is not None:
        dst.bias.data.copy_(src.bias.data[out_idx])
    return out_idx


def _copy_separable(src: SeparableConv2d, dst: SeparableConv2d, in_idx: torch.Tensor,
                    out_idx: torch.Tensor | None) -> torch.Tensor:
    dw_s, norm_s, pw_s = src.conv
    dw_d, norm_d, pw_d = dst.conv
    if dw_s.out_channels != dw_s.in_channels or dw_d.out_channels != dw_d.in_channels:
        raise GancompError("L1 selection supports separable convolutions without expansion only")
    dw_d.weight.data.copy_(dw_s.weight.data[in_idx])
    if dw_s.bias is not None and dw_d.bias is not None:
        dw_d.bias.data.copy_(dw_s.bias.data[in_idx])
    _copy_norm(norm_s, norm_d, in_idx)
    return _copy_conv(pw_s, pw_d, in_idx, out_idx)


def _copy_any(src: nn.Module, dst: nn.Module, in_idx, out_idx=None) -> torch.Tensor:
    if isinstance(src, SeparableConv2d) and isinstance(dst, SeparableConv2d):
        return _copy_separable(src, dst, in_idx, out_idx)
    if isinstance(src, nn.ConvTranspose2d) and isinstance(dst, nn.ConvTranspose2d):
        if out_idx is not None:
            raise AssertionError("transposed convolutions choose their own outputs")
        return _copy_conv_transpose(src, dst, in_idx)
    if isinstance(src, nn.Conv2d) and isinstance(dst, nn.Conv2d):
        return _copy_conv(src, dst, in_idx, out_idx)
    raise GancompError(f"teacher layer {type(src).__name__} and student layer "
                       f"{type(dst).__name__} do not match")


def _check_pair(student: nn.Module, teacher: nn.Module) -> None:
    for name, net in (("student", student), ("teacher", teacher)):
        if not isinstance(net, ResnetGenerator):
            raise GancompError(f"L1 filter selection needs ResNet-family generators; the {name} "
                               f"is a {type(net).__name__}")
        if net.config.get("separable_down") or net.config.get("separable_up"):
            raise GancompError("L1 filter selection supports decomposed residual blocks only, "
                               "not decomposed down/upsampling layers")
    keys = ("input_nc", "output_nc", "n_blocks", "norm", "separable_blocks", "padding_type")
    diff = [k for k in keys if student.config[k] != teacher.config[k]]
    if diff:
        raise GancompError("student and teacher differ in " + ", ".join(
            f"{k} ({student.config[k]} vs {teacher.config[k]})" for k in diff)
            + ": L1 selection copies filters between networks of the same layout")
    if student.config["ngf"] > teacher.config["ngf"]:
        raise GancompError(f"the student (ngf {student.config['ngf']}) is wider than the teacher "
                           f"(ngf {teacher.config['ngf']}): nothing to select")


@torch.no_grad()
def l1_select(student: ResnetGenerator, teacher: ResnetGenerator) -> dict[str, torch.Tensor]:
    """Overwrite ``student``'s weights with the teacher's largest-L1 filters.

    Returns the kept teacher channel indices per layer output (keys are the
    student's layer names, for example ``model.7`` for the residual width and
    ``model.10.conv_block.1`` for the inner width of the first block).
    """
    _check_pair(student, teacher)
    s, t = student.model, teacher.model
    kept: dict[str, torch.Tensor] = {}
    idx = torch.arange(teacher.config["input_nc"])
    for i in (1, 4, 7):                               # 7x7 stem and two downsamplings
        idx = kept[f"model.{i}"] = _copy_any(t[i], s[i], idx)
        _copy_norm(t[i + 1], s[i + 1], idx)
    residual = idx
    for i, (bs, bt) in enumerate(zip(s, t)):
        if not isinstance(bs, ResnetBlock):
            continue
        layers_s, layers_t = bs.conv_block, bt.conv_block
        convs = [j for j, m in enumerate(layers_t) if isinstance(m, (nn.Conv2d, SeparableConv2d))]
        first, second = convs
        inner = kept[f"model.{i}.conv_block.{first}"] = _copy_any(layers_t[first], layers_s[first], residual)
        _copy_norm(layers_t[first + 1], layers_s[first + 1], inner)
        out = _copy_any(layers_t[second], layers_s[second], inner, out_idx=residual)
        _copy_norm(layers_t[second + 1], layers_s[second + 1], out)
        kept[f"model.{i}.conv_block.{second}"] = out
    idx = residual
    ups = [j for j, m in enumerate(t) if isinstance(m, nn.ConvTranspose2d)]
    for j in ups:
        idx = kept[f"model.{j}"] = _copy_any(t[j], s[j], idx)
        _copy_norm(t[j + 1], s[j + 1], idx)
    last = len(t) - 2                                   # final 7x7 conv (then Tanh)
    kept[f"model.{last}"] = _copy_any(t[last], s[last], idx,
                                      out_idx=torch.arange(teacher.config["output_nc"]))
    return kept
