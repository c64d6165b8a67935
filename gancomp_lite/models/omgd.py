"""OMGD's deep teacher: the Mobile ResNet with expansion blocks that OMGD trains beside its wide teacher.

On paired tasks OMGD {cite:p}`ren2021online` distils one student from two
online teachers trained together: a *wide* one (a Mobile ResNet four times as
wide as the student) and a *deep* one at the student's own width, made deeper
by "expansion" residual blocks (``MobileResnetDeepestGenerator`` in OMGD's
code).  An expansion block is ``x + [pad, 1x1 C->4C, norm, ReLU, 3x3 4C->4C,
norm, ReLU, 1x1 4C->C, norm, ReLU, dropout, pad, 3x3 C->C, norm](x)``.  The
generator is the Mobile ResNet's skeleton with

* after each of the two stride-2 convolutions (and their norm and ReLU): an
  expansion block, then a 3x3 convolution, norm and ReLU;
* nine separable residual blocks at ``4 * ngf`` with two expansion blocks
  inserted after the fourth;
* after each of the two transposed convolutions: an expansion block, then a
  3x3 convolution, norm and ReLU.

Layer indices and parameter names are those of OMGD's module, so its
checkpoints would load key for key.  As in OMGD's code, the separable
convolutions inside the nine residual blocks always use a non-affine
InstanceNorm and biases, whatever the generator's ``norm``.  The two teachers'
discriminator is :class:`~gancomp_lite.models.discriminator.MultiNLayerDiscriminator`.
Explained in chapter ``nb/08_crd``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .norm import conv_bias, get_norm_layer
from .resnet import ResnetBlock, _pad, init_weights


class ExpansionResnetBlock(nn.Module):
    """OMGD's expansion residual block at width ``dim`` (inner width ``4 * dim``)."""

    def __init__(self, dim: int, norm: str = "instance", dropout: float = 0.0,
                 padding_type: str = "reflect"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        pad, p = _pad(padding_type)
        layers: list[nn.Module] = [*pad, nn.Conv2d(dim, dim * 4, 1, bias=bias), norm_layer(dim * 4),
                                   nn.ReLU(True),
                                   nn.Conv2d(dim * 4, dim * 4, 3, padding=p, bias=bias),
                                   norm_layer(dim * 4), nn.ReLU(True),
                                   nn.Conv2d(dim * 4, dim, 1, bias=bias), norm_layer(dim), nn.ReLU(True),
                                   nn.Dropout(dropout)]
        pad, p = _pad(padding_type)
        layers += [*pad, nn.Conv2d(dim, dim, 3, padding=p, bias=bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class MobileResnetDeepestGenerator(nn.Module):
    """OMGD's deep teacher (``mobile_deepest_resnet``): see the module docstring.

    Args:
        input_nc, output_nc: image channels in and out.
        ngf: base width (OMGD: the student's).
        norm: the norm after every dense convolution (``instance`` by default).
        n_blocks: separable residual blocks (9; the two expansion blocks go
            after the first ``n_blocks // 2``).
        dropout, padding_type: as in :class:`~gancomp_lite.models.ResnetGenerator`.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 16,
                 norm: str = "instance", n_blocks: int = 9, dropout: float = 0.0,
                 padding_type: str = "reflect"):
        super().__init__()
        if ngf < 1 or n_blocks < 0:
            raise ValueError(f"ngf must be >= 1 and n_blocks >= 0, got ngf={ngf}, n_blocks={n_blocks}")
        self.config = dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, norm=norm,
                           n_blocks=n_blocks, dropout=dropout, padding_type=padding_type)
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)

        def expansion(dim):
            return ExpansionResnetBlock(dim, norm, dropout, padding_type)

        def conv3(dim):
            return [nn.Conv2d(dim, dim, 3, stride=1, padding=1, bias=bias), norm_layer(dim),
                    nn.ReLU(True)]

        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias),
                                   norm_layer(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            dim = ngf * mult * 2
            layers += [nn.Conv2d(ngf * mult, dim, 3, stride=2, padding=1, bias=bias),
                       norm_layer(dim), nn.ReLU(True), expansion(dim), *conv3(dim)]
        dim = ngf * 4
        first = n_blocks // 2
        def mobile():    # OMGD's separable blocks keep InstanceNorm inside, whatever ``norm``
            return ResnetBlock(dim, norm, dropout, padding_type, separable=True,
                               separable_norm="instance")

        layers += [mobile() for _ in range(first)]
        layers += [expansion(dim) for _ in range(2)]
        layers += [mobile() for _ in range(n_blocks - first)]
        for mult in (4, 2):
            c_in, c_out = ngf * mult, ngf * mult // 2
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       norm_layer(c_out), nn.ReLU(True), expansion(c_out), *conv3(c_out)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            from ..errors import ImageSizeError
            raise ImageSizeError(f"the deep teacher needs height and width divisible by 4, got "
                                 f"{tuple(x.shape[-2:])}")
        return self.model(x)
