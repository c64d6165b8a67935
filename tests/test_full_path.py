"""The full-scale path in one run, offline and at tiny sizes: download (a dataset archive and
the FID Inception weights, served from file:// URLs), a teacher trained on the real-layout
folder, its export scored with Inception FID, a distilled student, a supernet, the search, the
exported subnet fine-tuned from the supernet's discriminator, the student's export and its
evaluation (FID and KID with pytorch-fid's network on random weights of the real file's
shapes)."""
import json
import tarfile

import pytest
import torch

from gancomp_lite.cli import main
from gancomp_lite.data import download


def _one_line_ok(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err, err


@pytest.fixture
def offline_assets(tmp_path, monkeypatch):
    """A dataset archive and random FID Inception weights behind file:// URLs, as the
    package's own download code fetches them (no checksum known: recorded on first use)."""
    import torchvision

    folder = tmp_path / "made" / "edges2shoes-r"
    assert main(["data", "edges2shapes", "--n", "8", "--n-test", "4", "--size", "32",
                 "--out", str(folder)]) == 0
    archive = tmp_path / "served" / "edges2shoes-r.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="edges2shoes-r")
    torch.manual_seed(0)
    inception = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                                init_weights=False)
    weights = tmp_path / "served" / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(inception.state_dict(), weights)
    old = download.ASSETS
    monkeypatch.setitem(download.ASSETS, "edges2shoes-r", download.Asset(
        "edges2shoes-r", archive.as_uri(), archive.name, "datasets", old["edges2shoes-r"].what,
        extract_to="edges2shoes-r"))
    monkeypatch.setitem(download.ASSETS, "inception-fid", download.Asset(
        "inception-fid", weights.as_uri(), weights.name, "weights", old["inception-fid"].what))
    monkeypatch.setenv("GANCOMP_DATA", str(tmp_path / "downloads"))
    from gancomp_lite.metrics import quality
    quality._feature_extractor.cache_clear()      # the Inception network of this test only
    yield tmp_path / "downloads"
    quality._feature_extractor.cache_clear()


def test_download_train_distill_search_fine_tune_export_and_score(offline_assets, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["download", "edges2shoes-r"]) == 0
    assert main(["download", "inception-fid"]) == 0
    data = offline_assets / "datasets" / "edges2shoes-r"
    assert (data / "train").is_dir() and (data / "val").is_dir() or (data / "test").is_dir()
    capsys.readouterr()
    # the teacher, on the real-layout folder, shipped and scored with Inception FID
    assert main(["train", "edges2shapes", "--data", str(data), "--steps", "2",
                 "--out", str(runs / "teacher"), "--no-progress"]) == 0
    assert main(["export-teacher", str(runs / "teacher"), "--out", str(runs / "ship"), "--n", "4",
                 "--allow-dirty"]) == 0
    teacher = runs / "ship" / "edges2shapes-ci.pt"
    manifest = json.loads(teacher.with_suffix(".json").read_text())
    assert manifest["metrics"]["fid_features"] == "inception" and manifest["metrics"]["fid"] >= 0
    # a distilled student and a supernet from that teacher, on the same folder
    assert main(["distill", "edges2shapes", "--teacher", str(teacher), "--data", str(data),
                 "--student", "mobile_resnet", "--ngf", "4", "--steps", "2",
                 "--out", str(runs / "student"), "--no-progress"]) == 0
    assert main(["train-supernet", "edges2shapes", "--teacher", str(teacher), "--data", str(data),
                 "--space", "channels-48-ci", "--steps", "2", "--n-val", "4", "--size", "32",
                 "--out", str(runs / "supernet"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["search", str(runs / "supernet" / "supernet.pt"), "--budget", "1e12",
                 "--method", "evolution", "--population", "4", "--generations", "2", "--json",
                 "--no-progress"]) == 0
    best = json.loads(capsys.readouterr().out)["best"]
    assert main(["export-subnet", str(runs / "supernet" / "supernet.pt"), "--config", best,
                 "--out", str(runs / "subnet.pt")]) == 0
    assert main(["distill", "edges2shapes", "--teacher", str(teacher), "--data", str(data),
                 "--student-from", str(runs / "subnet.pt"), "--discriminator-from",
                 str(runs / "supernet"), "--steps", "1", "--out", str(runs / "finetune"),
                 "--no-progress"]) == 0
    # the student's export and its score on the folder's test split: FID and KID
    assert main(["export-student", str(runs / "finetune"), "--name", "ft", "--out",
                 str(runs / "ship"), "--n", "4", "--allow-dirty"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(runs / "ship" / "ft.pt"), "--task", "edges2shapes", "--data",
                 str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["fid"] >= 0 and "kid" in scores and scores["l1"] > 0
    _one_line_ok(capsys)
