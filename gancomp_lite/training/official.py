"""Generators released by the papers' official code, converted to this package's files.

GAN Compression releases its generators as plain PyTorch state dicts
(``latest_net_G.pth``, under ``pretrained/<model>/<task>/<stage>/`` on its
Hugging Face repository ``mit-han-lab/gan-compression``): the full ResNet
teachers (``resnet``), its MobileNet-style teachers (``mobile_resnet``), the
compressed sub-mobile generators (``sub_mobile_resnet``, one configuration
string each) and pix2pix's U-Net (``unet``).  This package's generators keep
the official layer indices and parameter names (:mod:`gancomp_lite.models`),
so a released state dict loads key for key (OMGD's and CRD's students too: they are
GAN Compression's ``mobile_resnet`` and ``unet`` modules; CAT's inception generators,
``inception``, load after a renaming of the layers inside each branch,
:func:`cat_inception_state`); what the conversion adds is the
architecture read from the shapes, a check of every key and shape that names
the first mismatch, and a checksummed file with a manifest that ``evaluate``,
``export`` and ``bench`` read (not ``distill --teacher``: a teacher file also
carries its discriminator, which the releases do not include).

:func:`read_official_state` reads the state dict (``module.`` prefixes of
``DataParallel`` removed), :func:`official_generator` builds the network and
loads it, :func:`convert_official` writes the file (``gancomp-lite
convert-official``).  The inference-time deviation: the official ResNets
clamp their input to [-1, 1] first, which changes nothing for images in that
range, the only ones the package feeds them.

Explained in chapter ``nb/03_teachers``.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..errors import CheckpointError, GancompError
from ..shipped import load_into, read_torch_file

#: the official architectures a released generator can have (``inception``: CAT's
#: teachers and one-step-pruned students; OMGD's and CRD's students are ``mobile_resnet``
#: or ``unet`` in GAN Compression's layout, and load as those)
OFFICIAL_ARCHS = ("resnet", "mobile_resnet", "sub_mobile_resnet", "unet", "inception")


def read_official_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an official generator file: a plain ``{name:
    tensor}`` dict (or one under ``state_dict``/``netG``), with the
    ``module.`` prefixes of ``DataParallel`` removed."""
    raw = read_torch_file(path)
    if isinstance(raw, dict):
        for key in ("state_dict", "netG", "G"):
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if not isinstance(raw, dict) or not raw or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in raw.items()):
        raise CheckpointError(f"{path} is not a generator's state dict (a dict of named tensors)")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in raw.items()}


def _shape(state: dict, key: str, path: str) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"{path} does not match the official layout: it has no {key}")
    return tuple(state[key].shape)


def sub_mobile_config(state: dict, path: str = "the state dict") -> list[int]:
    """The eight widths ``c0..c7`` (ngf units) of a (sub-)mobile ResNet, read
    from its weights' shapes (:mod:`gancomp_lite.models.dynamic` says what each
    entry sets)."""
    c0 = _shape(state, "model.1.weight", path)[0]
    c1 = _shape(state, "model.4.weight", path)[0] // 2
    c2 = _shape(state, "model.7.weight", path)[0] // 4
    inner = [_shape(state, f"model.{10 + 3 * i}.conv_block.1.conv.2.weight", path)[0] // 4
             for i in range(3)]
    c6 = _shape(state, "model.19.weight", path)[1] // 2     # a transposed conv: [in, out, k, k]
    c7 = _shape(state, "model.22.weight", path)[1]
    return [c0, c1, c2, *inner, c6, c7]


#: CAT's names of the layers inside an inception branch (its ``inception_modules.py`` wraps
#: each conv, norm and ReLU in a ``ConvBNReLU`` Sequential and adds a pad module, even of
#: width 0, and a Dropout) -> their index in this package's branch, for kernel 1 and for
#: kernels 3 and 5 (which have a reflection pad before each spatial conv)
_CAT_RES = {"1.0": (0, 1), "1.1": (1, 2), "4": (3, 5)}
_CAT_DW = {"0.0": (0, 0), "0.1": (1, 1), "2.0": (3, 4), "2.1": (4, 5), "4": (6, 7)}


