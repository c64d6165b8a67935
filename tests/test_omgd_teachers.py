"""OMGD's two online teachers on paired tasks: the deep teacher's generator, the
discriminator the two teachers share in part, their joint objective, the student's loss
summed over both teachers, and the command line."""
import json
from dataclasses import replace

import pytest
import torch

from gancomp_lite.cli import main
from gancomp_lite.config import SCALES
from gancomp_lite.errors import GancompError, ImageSizeError
from gancomp_lite.losses.perceptual import PerceptualLoss, PerceptualWeights, load_backbone
from gancomp_lite.metrics.cost import count_params
from gancomp_lite.models import (MobileResnetDeepestGenerator, MultiNLayerDiscriminator,
                                 build_generator, describe, from_config)
from gancomp_lite.training.loop import Trainer
from gancomp_lite.training.online import TwoTeacherPix2PixObjective, build_online, preset


def test_the_deep_teacher_has_omgds_layout_and_parameter_count():
    """MobileResnetDeepestGenerator: OMGD's parameter count (2,547,123 at ngf 16 and
    641,883 at ngf 8, counted on OMGD's own module, whose outputs it equals on random weights
    in float64: checked outside the repository), its layer names, any size divisible by 4."""
    G = build_generator("mobile_deepest_resnet", ngf=16)
    assert isinstance(G, MobileResnetDeepestGenerator)
    assert count_params(G) == 2_547_123
    assert count_params(MobileResnetDeepestGenerator(ngf=8)) == 641_883
    keys = G.state_dict().keys()
    # stride-2 conv, norm, ReLU, expansion block (1x1 C->4C first), 3x3 conv: the first stage
    assert tuple(G.state_dict()["model.7.conv_block.1.weight"].shape) == (128, 32, 1, 1)
    assert tuple(G.state_dict()["model.8.weight"].shape) == (32, 32, 3, 3)
    # nine separable blocks with two expansion blocks after the fourth
    assert all(f"model.{i}.conv_block.1.conv.0.weight" in keys for i in (18, 21, 24, 28))
    assert all(f"model.{i}.conv_block.1.weight" in keys for i in (22, 23, 32, 39))
    assert tuple(G.state_dict()["model.29.weight"].shape) == (64, 32, 3, 3)   # the first ConvT
    assert "model.44.weight" in keys and len(G.model) == 46
    assert G(torch.randn(1, 3, 36, 44)).shape == (1, 3, 36, 44)
    with pytest.raises(ImageSizeError):
        G(torch.randn(1, 3, 30, 32))
    assert describe(from_config(describe(G))) == describe(G)


def test_the_two_teachers_discriminator_shares_its_first_stages():
    """MultiNLayerDiscriminator: head 1's loss reaches the shared stages and head 1's own,
    never head 0's; the first copy of a shared stage is never used (as in OMGD's code)."""
    D = MultiNLayerDiscriminator(6, ndf=8, n_share=3)
    x = torch.randn(2, 6, 32, 32)
    assert D(x, 0).shape == D(x, 1).shape == (2, 1, 2, 2)
    D(x, 1).sum().backward()
    grads = {n: p.grad is not None and bool(p.grad.abs().sum() > 0)
             for n, p in D.named_parameters() if n.endswith("block.0.weight")}
    for stage in (1, 2, 3):
        assert grads[f"block{stage}s.1.block.0.weight"] and not grads[f"block{stage}s.0.block.0.weight"]
    for stage in (4, 5):
        assert grads[f"block{stage}s.1.block.0.weight"] and not grads[f"block{stage}s.0.block.0.weight"]
    D.zero_grad(set_to_none=True)
    D(x, 0).sum().backward()
    assert D.block4s[0].block[0].weight.grad is not None and D.block4s[1].block[0].weight.grad is None
    assert D.block3s[1].block[0].weight.grad is not None
    assert not torch.equal(D(x, 0), D(x, 1))
    with pytest.raises(ValueError, match="n_share"):
        MultiNLayerDiscriminator(6, n_share=6)
    with pytest.raises(ValueError, match="head"):
        D(x, 2)


