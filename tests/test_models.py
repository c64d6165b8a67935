"""The generators and discriminator: official layout, shapes, gradients, errors."""
import pytest
import torch
import torch.nn as nn

from gancomp_lite.errors import ImageSizeError
from gancomp_lite.models import (GENERATORS, MobileResnetGenerator, NLayerDiscriminator,
                                 ResnetGenerator, SeparableConv2d, UnetGenerator,
                                 UnknownArchError, build_generator, get_norm_layer)
from gancomp_lite.models.norm import UnknownNormError


def test_resnet_official_indices():
    g = ResnetGenerator(ngf=8)
    types = [type(m).__name__ for m in g.model]
    assert len(types) == 28
    assert types[:10] == ["ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU",
                          "Conv2d", "InstanceNorm2d", "ReLU", "Conv2d", "InstanceNorm2d", "ReLU"]
    assert types[10:19] == ["ResnetBlock"] * 9
    assert types[19:] == ["ConvTranspose2d", "InstanceNorm2d", "ReLU", "ConvTranspose2d",
                          "InstanceNorm2d", "ReLU", "ReflectionPad2d", "Conv2d", "Tanh"]
    names = dict(g.named_modules())
    for layer in ResnetGenerator.DISTILL_LAYERS:
        assert layer in names
    # the official block layout: pad, conv, norm, relu, dropout, pad, conv, norm
    block = [type(m).__name__ for m in g.model[10].conv_block]
    assert block == ["ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU", "Dropout",
                     "ReflectionPad2d", "Conv2d", "InstanceNorm2d"]


def test_default_norm_is_non_affine_instance_norm_with_biases():
    g = ResnetGenerator(ngf=8)
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not n.affine and not n.track_running_stats for n in norms)
    assert g.model[1].bias is not None


def test_batch_norm_drops_conv_bias_and_affine_in_has_params():
    g = ResnetGenerator(ngf=8, norm="batch")
    assert g.model[1].bias is None and isinstance(g.model[2], nn.BatchNorm2d)
    ga = ResnetGenerator(ngf=8, norm="instance_affine")
    assert ga.model[2].affine and ga.model[2].weight.shape == (8,)


def test_mobile_separable_only_inside_blocks():
    g = MobileResnetGenerator(ngf=8)
    assert isinstance(g.model[10].conv_block[1], SeparableConv2d)
    dw = g.model[10].conv_block[1].conv[0]
    assert dw.groups == dw.in_channels == 32 and dw.kernel_size == (3, 3)
    assert g.model[10].conv_block[1].conv[2].kernel_size == (1, 1)
    # everything outside the blocks stays dense
    for i in (1, 4, 7, 26):
        assert isinstance(g.model[i], nn.Conv2d) and g.model[i].groups == 1
    assert isinstance(g.model[19], nn.ConvTranspose2d)


@pytest.mark.parametrize("arch", sorted(GENERATORS))
def test_forward_shape_range_and_gradients(arch):
    torch.manual_seed(0)
    g = build_generator(arch, ngf=4, image_size=32)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1
    y.mean().backward()
    grads = [p.grad for p in g.parameters()]
    assert all(gr is not None for gr in grads)
    assert any(gr.abs().sum() > 0 for gr in grads)


def test_resnet_rejects_size_not_divisible_by_4():
    with pytest.raises(ImageSizeError, match="divisible by 4"):
        ResnetGenerator(ngf=4)(torch.zeros(1, 3, 30, 30))


def test_unet_depth_follows_image_size_and_rejects_bad_input():
    assert UnetGenerator(ngf=4, num_downs=None, image_size=64).num_downs == 6
    assert build_generator("unet", ngf=4, image_size=256).num_downs == 8
    with pytest.raises(ImageSizeError):
        UnetGenerator(ngf=4, num_downs=None, image_size=96)
    with pytest.raises(ImageSizeError, match="divisible by 64"):
        UnetGenerator(ngf=4, num_downs=6)(torch.zeros(1, 3, 32, 32))


def test_unet_official_structure():
    g = UnetGenerator(ngf=64)
    outer = g.model.model
    assert isinstance(outer[0], nn.Conv2d) and outer[0].bias is None  # BatchNorm default
    assert isinstance(outer[-1], nn.Tanh)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g.modules()) == 8


def test_patchgan_output_map():
    d = NLayerDiscriminator(input_nc=6, ndf=8)
    out = d(torch.zeros(1, 6, 256, 256))
    assert out.shape == (1, 1, 30, 30)  # the 70x70 PatchGAN's 30x30 map
    strides = [m.stride[0] for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert strides == [2, 2, 2, 1, 1]


def test_unknown_names_raise_clear_errors():
    with pytest.raises(UnknownArchError, match="mobile_resnet"):
        build_generator("resnet18")
    with pytest.raises(UnknownNormError, match="instance_affine"):
        get_norm_layer("layer")
