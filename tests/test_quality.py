"""Quality metrics, downloads with checksums, and shipped artifacts."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from gancomp_lite.data import download
from gancomp_lite.errors import CheckpointError, MissingDownloadError
from gancomp_lite.metrics.quality import evaluate, fid, paired_metrics
from gancomp_lite.models import ResnetGenerator, build_generator
from gancomp_lite.shipped import load_into, write_shipped
from gancomp_lite.training.checkpoint import load_teacher_file, teacher_payload
from gancomp_lite.training import pix2pix


class TinyFeatures(nn.Module):
    num_features = 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, x):
        return torch.tanh(self.conv(x)).mean(dim=(2, 3))


def test_fid_identical_near_zero_and_shift_larger():
    torch.manual_seed(0)
    real = torch.rand(64, 3, 32, 32) * 2 - 1
    feats = TinyFeatures()
    same = fid(real, real.clone(), feats)
    shifted = fid(real, (real + 0.3).clamp(-1, 1), feats)
    more = fid(real, (real + 0.6).clamp(-1, 1), feats)
    assert abs(same) < 1e-3
    assert shifted > 100 * max(abs(same), 1e-6) and more > shifted
    with pytest.raises(Exception, match="at least 2"):
        fid(real[:1], real[:1], feats)


def test_oracle_metrics_ignore_stripe_phase_but_not_colour():
    from gancomp_lite.metrics.quality import oracle_metrics, test_set

    d = test_set("stripes", 8, 64)
    truth = oracle_metrics(d["B_oracle"], d["B_oracle"], d["mask"])
    assert truth == {"oracle_l1": 0.0, "oracle_background_l1": 0.0, "oracle_animal_w1": 0.0}
    ident = oracle_metrics(d["A"], d["B_oracle"], d["mask"])
    # stripes moved by one pixel inside the animals: same colours, other places
    shifted = torch.where(d["mask"][:, None], torch.roll(d["B_oracle"], 1, -1), d["B_oracle"])
    moved = oracle_metrics(shifted, d["B_oracle"], d["mask"])
    assert moved["oracle_background_l1"] == 0
    assert moved["oracle_animal_w1"] < 0.25 * ident["oracle_animal_w1"]
    assert moved["oracle_l1"] > 0.25 * ident["oracle_l1"]  # pixel L1 barely tells them apart


def test_paired_metrics():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    same = paired_metrics(x, x)
    assert same["l1"] == 0 and same["ssim"] == pytest.approx(1.0)
    noisy = paired_metrics((x + 0.2 * torch.randn_like(x)).clamp(-1, 1), x)
    assert noisy["l1"] > 0.05 and noisy["psnr"] < 30 and noisy["ssim"] < 0.95
    with pytest.raises(Exception, match="equal shapes"):
        paired_metrics(x, x[:, :, :16])


class Identity(nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + 0 * self.dummy


@pytest.mark.parametrize("task", ["stripes", "edges2shapes"])
def test_evaluate_reports_metrics_and_baselines(task):
    m = evaluate(Identity(), task, n=8, size=32, features=TinyFeatures())
    assert m["fid"] == pytest.approx(m["identity_fid"], rel=1e-4)
    if task == "stripes":
        assert m["oracle_l1"] == pytest.approx(m["identity_oracle_l1"]) and m["oracle_l1"] > 0
        assert m["oracle_background_l1"] == 0 and m["oracle_animal_w1"] > 0.2
    else:
        assert m["l1"] == pytest.approx(m["identity_l1"])
        assert {"psnr", "ssim", "mean_target_l1", "mean_target_fid"} <= set(m)


def test_shipped_file_checksum_and_architecture(tmp_path):
    obj = pix2pix("resnet", ngf=4, ndf=8, image_size=32)
    path = tmp_path / "t.pt"
    manifest = write_shipped(teacher_payload(obj), path, {"kind": "test"})
    assert json.loads(path.with_suffix(".json").read_text())["sha256"] == manifest["sha256"]
    G, D = load_teacher_file(path, discriminator=True)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():  # half precision storage barely changes the output
        assert (G(x) - obj.netG.eval()(x)).abs().max() < 2e-2
    # a corrupted file fails its checksum
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_teacher_file(path)
    # weights that do not fit the architecture
    with pytest.raises(CheckpointError, match="does not match ResnetGenerator"):
        load_into(ResnetGenerator(ngf=8), build_generator("resnet", ngf=4).state_dict(), "x.pt")
    (tmp_path / "lonely.pt").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="no manifest"):
        load_teacher_file(tmp_path / "lonely.pt")


@pytest.fixture
def local_asset(tmp_path, monkeypatch):
    src = tmp_path / "src" / "weights-demo-abcdef12.pth"
    src.parent.mkdir()
    src.write_bytes(b"demo weights " * 100)
    digest = download.sha256_of(src)
    asset = download.Asset("demo", src.as_uri(), src.name, "weights", "demo weights",
                           sha256_prefix=digest[:8])
    monkeypatch.setitem(download.ASSETS, "demo", asset)
    return asset, tmp_path / "downloads"


def test_missing_download_says_what_and_where(local_asset):
    asset, root = local_asset
    with pytest.raises(MissingDownloadError) as err:
        download.ensure("demo", root)
    msg = str(err.value)
    assert asset.url in msg and str(root / "weights" / asset.filename) in msg


def test_fetch_verifies_and_detects_corruption(local_asset):
    asset, root = local_asset
    path = download.fetch("demo", root, progress=False)
    assert path.read_bytes() == b"demo weights " * 100
    assert download.ensure("demo", root) == path
    path.write_bytes(b"tampered")
    with pytest.raises(CheckpointError, match="checksum"):
        download.ensure("demo", root)


def test_trust_on_first_use_records_checksum(local_asset, monkeypatch):
    asset, root = local_asset
    monkeypatch.setitem(download.ASSETS, "demo", download.Asset(
        "demo", asset.url, asset.filename, "weights", "demo weights"))
    path = download.fetch("demo", root, progress=False)
    recorded = json.loads((root / "checksums.json").read_text())["demo"]
    assert recorded == download.sha256_of(path)
    path.write_bytes(b"changed later")
    with pytest.raises(CheckpointError, match=recorded[:12]):
        download.ensure("demo", root)


def test_unreachable_url_is_a_missing_download(tmp_path, monkeypatch):
    monkeypatch.setitem(download.ASSETS, "gone", download.Asset(
        "gone", (tmp_path / "nope.pth").as_uri(), "nope.pth", "weights", "gone weights"))
    with pytest.raises(MissingDownloadError, match="download failed"):
        download.fetch("gone", tmp_path / "downloads", progress=False)
    assert not (tmp_path / "downloads" / "weights" / "nope.pth.part").exists()


def test_inception_fid_offline_is_one_clear_error(tmp_path, monkeypatch):
    from gancomp_lite.metrics.features import inception_features

    monkeypatch.setenv("GANCOMP_DATA", str(tmp_path))
    with pytest.raises(MissingDownloadError, match="pt_inception-2015-12-05-6726825d.pth"):
        inception_features()


def _random_fid_inception_weights(path, seed):
    """A state dict with the keys and shapes of pytorch-fid's pt_inception file
    (torchvision's InceptionV3 with 1008 classes and no aux head), random."""
    import torchvision

    torch.manual_seed(seed)
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                          init_weights=False)
    torch.save(net.state_dict(), path)
    return net.state_dict()


