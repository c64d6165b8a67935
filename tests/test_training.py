"""The training loop, objectives and GAN losses."""
import copy
import math

import pytest
import torch

from gancomp_lite.data import SyntheticAligned, SyntheticUnaligned
from gancomp_lite.errors import CheckpointError, GancompError
from gancomp_lite.losses import GANLoss
from gancomp_lite.training import ImagePool, Trainer, cyclegan, linear_decay, pix2pix


def test_gan_losses_on_known_predictions():
    real, fake = torch.full((2, 1, 3, 3), 2.0), torch.full((2, 1, 3, 3), -0.5)
    ls = GANLoss("lsgan")
    assert ls.discriminator_loss(real, fake).item() == pytest.approx(0.5 * (1.0 + 0.25))
    assert ls.generator_loss(fake).item() == pytest.approx(2.25)
    hinge = GANLoss("hinge")
    assert hinge.discriminator_loss(real, fake).item() == pytest.approx(0.5 * (0.0 + 0.5))
    assert hinge.generator_loss(fake).item() == pytest.approx(0.5)
    van = GANLoss("vanilla")
    expected = torch.nn.functional.softplus(torch.tensor(0.5)).item()  # -log(sigmoid(-0.5))
    assert van.generator_loss(fake).item() == pytest.approx(expected)
    # multi-scale predictions are averaged
    assert ls.generator_loss([fake, real]).item() == pytest.approx((2.25 + 1.0) / 2)
    with pytest.raises(GancompError, match="hinge"):
        GANLoss("wasserstein")


def test_linear_decay_schedule():
    f = linear_decay(10)  # 5 constant, 5 decaying
    assert [f(s) for s in range(5)] == [1.0] * 5
    decay = [f(s) for s in range(5, 10)]
    assert all(a > b for a, b in zip(decay, decay[1:])) and decay[-1] > 0
    assert f(10) == pytest.approx(0.0, abs=1e-9)
    assert linear_decay(10, 0)(9) == 1.0
    with pytest.raises(ValueError):
        linear_decay(10, 11)


def test_image_pool_keeps_history_and_round_trips():
    torch.manual_seed(0)
    pool = ImagePool(3)
    for _ in range(5):
        out = pool.query(torch.randn(2, 3, 4, 4))
        assert out.shape == (2, 3, 4, 4)
    assert len(pool.images) == 3
    clone = ImagePool(0)
    clone.load_state_dict(pool.state_dict())
    assert clone.size == 3 and all(torch.equal(a, b) for a, b in zip(clone.images, pool.images))


def _pix2pix_trainer(steps=30, seed=0):
    torch.manual_seed(seed)  # same initial weights for every trainer made here
    ds = SyntheticAligned("edges2shapes", n=16, size=32, seed=0)
    obj = pix2pix("resnet", ngf=4, ndf=8, image_size=32)
    return Trainer(obj, ds, total_steps=steps, batch_size=4, seed=seed, device="cpu", progress=False)


def _cyclegan_trainer(steps=6, seed=0):
    torch.manual_seed(seed)
    ds = SyntheticUnaligned("stripes", n=8, size=32, seed=0, serial=False)
    obj = cyclegan("resnet", ngf=4, ndf=8, image_size=32, pool_size=3)
    return Trainer(obj, ds, total_steps=steps, batch_size=2, seed=seed, device="cpu", progress=False)


def test_pix2pix_l1_falls_and_history_is_recorded():
    torch.manual_seed(0)
    tr = _pix2pix_trainer(steps=40)
    hist = tr.fit()
    assert len(hist) == 40 and tr.step == 40
    first = sum(h["G/l1"] for h in hist[:5]) / 5
    last = sum(h["G/l1"] for h in hist[-5:]) / 5
    assert last < 0.8 * first
    assert {"D/gan", "G/gan", "G/total", "lr"} <= set(hist[0])
    assert hist[-1]["lr"] < hist[0]["lr"]  # the decay half ran


def test_cyclegan_cycle_loss_falls():
    torch.manual_seed(0)
    tr = _cyclegan_trainer(steps=30)
    hist = tr.fit()
    first = sum(h["G/cycle_A"] + h["G/cycle_B"] for h in hist[:5])
    last = sum(h["G/cycle_A"] + h["G/cycle_B"] for h in hist[-5:])
    assert last < first
    assert len(tr.objective.pool_A.images) == 3


