"""Official generator files (GAN Compression's latest_net_G.pth) converted to this package's files."""
import json

import pytest
import torch

from gancomp_lite.cli import main
from gancomp_lite.errors import CheckpointError
from gancomp_lite.models import (MobileResnetGenerator, ResnetGenerator, SubMobileResnetGenerator,
                                 UnetGenerator)
from gancomp_lite.training.checkpoint import load_generator_file, read_manifest
from gancomp_lite.training.official import official_generator, read_official_state, sub_mobile_config


def official_resnet_state(ngf: int, n_blocks: int = 9, seed: int = 0) -> dict:
    """Random weights under the names and shapes of GAN Compression's ResnetGenerator, written
    out from its layout (a Sequential: pad, 7x7 conv, norm, relu; two stride-2 convs each with
    norm and relu; blocks of pad, conv, norm, relu, dropout, pad, conv, norm; two transposed
    convs; pad, 7x7 conv, tanh), independently of this package's classes."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"model.1": (ngf, 3, 7, 7), "model.4": (2 * ngf, ngf, 3, 3), "model.7": (4 * ngf, 2 * ngf, 3, 3)}
    for b in range(n_blocks):
        for i in (1, 6):
            shapes[f"model.{10 + b}.conv_block.{i}"] = (4 * ngf, 4 * ngf, 3, 3)
    up = 10 + n_blocks
    shapes[f"model.{up}"] = (4 * ngf, 2 * ngf, 3, 3)           # ConvTranspose2d: [in, out, k, k]
    shapes[f"model.{up + 3}"] = (2 * ngf, ngf, 3, 3)
    shapes[f"model.{up + 7}"] = (3, ngf, 7, 7)
    state = {}
    for name, shape in shapes.items():
        out = shape[1] if name in (f"model.{up}", f"model.{up + 3}") else shape[0]
        state[f"{name}.weight"] = torch.randn(shape, generator=g) * 0.05
        state[f"{name}.bias"] = torch.randn(out, generator=g) * 0.05
    return state


def test_an_official_resnet_state_dict_loads_and_computes_our_generator(tmp_path):
    state = official_resnet_state(ngf=8)
    path = tmp_path / "latest_net_G.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)      # as DataParallel saves it
    assert set(read_official_state(path)) == set(state)
    G = official_generator(read_official_state(path), "resnet")
    ours = ResnetGenerator(ngf=8).eval()
    ours.load_state_dict(state)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(G(x), ours(x))
    out = tmp_path / "converted.pt"
    assert main(["convert-official", str(path), "--arch", "resnet", "--out", str(out)]) == 0
    again = load_generator_file(out)
    with torch.no_grad():
        assert torch.equal(again(x), ours(x))                      # float32: bit for bit
    manifest = read_manifest(out)
    assert manifest["source"]["file"] == "latest_net_G.pth" and manifest["config"]["ngf"] == 8
    assert manifest["command"].startswith("gancomp-lite convert-official")
    assert main(["convert-official", str(path), "--arch", "resnet", "--out", str(out)]) == 2  # kept


@pytest.mark.parametrize("arch, net", [
    ("mobile_resnet", lambda: MobileResnetGenerator(ngf=8)),
    ("sub_mobile_resnet", lambda: SubMobileResnetGenerator([4, 6, 8, 4, 8, 12, 4, 6])),
    ("unet", lambda: UnetGenerator(num_downs=6, ngf=8)),
])
def test_every_official_architecture_is_read_from_its_shapes(arch, net):
    torch.manual_seed(0)
    src = net().eval()
    G = official_generator(src.state_dict(), arch)
    assert G.config == src.config
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(G(x), src(x))


def test_the_sub_mobile_configuration_is_read_from_the_weights():
    cfg = [4, 6, 8, 4, 8, 12, 4, 6]
    assert sub_mobile_config(SubMobileResnetGenerator(cfg).state_dict()) == cfg


def test_a_wrong_official_file_is_one_clear_error(tmp_path, capsys):
    state = official_resnet_state(ngf=8)
    bad = dict(state)
    bad["model.4.weight"] = torch.zeros(16, 8, 5, 5)                  # a shape that does not fit
    path = tmp_path / "bad.pth"
    torch.save(bad, path)
    with pytest.raises(CheckpointError, match=r"model\.4\.weight"):
        official_generator(read_official_state(path), "resnet", str(path))
    torch.save({k: v for k, v in state.items() if k != "model.26.bias"}, path)   # a key missing
    with pytest.raises(CheckpointError, match="missing model.26.bias"):
        official_generator(read_official_state(path), "resnet", str(path))
    sub = SubMobileResnetGenerator([4, 6, 8, 4, 8, 12, 4, 6]).state_dict()
    with pytest.raises(CheckpointError, match="sub_mobile_resnet"):
        official_generator(sub, "mobile_resnet")                   # a compressed model, wrong --arch
    path.write_text(json.dumps({"not": "tensors"}))
    assert main(["convert-official", str(path), "--arch", "resnet", "--out", str(tmp_path / "o.pt")]) == 2
    assert "cannot read" in capsys.readouterr().err
    torch.save([1, 2], path)
    with pytest.raises(CheckpointError, match="state dict"):
        read_official_state(path)


def cat_layout(G) -> dict:
    """An InceptionGenerator's weights under the names CAT's own code gives them: inside a
    branch each conv, norm and ReLU is one ``ConvBNReLU`` Sequential after a pad module (also
    for kernel 1) and a Dropout, so a res branch is ``1.0`` conv, ``1.1`` norm, ``4`` conv and a
    dw branch ``0.0`` conv, ``0.1`` norm, ``2.0`` depthwise conv, ``2.1`` norm, ``4`` conv; the
    block norm is ``pw_bn``, which CAT keeps (unused) in a block whose branches were all pruned."""
    import re

    out = {}
    res = {0: "1.0", 1: "1.1", 3: "4"}, {1: "1.0", 2: "1.1", 5: "4"}
    dw = {0: "0.0", 1: "0.1", 3: "2.0", 4: "2.1", 6: "4"}, {0: "0.0", 1: "0.1", 4: "2.0", 5: "2.1", 7: "4"}
    for key, value in G.state_dict().items():
        m = re.fullmatch(r"features\.(\d+)\.(res|dw)_ops\.(\d+)\.(\d+)\.(\w+)", key)
        if m:
            b, kind, i, at, leaf = int(m[1]), m[2], int(m[3]), int(m[4]), m[5]
            branch = getattr(G.features[b], f"{kind}_ops")[i]
            spatial = [c for c in branch if isinstance(c, torch.nn.Conv2d)][0 if kind == "res" else 1]
            names = (res if kind == "res" else dw)[spatial.kernel_size[0] > 1]
            out[f"features.{b}.{kind}_ops.{i}.{names[at]}.{leaf}"] = value
        else:
            out[key.replace(".pw_norm.", ".pw_bn.")] = value
    return out


def test_cat_inception_generators_convert_from_their_own_layout(tmp_path):
    """CAT's teachers and one-step-pruned students (widths read from the shapes, a block
    pruned empty carrying CAT's unused pw_bn) load after renaming and compute our network."""
    from gancomp_lite.models import InceptionGenerator

    torch.manual_seed(0)
    pruned = dict(down=[4, 9, 25], up=[13, 4], branches=[[10] * 6, [0, 5, 1, 2, 0, 9], [0] * 6,
                                                         [1, 0, 0, 0, 0, 2]] + [[2, 3, 4, 5, 6, 7]] * 5)
    for net in (InceptionGenerator(ngf=8, norm="instance_affine"),
                InceptionGenerator(norm="batch", **pruned)):
        net.eval()
        with torch.no_grad():                      # BatchNorm statistics that are not the defaults
            for name, t in net.state_dict().items():
                if name.endswith("running_var"):
                    t.uniform_(0.5, 1.5)
        state = cat_layout(net)
        if net.config["norm"] == "batch":          # CAT keeps the emptied block's norm
            for leaf in ("weight", "bias", "running_mean", "running_var"):
                state[f"features.2.pw_bn.{leaf}"] = torch.ones(25)
            state["features.2.pw_bn.num_batches_tracked"] = torch.tensor(3)
        assert not set(state) & {k for k in net.state_dict() if ".res_ops." in k}   # really renamed
        path = tmp_path / "best_net_G.pth"
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
        out = tmp_path / f"{net.config['norm']}.pt"
        assert main(["convert-official", str(path), "--arch", "inception", "--out", str(out)]) == 0
        G = load_generator_file(out)
        assert G.config == {**net.config, "ngf": net.config["down"][0]}   # CAT's files name no ngf
        x = torch.rand(2, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            assert torch.equal(G(x), net(x))
    bad = dict(state)
    w = bad.pop("features.1.dw_ops.1.2.0.weight")          # the dw5 branch (dw3 was pruned) ...
    bad["features.1.dw_ops.1.2.0.weight"] = torch.zeros(w.shape[0], 1, 7, 7)    # ... as a 7x7
    with pytest.raises(CheckpointError, match="kernel 7"):
        official_generator(bad, "inception")
    bad = dict(state, **{"features.0.res_ops.0.9.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"unexpected features\.0\.res_ops\.0\.9\.weight"):
        official_generator(bad, "inception")