def test_fid_inception_is_pytorch_fids_network_with_the_given_weights(tmp_path, recwarn):
    """FID features as GAN Compression computes them: pytorch-fid's InceptionV3 loaded from a
    local file (no download, torch.hub's folder left as it was), N x 2048 pool3 features of
    [0, 1] images, uint8 input read as /255, and a file of another network refused."""
    from pytorch_fid.inception import FIDInceptionA

    from gancomp_lite.metrics.features import fid_inception_from_file

    hub = torch.hub._hub_dir          # None unless set_dir was called: $TORCH_HOME still counts
    weights = _random_fid_inception_weights(tmp_path / "a.pth", 0)
    net = fid_inception_from_file(tmp_path / "a.pth")
    assert torch.hub._hub_dir == hub
    assert not [w for w in recwarn if "torchvision" in str(w.filename)]
    assert any(isinstance(m, FIDInceptionA) for m in net.modules())   # the FID graph's blocks
    assert torch.equal(net.inner.blocks[0][0].conv.weight, weights["Conv2d_1a_3x3.conv.weight"])
    images = torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8)
    with torch.no_grad():
        feats = net(images)
        assert feats.shape == (2, 2048)
        assert torch.allclose(net(images.float() / 255), feats)
        _random_fid_inception_weights(tmp_path / "b.pth", 1)
        assert not torch.allclose(fid_inception_from_file(tmp_path / "b.pth")(images), feats)
    torch.save(nn.Conv2d(3, 4, 3).state_dict(), tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not pytorch-fid's FID Inception"):
        fid_inception_from_file(tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")          # loads, but is no state dict
    for bad in ("junk.pth", "tensor.pth"):
        with pytest.raises(CheckpointError, match="not pytorch-fid's FID Inception"):
            fid_inception_from_file(tmp_path / bad)
    assert torch.hub._hub_dir == hub


def test_fid_to_stored_statistics_equals_the_fid_of_the_images(tmp_path):
    """GAN Compression's protocol: real statistics stored once (.npz with mu, sigma), each
    student's images compared with them; the same number as FID on the two image sets."""
    from gancomp_lite.errors import GancompError
    from gancomp_lite.metrics.quality import (fid_to_statistics, image_statistics,
                                              load_statistics, save_statistics)

    torch.manual_seed(0)
    real, fake = torch.rand(64, 3, 16, 16) * 2 - 1, torch.rand(64, 3, 16, 16) * 1.6 - 0.9
    feats = TinyFeatures()
    path = tmp_path / "real_B.npz"
    save_statistics(path, *image_statistics(real, feats))
    save_statistics(tmp_path / "rounded.npz", *image_statistics(real, feats, truncate=False))
    rounded = fid_to_statistics(fake, tmp_path / "rounded.npz", feats, truncate=False)
    assert rounded == pytest.approx(fid(real, fake, features=feats), rel=1e-3)   # fid() rounds
    stored = fid_to_statistics(fake, path, feats)             # GAN Compression's truncation
    assert stored != rounded and stored == pytest.approx(rounded, rel=0.05)
    assert stored > 10 * fid_to_statistics(real, path, feats)
    mu, _ = load_statistics(path)
    with pytest.raises(GancompError, match="other dimensions"):
        fid_to_statistics(fake, (mu[:4], np.eye(4)), feats)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(GancompError, match="not a statistics file"):
        load_statistics(tmp_path / "bad.npz")


def test_evaluate_a_real_folder_against_its_targets_or_stored_statistics(tmp_path, capsys):
    """`evaluate --data FOLDER [--real-stats NPZ]`: a folder in the official layout is
    scored on its test split; stored statistics of its targets give the same FID."""
    import json

    from gancomp_lite.cli import main
    from gancomp_lite.data import AlignedFolderDataset
    from gancomp_lite.metrics.quality import image_statistics, save_statistics
    from gancomp_lite.paths import DATA_DIR

    folder = tmp_path / "shoes"
    assert main(["data", "edges2shapes", "--n", "4", "--n-test", "12", "--out", str(folder)]) == 0
    teacher = str(DATA_DIR / "teachers" / "edges2shapes-ci.pt")
    base = ["evaluate", teacher, "--task", "edges2shapes", "--data", str(folder), "--size", "64",
            "--features", "synthetic", "--json"]
    capsys.readouterr()
    assert main(base) == 0
    own = json.loads(capsys.readouterr().out)
    assert own["n"] == 12 and own["l1"] < 0.2 and own["fid"] > 0
    assert own["kid"] > 0 and own["kid_std"] >= 0          # against the folder's own targets
    targets = torch.stack([AlignedFolderDataset(folder, phase="test")[i]["B"] for i in range(12)])
    save_statistics(tmp_path / "shoes_B.npz", *image_statistics(targets, "synthetic"))
    assert main(base + ["--real-stats", str(tmp_path / "shoes_B.npz")]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["fid"] == pytest.approx(own["fid"], rel=1e-6) and stored["l1"] == own["l1"]
    assert "kid" not in stored                             # statistics hold no samples
    assert main(["evaluate", teacher, "--task", "edges2shapes", "--real-stats", "x.npz"]) == 2
    assert main(base + ["--n", "4"]) == 2                  # a folder is scored on every image
    np.save(tmp_path / "plain.npy", np.zeros(3))
    assert main(base + ["--real-stats", str(tmp_path / "plain.npy")]) == 2


def test_a_teacher_and_student_trained_on_a_real_folder_are_scored_on_it(tmp_path):
    """The full path's export step: a run on a real folder is shipped with the metrics of
    that folder's test split, never of the synthetic task."""
    from gancomp_lite.cli import main
    from gancomp_lite.training.distill import export_student
    from gancomp_lite.training.teachers import export_teacher

    folder = tmp_path / "shoes"
    assert main(["data", "edges2shapes", "--n", "8", "--n-test", "6", "--out", str(folder)]) == 0
    run = tmp_path / "teacher-run"
    assert main(["train", "edges2shapes", "--data", str(folder), "--steps", "2", "--out", str(run),
                 "--no-progress"]) == 0
    manifest = export_teacher(run, tmp_path / "ship", features="synthetic", allow_dirty=True)
    assert manifest["metrics"]["eval_split"] == f"{folder} test split, n=6"
    assert manifest["data"] == str(folder) and "mean_target_l1" not in manifest["metrics"]
    student = tmp_path / "student-run"
    assert main(["distill", "edges2shapes", "--teacher", str(tmp_path / "ship" / manifest["file"]),
                 "--data", str(folder), "--ngf", "4", "--steps", "2", "--batch-size", "2",
                 "--n-train", "8", "--out", str(student), "--no-progress"]) == 0
    shipped = export_student(student, "s", tmp_path / "ship", allow_dirty=True, features="synthetic")
    assert shipped["metrics"]["eval_split"] == f"{folder} test split, n=6"


def test_fid_from_shared_features_equals_torchmetrics_fid_bit_for_bit():
    """FID and KID share each set's features (computed once); the FID from them is
    torchmetrics' FrechetInceptionDistance on the same batches, exactly."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from gancomp_lite.errors import GancompError
    from gancomp_lite.metrics import quality as q

    torch.manual_seed(0)
    real = torch.rand(150, 3, 32, 32) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1)
    extractor = q._feature_extractor("synthetic")
    dev = next(extractor.parameters()).device        # the best device (a GPU where there is one)
    reference = FrechetInceptionDistance(feature=extractor, normalize=True,
                                         sync_on_compute=False).to(dev)
    for images, flag in ((real, True), (fake, False)):
        for b in images.split(64):
            reference.update(q._to_unit(b).to(dev), real=flag)
    expected = float(reference.compute())
    assert q.fid(real, fake, "synthetic") == expected
    both = q._distribution_metrics(real, fake, "synthetic")
    assert both["fid"] == expected and (both["kid"], both["kid_std"]) == q.kid(real, fake, "synthetic")
    shared = q.batch_features(real, extractor)
    assert q._distribution_metrics(real, fake, "synthetic", shared) == both
    with pytest.raises(GancompError, match="at least 2"):
        q.fid(real[:1], fake, "synthetic")