@pytest.mark.parametrize("make", [_pix2pix_trainer, _cyclegan_trainer], ids=["pix2pix", "cyclegan"])
def test_resume_equals_uninterrupted(tmp_path, make):
    full = make(steps=6)
    full.fit()
    half = make(steps=6)
    half.fit(until=3, checkpoint=tmp_path / "ck.pt")
    resumed = make(steps=6).load(tmp_path / "ck.pt")
    assert resumed.step == 3
    resumed.fit()
    a, b = full.objective.state_dict(), resumed.objective.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["G/total"] for h in full.history] == [h["G/total"] for h in resumed.history]


def test_checkpoint_errors(tmp_path):
    tr = _pix2pix_trainer(steps=4)
    tr.fit(until=1, checkpoint=tmp_path / "ck.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        _pix2pix_trainer(steps=4).load(bad)
    other = Trainer(pix2pix("resnet", ngf=8, ndf=8, image_size=32),
                    SyntheticAligned("edges2shapes", n=8, size=32), total_steps=4, batch_size=4,
                    device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="other networks"):
        other.load(tmp_path / "ck.pt")
    with pytest.raises(CheckpointError, match="total_steps"):
        _pix2pix_trainer(steps=8).load(tmp_path / "ck.pt")


def test_objective_extension_points():
    obj = pix2pix("resnet", ngf=4, ndf=8, image_size=32)
    extra = torch.nn.Conv2d(16, 16, 1)
    obj.add_to_group("G", "mapping", extra)
    obj.add_term("G", "extra", 0.5, lambda ctx: ctx["fake_B"].abs().mean())
    assert any(p is extra.weight for p in obj.parameters_of("G"))
    with pytest.raises(ValueError, match="already has"):
        obj.add_term("G", "extra", 1.0, lambda ctx: 0)
    tr = Trainer(obj, SyntheticAligned("edges2shapes", n=8, size=32), total_steps=2,
                 batch_size=4, device="cpu", progress=False)
    rec = tr.train_step()
    assert "G/extra" in rec
    # a frozen network is in no optimizer group and never changes
    frozen = obj.frozen(copy.deepcopy(obj.netD))
    assert all(not p.requires_grad for p in frozen.parameters())


def test_dataset_smaller_than_a_batch_is_rejected():
    with pytest.raises(ValueError, match="fewer than one batch"):
        Trainer(pix2pix("resnet", ngf=4, ndf=8, image_size=32),
                SyntheticAligned("edges2shapes", n=2, size=32), total_steps=2, batch_size=4)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_close_to_float32_and_resumes_exactly(amp, tmp_path):
    """Issue 24: the loop under autocast (fp16 with a loss scaler, its state in the
    checkpoint) follows the float32 run's losses closely, and a run stopped and resumed
    ends with exactly the weights of an uninterrupted one."""
    data = SyntheticAligned("edges2shapes", n=8, size=32, seed=0)

    def trainer(precision):
        torch.manual_seed(0)
        return Trainer(pix2pix(ngf=4, ndf=8, image_size=32), data, 16, batch_size=2, seed=0,
                       progress=False, device="cpu", amp=precision)

    ref = trainer(None)
    ref.fit()
    mixed = trainer(amp)
    assert mixed.settings["amp"] == amp and "amp" not in ref.settings
    mixed.fit()
    end = lambda t: sum(h["G/l1"] for h in t.history[-3:]) / 3  # noqa: E731
    assert end(mixed) < mixed.history[0]["G/l1"] and end(ref) < ref.history[0]["G/l1"]
    if amp == "bf16":      # every step taken: the losses follow float32's
        assert abs(end(mixed) - end(ref)) < 0.1 * end(ref), (end(mixed), end(ref))
    else:                  # the scaler starts at 2**16 and skips each step whose scaled
        skipped = round(math.log2(2.0 ** 16 / mixed.scaler.get_scale()))   # gradients overflow
        assert 0 < skipped <= 8, skipped            # ... halving the scale each time
    assert all(p.dtype == torch.float32 for p in mixed.objective.parameters())   # master weights
    whole = trainer(amp)
    whole.fit()
    half = trainer(amp)
    half.fit(until=9, checkpoint=tmp_path / "ck.pt")
    resumed = trainer(amp).load(tmp_path / "ck.pt")
    resumed.fit()
    assert all(torch.equal(a, b) for a, b in zip(whole.objective.state_dict().values(),
                                                 resumed.objective.state_dict().values()))
    with pytest.raises(Exception, match="amp"):        # a float32 checkpoint is another run
        trainer(None).load(tmp_path / "ck.pt")
    with pytest.raises(Exception, match="unknown mixed precision"):
        trainer("int4")