@pytest.fixture(scope="module")
def data():
    from gancomp_lite.data import open_dataset
    return open_dataset("edges2shapes", phase="train", n=8, size=32, seed=0)


def two_teachers(**kw):
    scale = replace(SCALES["ci"], image_size=32, teacher_ngf=8)
    loss = preset("omgd-pix2pix", "synthetic").with_(channel=0.0, anchor=0.0)
    return build_online("edges2shapes", {"S": loss}, "none", scale=scale, student_ngf=4,
                        teacher_arch="mobile_resnet", deep_teacher_ngf=4,
                        backbone=load_backbone("synthetic"), **kw)


def test_both_teachers_train_and_the_student_learns_from_the_sum_over_them(data):
    """One step trains D, both teachers (group G) and the student; D's loss is the sum of the
    two heads' pix2pix losses and the student's perceptual terms the sum over the two
    teachers' outputs (OMGD's backward_D_teacher and backward_G_student)."""
    obj = two_teachers()
    teachers = obj.teacher
    assert isinstance(teachers, TwoTeacherPix2PixObjective)
    assert isinstance(teachers.netG_deep, MobileResnetDeepestGenerator)
    assert teachers.netG.config["separable_blocks"] and teachers.netG.config["ngf"] == 8
    assert obj.group_modules["G"] == ["teacher.netG", "teacher.netG_deep"]
    trainer = Trainer(obj, data, 3, batch_size=2, progress=False)
    torch.manual_seed(0)
    ctx = obj.forward_step(trainer.batch_at(0))
    assert len(ctx["teacher_Bs"]) == 2
    D, gan = teachers.netD, teachers.gan
    real = torch.cat([ctx["real_A"], ctx["real_B"]], 1)
    by_hand = sum(gan.discriminator_loss(D(real, h), D(torch.cat([ctx["real_A"], f.detach()], 1), h))
                  for h, f in enumerate((ctx["fake_B"], ctx["fake_B_deep"])))
    d_loss, _ = obj.group_loss("D", ctx)
    assert torch.allclose(d_loss, by_hand)
    # each teacher's adversarial term goes through its own head
    _, g_parts = obj.group_loss("G", ctx)
    for head, (term, fake) in enumerate((("gan", ctx["fake_B"]), ("gan_deep", ctx["fake_B_deep"]))):
        judged = torch.cat([ctx["real_A"], fake], 1)
        assert g_parts[f"G/{term}"] == pytest.approx(gan.generator_loss(D(judged, head)).item())
        assert g_parts[f"G/{term}"] != pytest.approx(gan.generator_loss(D(judged, 1 - head)).item())
    perc = PerceptualLoss(obj.losses["S"].perceptual, obj.backbone)
    s_loss, parts = obj.group_loss("S", ctx)
    weights = obj.losses["S"].perceptual.as_dict()
    for term in ("ssim", "style", "feature", "tv"):
        one = [perc(ctx["student:S"], t)[term].item() for t in ctx["teacher_Bs"]]
        assert parts[f"S/{term}"] == pytest.approx(sum(one), rel=1e-5)
    assert s_loss.item() == pytest.approx(sum(weights[t] * parts[f"S/{t}"] for t in weights
                                              if weights[t]), rel=1e-5)
    before = {n: [p.detach().clone() for p in m.parameters()]
              for n, m in (("wide", teachers.netG), ("deep", teachers.netG_deep), ("D", D),
                           ("S", obj.student("S")))}
    trainer.train_step()
    for name, params in before.items():
        now = dict((("wide", teachers.netG), ("deep", teachers.netG_deep), ("D", D),
                    ("S", obj.student("S"))))[name].parameters()
        assert any(not torch.equal(a, b) for a, b in zip(params, now)), name