def cat_inception_state(state: dict, path: str = "the state dict") -> tuple[dict, dict]:
    """The :class:`~gancomp_lite.models.InceptionGenerator` configuration and
    state dict of a generator saved by CAT's code (a teacher or a one-step
    pruned student: every width is read from the shapes, as CAT's
    ``load_pretrained_student`` reads them; a branch's kernel from its spatial
    conv).  CAT keeps a pruned-empty block's unused ``pw_bn``; it is dropped
    (that block is the identity in both codes).  A key outside CAT's layout or
    a kernel other than 1, 3, 5 is one :class:`~gancomp_lite.errors.CheckpointError`."""
    import re

    from ..models.inception import KERNELS

    down = [_shape(state, f"down_sampling.{i}.weight", path)[0] for i in (1, 4, 7)]
    up = [_shape(state, f"up_sampling.{i}.weight", path)[1] for i in (0, 3)]
    blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
    if blocks != list(range(len(blocks))):
        raise CheckpointError(f"{path} does not match CAT's layout: its blocks are numbered {blocks}")
    kernel_of, branches, renamed = {}, [], {}
    for b in blocks:
        widths = {"res": {}, "dw": {}}
        for kind, spatial in (("res", "1.0"), ("dw", "2.0")):
            for k in state:
                m = re.fullmatch(rf"features\.{b}\.{kind}_ops\.(\d+)\.{re.escape(spatial)}\.weight", k)
                if m:
                    out_c, _, kh, _ = state[k].shape
                    if kh not in KERNELS or kh in widths[kind]:
                        raise CheckpointError(f"{path}: {k} has kernel {kh}: CAT's branches have "
                                              f"one each of kernels {', '.join(map(str, KERNELS))}")
                    widths[kind][kh] = out_c
                    kernel_of[b, kind, m[1]] = kh
        branches.append([widths["res"].get(k, 0) for k in KERNELS]
                        + [widths["dw"].get(k, 0) for k in KERNELS])
    for key, value in state.items():
        m = re.fullmatch(r"features\.(\d+)\.(res|dw)_ops\.(\d+)\.(.+)\.([^.]+)", key)
        if m:
            b, kind, i, layer, leaf = int(m[1]), m[2], m[3], m[4], m[5]
            table = _CAT_RES if kind == "res" else _CAT_DW
            if (b, kind, i) not in kernel_of or layer not in table:
                raise CheckpointError(f"{path} does not match CAT's layout: unexpected {key}")
            at = table[layer][kernel_of[b, kind, i] > 1]
            renamed[f"features.{b}.{kind}_ops.{i}.{at}.{leaf}"] = value
        elif (m := re.fullmatch(r"features\.(\d+)\.pw_bn\.(.+)", key)):
            if any(branches[int(m[1])]):
                renamed[f"features.{m[1]}.pw_norm.{m[2]}"] = value
        else:
            renamed[key] = value
    batch = any(k.endswith("running_mean") for k in state)
    if not batch and "down_sampling.2.weight" not in state:
        raise CheckpointError(f"{path} has no affine norm: CAT's generators use affine "
                              f"InstanceNorm or BatchNorm (pruning scores their scales)")
    config = dict(input_nc=_shape(state, "down_sampling.1.weight", path)[1],
                  output_nc=_shape(state, "up_sampling.7.weight", path)[0], ngf=down[0],
                  norm="batch" if batch else "instance_affine", n_blocks=len(blocks), down=down,
                  up=up, branches=branches)
    return config, renamed


def official_generator(state: dict, arch: str, path: str = "the state dict") -> nn.Module:
    """This package's generator of ``arch`` (see :data:`OFFICIAL_ARCHS`),
    sized from ``state``'s shapes, with ``state`` loaded into it (eval mode).
    A key or shape that does not fit is one
    :class:`~gancomp_lite.errors.CheckpointError` naming the first ones."""
    from ..models import (InceptionGenerator, MobileResnetGenerator, ResnetGenerator,
                          SubMobileResnetGenerator, UnetGenerator)

    if arch not in OFFICIAL_ARCHS:
        raise GancompError(f"unknown official architecture {arch!r}: expected one of "
                           f"{', '.join(OFFICIAL_ARCHS)}")
    if arch == "resnet":
        ngf = _shape(state, "model.1.weight", path)[0]
        blocks = len({k.split(".")[1] for k in state if ".conv_block." in k})
        G = ResnetGenerator(ngf=ngf, n_blocks=blocks)
    elif arch in ("mobile_resnet", "sub_mobile_resnet"):
        config = sub_mobile_config(state, path)
        if arch == "mobile_resnet" and len(set(config)) != 1:
            raise CheckpointError(f"{path} is a compressed (sub-mobile) generator, configuration "
                                  f"{'_'.join(map(str, config))}: convert it with --arch "
                                  "sub_mobile_resnet")
        G = (MobileResnetGenerator(ngf=config[0]) if arch == "mobile_resnet"
             else SubMobileResnetGenerator(config))
    elif arch == "inception":
        config, state = cat_inception_state(state, path)
        G = InceptionGenerator(**config)
    else:
        ngf = _shape(state, "model.model.0.weight", path)[0]
        norm = "batch" if any(k.endswith("running_mean") for k in state) else "instance"
        fits = [d for d in range(5, 13)                       # the depth whose names are these
                if set(UnetGenerator(num_downs=d, ngf=1, norm=norm).state_dict()) == set(state)]
        G = UnetGenerator(num_downs=fits[0] if fits else 8, ngf=ngf, norm=norm)
    return load_into(G, state, str(path)).eval()


def convert_official(src: str | Path, arch: str, out: str | Path, force: bool = False,
                     command: str | None = None) -> Path:
    """Convert the official generator file ``src`` to this package's file
    ``out`` (``.pt``, float32 weights, checksummed, a manifest beside it that
    records the source file's name and SHA-256, the architecture read and the
    command).  An existing ``out`` is kept unless ``force``."""
    from ..provenance import code_version, sha256_of
    from .checkpoint import OFFICIAL_KIND, save_network

    src = Path(src)
    G = official_generator(read_official_state(src), arch, str(src))
    return save_network(G, out, "official", {
        "kind": OFFICIAL_KIND, "source": {"file": src.name, "sha256": sha256_of(src)},
        "arch": arch, "config": dict(G.config), "command": command, "code_version": code_version()},
        "a converted generator", force, half=False)[0]
