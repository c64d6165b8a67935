"""Cityscapes mIoU as GAN Compression computes it (issue 24): DRN-D-105 with the
official module tree, the confusion-matrix mIoU, and `evaluate --drn` on a prepared
folder.  The network's outputs were checked equal to the official DRNSeg's on random
weights (in a scratch folder, outside the repository)."""
import json

import numpy as np
import pytest
import torch

from gancomp_lite.errors import CheckpointError
from gancomp_lite.metrics import segmentation as S


@pytest.fixture(scope="module")
def drn_file(tmp_path_factory):
    torch.manual_seed(0)
    model = S.DRNSeg()
    path = tmp_path_factory.mktemp("drn") / S.DRN_FILE
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()},
               path)
    return path


def test_drn_d_105_has_the_official_size_and_gives_log_probabilities():
    model = S.DRNSeg().eval()
    assert sum(p.numel() for p in model.parameters()) == 54_302_915     # the official DRNSeg's
    assert len(model.state_dict()) == 651 and "base.8.0.weight" in model.state_dict()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 64))
    assert out.shape == (1, 19, 32, 64)
    assert torch.allclose(out.exp().sum(1), torch.ones(1, 32, 64), atol=1e-4)


def test_miou_counts_true_positives_over_union_and_ignores_void():
    label = np.array([0, 0, 1, 1, 255])
    pred = np.array([0, 1, 1, 1, 0])
    hist = S.confusion(pred, label)
    assert hist.sum() == 4                                   # the void pixel is left out
    assert S.miou(hist) == round((1 / 2 + 2 / 3) / 2 * 100, 2)
    assert S.miou(S.confusion(label[:4], label[:4])) == 100.0


def test_load_drn_reads_the_official_keys_and_names_a_mismatch(drn_file, tmp_path):
    model = S.load_drn(drn_file)
    assert not model.training
    with pytest.raises(CheckpointError, match="go.yf.io"):
        S.load_drn(tmp_path / "missing.pth")
    state = torch.load(drn_file)
    state.pop("seg.weight")
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(CheckpointError, match="seg.weight"):
        S.load_drn(tmp_path / "cut.pth")


def test_evaluate_gives_the_cityscapes_miou_of_a_prepared_folder(drn_file, tmp_path, capsys):
    from gancomp_lite.cli import main
    from gancomp_lite.paths import DATA_DIR
    from test_datasets import _cityscapes_tree

    gt, left = _cityscapes_tree(tmp_path / "raw")
    out = tmp_path / "cityscapes"
    assert main(["prepare", "cityscapes", "--gtfine", str(gt), "--leftimg", str(left),
                 "--out", str(out), "--no-progress"]) == 0
    teacher = str(DATA_DIR / "teachers" / "labels2scene-ci.pt")
    base = ["evaluate", teacher, "--task", "labels2scene", "--data", str(out), "--direction",
            "BtoA", "--features", "synthetic", "--size", "64", "--json"]
    capsys.readouterr()
    assert main(base + ["--drn", str(drn_file)]) == 0      # the label ids the prepare step wrote
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["miou"] <= 100 and metrics["n"] == 2
    assert main(base + ["--drn", str(drn_file), "--cityscapes-root", str(tmp_path / "raw")]) == 2
    assert "prepare cityscapes" in capsys.readouterr().err     # the archive has no train ids
    assert main(base + ["--cityscapes-root", str(out)]) == 2
    assert "--drn" in capsys.readouterr().err


def test_label_ids_become_the_19_train_ids():
    from gancomp_lite.data.cityscapes import train_ids

    ids = np.array([[0, 7, 8, 11, 26, 33, 34, 255]])
    assert train_ids(ids).tolist() == [[255, 0, 1, 2, 13, 18, 255, 255]]
