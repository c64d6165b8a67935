"""MACs and parameters: the papers' numbers within 0.5%, and the conventions."""
import pytest
import torch

from gancomp_lite.metrics.cost import (CONVENTIONS, count_params, layer_costs, profile,
                                       profile_macs)
from gancomp_lite.models import build_generator
from gancomp_lite.papers import GENERATOR_COST


def within(ours, expected, tol=0.005):
    return abs(ours / expected - 1) <= tol


@pytest.fixture(scope="module")
def nets():
    return {key: build_generator(key[0], ngf=key[1], image_size=256) for key in GENERATOR_COST}


# Numbers required by the foundation issue (256x256, RGB in and out).
def test_resnet_ngf64(nets):
    g = nets["resnet", 64]
    assert within(profile_macs(g, 256, "in-excluded"), 56.8e9)
    assert within(profile_macs(g, 256, "in-counted"), 56.8e9)
    assert within(count_params(g), 11.378e6, tol=0.0005)


def test_resnet_ngf16_params(nets):
    assert within(count_params(nets["resnet", 16]), 0.716e6)


def test_mobile_ngf16(nets):
    g = nets["mobile_resnet", 16]
    assert within(profile_macs(g, 256, "in-excluded"), 1.408e9, tol=0.001)
    assert within(count_params(g), 0.137e6)
    # GAN Compression's README convention counts non-affine IN: 1.421G
    assert within(profile_macs(g, 256, "in-counted"), 1.421e9, tol=0.001)


def test_mobile_ngf64_and_unet_params(nets):
    assert within(count_params(nets["mobile_resnet", 64]), 1.987e6)
    assert within(count_params(nets["unet", 64]), 54.41e6)


def test_published_table_entries(nets):
    for key, paper in GENERATOR_COST.items():
        cost = profile(nets[key], 256)
        assert within(cost.mparams, paper["mparams"]), key


def test_exact_convention_counts_transposed_convs_over_input_grid(nets):
    g = nets["resnet", 64]
    tp = profile_macs(g, 256, "in-excluded")
    exact = profile_macs(g, 256, "exact")
    # model.19: 256x64x64 -> 128x128x128; model.22: 128x128x128 -> 64x256x256 (3x3 kernels)
    tp_convt = 128 * 128 * 128 * 256 * 9 + 64 * 256 * 256 * 128 * 9     # output grid x C_in
    true_convt = 256 * 64 * 64 * 128 * 9 + 128 * 128 * 128 * 64 * 9    # input grid x C_out
    assert tp_convt == 4 * true_convt
    assert tp - exact == tp_convt - true_convt


@pytest.mark.parametrize("arch", ["resnet", "mobile_resnet", "unet"])
@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_layer_costs_add_up_to_traced_total(arch, convention):
    g = build_generator(arch, ngf=8, image_size=64)
    rows = layer_costs(g, 64, convention, depth=1 if arch != "unet" else 0)
    assert sum(r["macs"] for r in rows) == profile_macs(g, 64, convention)
    assert sum(r["params"] for r in rows) == count_params(g)


def test_cost_object_names_its_convention(nets):
    c = profile(nets["mobile_resnet", 16], (256, 256), "in-counted")
    assert c.convention == "in-counted" and "in-counted" in str(c)
    assert c.input_size == (256, 256)
    with pytest.raises(ValueError, match="unknown MAC convention"):
        profile_macs(nets["mobile_resnet", 16], 256, "flops")


def test_affine_norm_counted_in_every_torchprofile_convention():
    g = build_generator("resnet", ngf=4, norm="instance_affine")
    a = profile_macs(g, 64, "in-excluded")
    b = profile_macs(g, 64, "in-counted")
    assert a == b  # affine norms are counted either way; nothing left to add
    plain = profile_macs(build_generator("resnet", ngf=4), 64, "in-excluded")
    assert a > plain


def test_the_standard_cost_quality_table_shows_a_noise_floor_row():
    from gancomp_lite.models import build_generator
    from gancomp_lite.viz import cost_quality_table

    models = {"a": build_generator("mobile_resnet", ngf=4), "b": build_generator("mobile_resnet", ngf=8)}
    quality = {"a": {"L1": 0.2, "fid": 3.0}, "b": {"L1": 0.1, "fid": 2.0}}
    table = cost_quality_table(models, quality, size=32, latency_runs=2,
                               noise={"noise floor (test sample)": {"l1": 0.01, "fid": 0.5, "kid": 9}})
    rows = {r["model"]: r for r in table.rows}
    assert rows["b"]["GMACs (in-excluded, 32px)"] > rows["a"]["GMACs (in-excluded, 32px)"] > 0
    assert all(rows[m]["CPU ms range"] >= 0 for m in "ab")
    threads = torch.get_num_threads()
    assert all(rows[m][f"CPU ms (32px, {threads} thread{'s' if threads > 1 else ''})"] > 0 for m in "ab")
    floor = rows["noise floor (test sample)"]
    assert floor["L1"] == 0.01 and floor["fid"] == 0.5 and "kid" not in floor   # same columns, any case
    assert floor.get("M params") is None
    assert "noise floor (test sample)" in table.to_markdown()
