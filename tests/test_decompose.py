"""Stage-wise MobileNet decomposition of the ResNet generator (GAN Compression Table 4)."""
import json

import pytest
import torch
import torch.nn as nn

from gancomp_lite.cli import main
from gancomp_lite.compression import decompose, separable_stages
from gancomp_lite.errors import GancompError
from gancomp_lite.metrics.cost import count_params, profile_macs
from gancomp_lite.models import SeparableConv2d, build_generator, from_config
from gancomp_lite.models.resnet import SeparableConvTranspose2d


def within(ours, paper, tol=0.005):
    return abs(ours / paper - 1) <= tol


@pytest.mark.parametrize("ngf,gmacs,mparams", [(64, 18.3, 1.98), (16, 1.4, 0.14)])
def test_blocks_only_matches_the_paper(ngf, gmacs, mparams):
    g = decompose(build_generator("resnet", ngf=ngf), "blocks")
    # Table 4 prints 0.1G and 0.01M: agree to within one unit of the last printed digit
    assert abs(profile_macs(g, 256) / 1e9 - gmacs) <= 0.1
    assert abs(count_params(g) / 1e6 - mparams) <= 0.01
    mobile = build_generator("mobile_resnet", ngf=ngf)
    assert profile_macs(g, 256) == profile_macs(mobile, 256)
    assert count_params(g) == count_params(mobile)


def test_up_only_matches_the_paper():
    g = decompose(build_generator("resnet", ngf=64), "up")
    assert within(profile_macs(g, 256), 48.3e9) and within(count_params(g), 11.05e6)


def test_down_only_cost_follows_from_the_arithmetic():
    base, g = build_generator("resnet", ngf=64), decompose(build_generator("resnet", ngf=64), "down")
    dense = 256 * 256 * 64 * 3 * 49 + 128 * 128 * 128 * 64 * 9 + 64 * 64 * 256 * 128 * 9
    separable = (256 * 256 * 3 * 49 + 256 * 256 * 64 * 3 + 128 * 128 * 64 * 9
                 + 128 * 128 * 128 * 64 + 64 * 64 * 128 * 9 + 64 * 64 * 256 * 128)
    assert profile_macs(base, 256) - profile_macs(g, 256) == dense - separable


def test_layout_indices_and_forward_survive():
    g = decompose(build_generator("resnet", ngf=8), ["down", "blocks", "up"])
    assert separable_stages(g) == ("down", "blocks", "up")
    assert isinstance(g.model[1], SeparableConv2d) and isinstance(g.model[7], SeparableConv2d)
    assert isinstance(g.model[19], SeparableConvTranspose2d)
    assert g.model[19].conv[0].groups == 32
    assert isinstance(g.model[9], nn.ReLU) and len(g.model) == 28
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert g(x).shape == x.shape
    rebuilt = from_config({"cls": "ResnetGenerator", **g.config})
    assert separable_stages(rebuilt) == separable_stages(g)


def test_bad_stage_and_bad_model():
    with pytest.raises(GancompError, match="unknown stage"):
        decompose(build_generator("resnet", ngf=8), "middle")
    with pytest.raises(GancompError, match="ResnetGenerator"):
        decompose(build_generator("unet", ngf=8, image_size=64), "blocks")


def test_cli_profile_decompose(capsys):
    assert main(["profile", "resnet", "--ngf", "16", "--decompose", "blocks", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decompose"] == "blocks" and round(out["macs"]["in-excluded"] / 1e9, 1) == 1.4
    assert main(["profile", "resnet", "--decompose", "sideways"]) == 2