def test_one_teacher_is_unchanged_and_a_deep_teacher_only_goes_with_an_online_paired_run(data):
    """With one teacher every term is computed against its output alone, as before the deep
    teacher existed: relations, perceptual terms and the anchor, each by hand."""
    from gancomp_lite.losses.relations import content_relation_loss

    scale = replace(SCALES["ci"], image_size=32, teacher_ngf=8)
    loss = preset("crd-pix2pix", "synthetic").with_(anchor=1.0)
    one = build_online("edges2shapes", {"S": loss}, "online-frozen", scale=scale,
                       backbone=load_backbone("synthetic"))
    ctx = one.forward_step(Trainer(one, data, 1, batch_size=2, progress=False).batch_at(0))
    assert len(ctx["teacher_Bs"]) == 1 and ctx["teacher_Bs"][0] is ctx["teacher_B"]
    _, parts = one.group_loss("S", ctx)
    s, t = ctx["student:S"], ctx["teacher_B"]
    rel = content_relation_loss(s, t, loss.relations, loss.patch_size, loss.w_distance,
                                loss.w_angle, loss.reduction)
    for name, value in rel.items():
        assert parts[f"S/rkd_{name}"] == value.item()
    perc = PerceptualLoss(loss.perceptual, one.backbone)(s, t)
    for name, value in perc.items():
        if loss.perceptual.as_dict()[name]:
            assert parts[f"S/{name}"] == value.item()
    assert parts["S/anchor"] == (s - t).abs().mean().item()
    with pytest.raises(GancompError, match="deep teacher"):
        build_online("stripes", {"S": preset("omgd-cyclegan").with_(perceptual=PerceptualWeights())},
                     "none", scale=scale, deep_teacher_ngf=4)
    teacher = build_generator("resnet", ngf=8)
    with pytest.raises(GancompError, match="deep teacher"):
        build_online("edges2shapes", {"S": loss}, "pretrained-frozen", scale=scale,
                     pretrained=(teacher, MultiNLayerDiscriminator(6, 8)), deep_teacher_ngf=4)
    with pytest.raises(GancompError, match="unknown teacher architecture"):
        build_online("edges2shapes", {"S": loss}, "online-frozen", scale=scale, teacher_arch="vgg")


def test_omgds_edges2shoes_preset_trains_both_teachers_from_the_command_line(tmp_path, capsys):
    """distill-online --paper-preset omgd-edges2shoes-r-joint: the wide Mobile ResNet teacher
    (ngf 64), the deep one (ngf 16) and their discriminator sharing 3 stages, recorded."""
    out = tmp_path / "omgd"
    assert main(["distill-online", "--task", "edges2shapes", "--paper-preset",
                 "omgd-edges2shoes-r-joint", "--steps", "1", "--n-train", "4", "--n", "4",
                 "--out", str(out), "--no-progress"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    assert record["teacher"]["ngf"] == 64 and record["teacher"]["separable_blocks"]
    assert record["deep_teacher"]["ngf"] == 16 and record["discriminator"]["n_share"] == 3
    assert record["student"]["ngf"] == 16
    capsys.readouterr()
    for bad, says in ((["--task", "stripes", "--method", "omgd", "--deep-teacher-ngf", "4"],
                       "deep teacher"),
                      (["--task", "edges2shapes", "--method", "crd", "--deep-teacher-ngf", "4"],
                       "deep teacher is OMGD's"),
                      (["--task", "edges2shapes", "--method", "omgd", "--n-share", "2"],
                       "--deep-teacher-ngf"),
                      (["--task", "edges2shapes", "--method", "omgd", "--scheme",
                        "pretrained-frozen", "--teacher-arch", "mobile_resnet"], "--teacher-arch")):
        assert main(["distill-online", *bad, "--steps", "1", "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err and err.count("\n") == 1, (bad, err)
    # the preset under a pre-trained scheme distils from the shipped teacher file alone;
    # --deep-teacher-ngf 0 switches the deep teacher off
    for extra in (["--scheme", "pretrained-frozen"], ["--deep-teacher-ngf", "0"]):
        out = tmp_path / ("run" + str(len(extra[1])))
        assert main(["distill-online", "--task", "edges2shapes", "--paper-preset",
                     "omgd-edges2shoes-r-joint", *extra, "--steps", "1", "--n-train", "4", "--n",
                     "4", "--out", str(out), "--no-progress"]) == 0
        assert "deep_teacher" not in json.loads((out / "recipe.json").read_text())
