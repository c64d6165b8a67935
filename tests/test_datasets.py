"""Tests of the dataset interface (gancomp_lite.data.datasets)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from gancomp_lite.data import (AlignedFolderDataset, SyntheticAligned, SyntheticUnaligned,
                               UnalignedFolderDataset, open_dataset, to_tensor, to_uint8,
                               write_dataset)
from gancomp_lite.data.synthetic import Labels2SceneWorld, UnknownTaskError
from gancomp_lite.errors import DatasetLayoutError, GancompError, ImageSizeError, OutputExistsError

SIZE = 32


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def noise_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def assert_items_equal(a: dict, b: dict, keys) -> None:
    for k in keys:
        if k in a or k in b:
            assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every task written once at 32 px: {task: folder}."""
    root = tmp_path_factory.mktemp("written")
    return {task: write_dataset(task, root / task, n=6, n_test=3, size=SIZE, seed=1)
            for task in ("stripes", "edges2shapes", "labels2scene")}


# ---------------------------------------------------------------- tensors
def test_to_tensor_and_back():
    img = noise_image(8, 10)
    t = to_tensor(img)
    assert t.dtype == torch.float32 and t.shape == (3, 8, 10)
    assert t.min() >= -1 and t.max() <= 1
    assert torch.allclose(t[:, 0, 0], torch.tensor(img[0, 0], dtype=torch.float32) / 127.5 - 1)
    np.testing.assert_array_equal(to_uint8(t), img)
    np.testing.assert_array_equal(to_uint8(torch.stack([t, t])), np.stack([img, img]))
    np.testing.assert_array_equal(to_uint8(torch.full((3, 2, 2), 5.0)), 255)
    np.testing.assert_array_equal(to_uint8(torch.full((3, 2, 2), -5.0)), 0)
    with pytest.raises(TypeError):
        to_tensor(img.astype(np.float32))


# ---------------------------------------------------------------- layouts on disk
def test_written_layouts(written):
    s = written["stripes"]
    for folder, count in (("trainA", 6), ("trainB", 6), ("testA", 3), ("testB", 3),
                          ("testB_oracle", 3)):
        names = sorted(p.name for p in (s / folder).iterdir())
        assert names == [f"{i:06d}.png" for i in range(count)]
    meta = json.loads((s / "dataset.json").read_text())
    assert meta["layout"] == "unaligned" and (meta["n"], meta["n_test"], meta["size"]) == (6, 3, SIZE)
    lab = written["labels2scene"]
    for folder, count in (("train", 6), ("val", 3), ("train_labels", 6), ("val_labels", 3)):
        assert len(list((lab / folder).glob("*.png"))) == count
    with Image.open(lab / "train" / "000000.png") as im:
        assert im.size == (2 * SIZE, SIZE)
    with Image.open(lab / "train_labels" / "000000.png") as im:
        assert im.mode == "L" and im.size == (SIZE, SIZE)
    meta = json.loads((lab / "dataset.json").read_text())
    assert meta["class_names"] == list(Labels2SceneWorld.CLASS_NAMES)
    assert meta["palette"] == Labels2SceneWorld.PALETTE.tolist()


def test_default_n_test(tmp_path):
    out = write_dataset("edges2shapes", tmp_path / "d", n=9, size=16)
    assert len(list((out / "val").glob("*.png"))) == 2
    out = write_dataset("edges2shapes", tmp_path / "e", n=2, size=16)
    assert len(list((out / "val").glob("*.png"))) == 1


def test_writes_are_byte_identical(tmp_path):
    for task in ("stripes", "labels2scene"):
        one = write_dataset(task, tmp_path / f"{task}1", n=3, n_test=2, size=16, seed=4)
        two = write_dataset(task, tmp_path / f"{task}2", n=3, n_test=2, size=16, seed=4)
        files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
        assert len(files) > 5
        for rel in files:
            assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel
    other = write_dataset("stripes", tmp_path / "other", n=3, n_test=2, size=16, seed=5)
    assert (other / "trainA/000000.png").read_bytes() != \
        (tmp_path / "stripes1/trainA/000000.png").read_bytes()


def test_rewrite_needs_force_and_then_removes_stale_files(tmp_path):
    out = write_dataset("stripes", tmp_path / "d", n=5, n_test=2, size=16)
    with pytest.raises(OutputExistsError, match="--force"):
        write_dataset("stripes", out, n=3, n_test=1, size=16)
    assert len(UnalignedFolderDataset(out)) == 5              # untouched
    write_dataset("edges2shapes", out, n=3, n_test=1, size=16, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "train", "val"]
    assert len(AlignedFolderDataset(out)) == 3


def test_data_never_writes_into_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"not ours")
    for force in (False, True):
        with pytest.raises(OutputExistsError, match="did not write"):
            write_dataset("stripes", mine, n=3, size=16, force=force)
    assert sorted(p.name for p in mine.iterdir()) == ["holiday.jpg"]
    # an earlier dataset with a stranger's file beside it: --force removes only what it wrote
    out = write_dataset("stripes", tmp_path / "d", n=3, n_test=1, size=16)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="besides"):
        write_dataset("stripes", out, n=3, size=16, force=True)
    assert (out / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("serial", [True, False])
def test_unaligned_round_trip(written, serial):
    folder = UnalignedFolderDataset(written["stripes"], "train", size=SIZE, serial=serial, seed=1)
    synth = SyntheticUnaligned("stripes", n=6, size=SIZE, seed=1, phase="train", serial=serial)
    assert len(folder) == len(synth) == 6
    for i in range(6):
        f, s = folder[i], synth[i]
        assert_items_equal(f, s, ["A", "B"])
        assert Path(f["B_path"]).name == s["B_path"].rsplit("/", 1)[1] + ".png"
        assert f["index"] == s["index"] == i
    assert synth[3]["A_path"] == "synthetic://stripes/train/A/000003"


def test_unaligned_round_trip_with_oracle(written):
    folder = UnalignedFolderDataset(written["stripes"], "test")
    synth = SyntheticUnaligned("stripes", n=3, size=SIZE, seed=1, phase="test")
    for i in range(3):
        f, s = folder[i], synth[i]
        assert set(f) == set(s) == {"A", "B", "B_oracle", "A_path", "B_path", "index"}
        assert_items_equal(f, s, ["A", "B", "B_oracle"])
        assert not torch.equal(s["A"], s["B_oracle"])


@pytest.mark.parametrize("task", ["edges2shapes", "labels2scene"])
def test_aligned_round_trip(written, task):
    folder = AlignedFolderDataset(written[task], "train", size=SIZE)
    synth = SyntheticAligned(task, n=6, size=SIZE, seed=1, phase="train")
    for i in range(6):
        f, s = folder[i], synth[i]
        assert set(f) == set(s)
        assert_items_equal(f, s, ["A", "B", "labels"])
    if task == "labels2scene":
        labels = s["labels"]
        assert labels.dtype == torch.int64 and labels.shape == (SIZE, SIZE)
        palette = torch.from_numpy(Labels2SceneWorld.PALETTE)
        assert torch.equal(to_tensor(palette[labels].numpy()), s["A"])
    # the test phase falls back to val/
    test = AlignedFolderDataset(written[task], "test")
    assert test.dir_AB.name == "val" and len(test) == 3
    assert_items_equal(test[2], SyntheticAligned(task, n=3, size=SIZE, seed=1, phase="test")[2],
                       ["A", "B", "labels"])


def test_preprocessed_round_trip(written):
    """Synthetic and folder datasets crop and flip identically (same seeds, same code)."""
    kw = dict(preprocess="resize_and_crop", seed=1)
    folder = AlignedFolderDataset(written["labels2scene"], size=SIZE, **kw)
    synth = SyntheticAligned("labels2scene", n=6, size=SIZE, **kw)
    plain = SyntheticAligned("labels2scene", n=6, size=SIZE, seed=1)
    for i in range(6):
        item = folder[i]
        assert item["A"].shape == item["B"].shape == (3, SIZE, SIZE)
        assert item["labels"].shape == (SIZE, SIZE)
        assert_items_equal(item, synth[i], ["A", "B", "labels"])
    assert any(not torch.equal(synth[i]["B"], plain[i]["B"]) for i in range(6))
    unal = UnalignedFolderDataset(written["stripes"], "test", size=SIZE, serial=False, **kw)
    same = SyntheticUnaligned("stripes", n=3, size=SIZE, phase="test", serial=False, **kw)
    for i in range(3):
        assert_items_equal(unal[i], same[i], ["A", "B", "B_oracle"])
    small = UnalignedFolderDataset(written["stripes"], size=24, preprocess="resize_and_crop")
    assert small[0]["A"].shape == small[0]["B"].shape == (3, 24, 24)


def test_serial_false_is_deterministic_and_shuffles(written):
    a = UnalignedFolderDataset(written["stripes"], serial=False, seed=3)
    b = UnalignedFolderDataset(written["stripes"], serial=False, seed=3)
    partners = [Path(a[i]["B_path"]).name for i in range(6)]
    assert partners == [Path(b[i]["B_path"]).name for i in range(6)]
    assert partners != [f"{i:06d}.png" for i in range(6)]
    assert partners == [Path(a[i]["B_path"]).name for i in reversed(range(6))][::-1]


# ---------------------------------------------------------------- preprocessing
def test_resize_and_crop_shape_and_shared_crop(tmp_path):
    # an AB image whose halves are identical: after a shared crop and flip they still are
    half = noise_image(40, 40, seed=2)
    save(tmp_path / "ab" / "train" / "x.png", np.concatenate([half, half], axis=1))
    ds = AlignedFolderDataset(tmp_path / "ab", size=32, preprocess="resize_and_crop", seed=0)
    assert ds.load_size == 32 * 286 // 256
    crops = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        item = ds[0]
        assert item["A"].shape == (3, 32, 32)
        assert torch.equal(item["A"], item["B"])
        crops.append(item["A"])
        ds2 = AlignedFolderDataset(tmp_path / "ab", size=32, preprocess="resize_and_crop", seed=0)
        ds2.set_epoch(epoch)
        assert torch.equal(ds2[0]["A"], item["A"])  # deterministic per (seed, epoch, index)
    assert any(not torch.equal(crops[0], c) for c in crops[1:])
    resized = AlignedFolderDataset(tmp_path / "ab", size=16, preprocess="resize")[0]
    assert resized["A"].shape == (3, 16, 16)


def test_direction_swaps(written):
    ab = AlignedFolderDataset(written["edges2shapes"])[0]
    ba = AlignedFolderDataset(written["edges2shapes"], direction="BtoA")[0]
    assert torch.equal(ab["A"], ba["B"]) and torch.equal(ab["B"], ba["A"])
    sba = SyntheticAligned("edges2shapes", n=6, size=SIZE, seed=1, direction="BtoA")[0]
    assert torch.equal(sba["A"], ab["B"])


def test_any_world_either_way():
    """Paired view of the unpaired world (B = oracle) and unpaired view of a paired world."""
    paired = SyntheticAligned("stripes", n=2, size=16)[1]
    unpaired = SyntheticUnaligned("stripes", n=2, size=16)[1]
    assert torch.equal(paired["A"], unpaired["A"]) and torch.equal(paired["B"], unpaired["B_oracle"])
    item = SyntheticUnaligned("edges2shapes", n=2, size=16)[1]
    pair = SyntheticAligned("edges2shapes", n=2, size=16)[1]
    assert torch.equal(item["A"], pair["A"]) and torch.equal(item["B_oracle"], pair["B"])
    assert not torch.equal(item["B"], pair["B"])  # B comes from an independent scene


def test_dataloader_batches(written):
    loader = DataLoader(open_dataset(str(written["stripes"])), batch_size=4)
    batch = next(iter(loader))
    assert batch["A"].shape == (4, 3, SIZE, SIZE) and len(batch["A_path"]) == 4
    loader = DataLoader(open_dataset("labels2scene", size=16, n=4), batch_size=4)
    batch = next(iter(loader))
    assert batch["labels"].shape == (4, 16, 16)


# ---------------------------------------------------------------- errors
def test_missing_root(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetLayoutError) as info:
        UnalignedFolderDataset(missing)
    assert str(missing) in str(info.value) and "trainA" in str(info.value)
    assert isinstance(info.value, GancompError) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(DatasetLayoutError) as info:
        AlignedFolderDataset(missing)
    assert str(missing) in str(info.value) and "side-by-side" in str(info.value)


def test_missing_and_empty_folders(tmp_path):
    save(tmp_path / "d" / "trainA" / "0.png", noise_image(16, 16))
    with pytest.raises(DatasetLayoutError) as info:
        UnalignedFolderDataset(tmp_path / "d")
    assert str(tmp_path / "d" / "trainB") in str(info.value)
    (tmp_path / "d" / "trainB").mkdir()
    (tmp_path / "d" / "trainB" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetLayoutError) as info:
        UnalignedFolderDataset(tmp_path / "d")
    assert str(tmp_path / "d" / "trainB") in str(info.value) and "no images" in str(info.value)
    (tmp_path / "p" / "val").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError) as info:
        AlignedFolderDataset(tmp_path / "p", phase="test")
    assert str(tmp_path / "p" / "val") in str(info.value)


def test_wrong_width_ab_image(tmp_path):
    path = save(tmp_path / "p" / "train" / "bad.png", noise_image(16, 20))
    ds = AlignedFolderDataset(tmp_path / "p")
    with pytest.raises(ImageSizeError) as info:
        ds[0]
    assert str(path) in str(info.value) and "width 2*H" in str(info.value)
    assert "20x16" in str(info.value)


def test_wrong_image_size(tmp_path):
    save(tmp_path / "d" / "trainA" / "0.png", noise_image(16, 16))
    path = save(tmp_path / "d" / "trainB" / "0.png", noise_image(24, 24))
    ds = UnalignedFolderDataset(tmp_path / "d", size=16)
    with pytest.raises(ImageSizeError) as info:
        ds[0]
    assert str(path) in str(info.value) and "16x16" in str(info.value) and "24x24" in str(info.value)
    assert UnalignedFolderDataset(tmp_path / "d", size=16, preprocess="resize")[0]["B"].shape \
        == (3, 16, 16)
    ab = save(tmp_path / "p" / "train" / "0.png", noise_image(24, 48))
    with pytest.raises(ImageSizeError) as info:
        AlignedFolderDataset(tmp_path / "p", size=16)[0]
    assert str(ab) in str(info.value)


def test_index_out_of_range(written):
    ds = AlignedFolderDataset(written["edges2shapes"])
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert torch.equal(ds[-1]["A"], ds[len(ds) - 1]["A"])


# ---------------------------------------------------------------- open_dataset
def test_open_dataset_dispatch(written, tmp_path):
    assert isinstance(open_dataset("stripes", n=4, size=16), SyntheticUnaligned)
    ds = open_dataset("edges2shapes", n=4, size=16)
    assert isinstance(ds, SyntheticAligned) and len(ds) == 4 and ds[0]["A"].shape == (3, 16, 16)
    assert isinstance(open_dataset("labels2scene"), SyntheticAligned)
    assert isinstance(open_dataset(written["stripes"]), UnalignedFolderDataset)
    assert isinstance(open_dataset(str(written["edges2shapes"]), phase="test"), AlignedFolderDataset)
    with pytest.raises(DatasetLayoutError) as info:
        open_dataset("horse2zebra")
    assert "stripes" in str(info.value) and "trainA" in str(info.value)
    (tmp_path / "junk").mkdir()
    with pytest.raises(DatasetLayoutError) as info:
        open_dataset(tmp_path / "junk")
    assert str(tmp_path / "junk") in str(info.value)
    with pytest.raises(UnknownTaskError):
        SyntheticUnaligned("stripes", phase="validation")


# --------------------------------------------------------------------------
# Cityscapes, prepared from the user's own download (issue 24)
# --------------------------------------------------------------------------
def _cityscapes_tree(root: Path, scenes=("aachen_000000_000019", "bochum_000000_000313")) -> tuple:
    """The two unpacked Cityscapes archives at a tiny size: colour label maps (flat
    regions), label ids and photos (noise), for each split."""
    gt, left = root / "gtFine", root / "leftImg8bit"
    for k, split in enumerate(("train", "val")):
        for j, scene in enumerate(scenes):
            city = scene.split("_")[0]
            colour = np.zeros((32, 64, 3), np.uint8)
            colour[:, :32] = (128, 64, 128)          # road, left half
            colour[:, 32:] = (70, 70, 70) if j else (107, 142, 35)
            save(gt / split / city / f"{scene}_gtFine_color.png", colour)
            ids = np.full((32, 64), 7, np.uint8)                # road (train id 0)
            ids[:, 32:] = 11 if j else 21                        # building (2) or vegetation (8)
            ids[0] = 0                                           # unlabeled: ignored
            save(gt / split / city / f"{scene}_gtFine_labelIds.png", ids)
            save(left / split / city / f"{scene}_leftImg8bit.png", noise_image(32, 64, 10 * k + j))
    return gt, left


def test_prepare_cityscapes_writes_the_official_pix2pix_layout(tmp_path, capsys):
    from gancomp_lite.cli import main
    from gancomp_lite.data.cityscapes import read_table

    gt, left = _cityscapes_tree(tmp_path / "raw")
    out = tmp_path / "cityscapes"
    assert main(["prepare", "cityscapes", "--gtfine", str(gt), "--leftimg", str(left),
                 "--out", str(out), "--no-progress"]) == 0
    for split in ("train", "val"):
        assert sorted(p.name for p in (out / split).iterdir()) == ["0.jpg", "1.jpg"]
        assert Image.open(out / split / "0.jpg").size == (512, 256)
        assert Image.open(out / f"{split}B" / "1_B.jpg").size == (256, 256)
        table = read_table(out / f"{split}_table.txt")
        assert table[1] == (f"gtFine/{split}/bochum/bochum_000000_000313_gtFine_trainIds.png",
                            f"leftImg8bit/{split}/bochum/bochum_000000_000313_leftImg8bit.png")
        ids = np.asarray(Image.open(out / table[1][0]))           # the label ids, at full size
        assert ids.shape == (32, 64) and set(np.unique(ids)) == {0, 2, 255}
    # labels -> photos, as the papers train: B (the label map) is the input
    item = AlignedFolderDataset(out, phase="val", size=256, direction="BtoA")[0]
    road = torch.tensor([128, 64, 128]) / 127.5 - 1
    assert (item["A"][:, 128, 10] - road).abs().max() < 0.05          # the road, left half
    assert (item["A"][:, 128, 250] - (torch.tensor([107, 142, 35]) / 127.5 - 1)).abs().max() < 0.05
    assert item["B"].std() > 0.3                                        # the photo (noise)
    # nothing is written over without --force
    assert main(["prepare", "cityscapes", "--gtfine", str(gt), "--leftimg", str(left),
                 "--out", str(out), "--no-progress"]) == 2
    # two training images are fewer than the teacher's batch of 4: one line, no traceback
    assert main(["train", "labels2scene", "--data", str(out), "--direction", "BtoA", "--steps", "1",
                 "--out", str(tmp_path / "small"), "--no-progress"]) == 2
    assert "fewer than one batch" in capsys.readouterr().err


def test_prepare_cityscapes_refuses_archives_that_do_not_match(tmp_path, capsys):
    from gancomp_lite.cli import main

    gt, left = _cityscapes_tree(tmp_path / "raw")
    ids = next((gt / "train").glob("*/*_labelIds.png"))
    ids.unlink()
    assert main(["prepare", "cityscapes", "--gtfine", str(gt), "--leftimg", str(left),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "_labelIds.png" in capsys.readouterr().err
    _cityscapes_tree(tmp_path / "raw")
    next((left / "val").glob("*/*_leftImg8bit.png")).unlink()
    assert main(["prepare", "cityscapes", "--gtfine", str(gt), "--leftimg", str(left),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "do not match" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()                 # checked before anything is written
    assert main(["prepare", "cityscapes", "--gtfine", str(tmp_path / "nowhere"), "--leftimg",
                 str(left), "--out", str(tmp_path / "out")]) == 2
    assert "cityscapes-dataset.com" in capsys.readouterr().err


def test_downloads_name_every_dataset_and_cityscapes_says_how_to_get_it(tmp_path, capsys):
    from gancomp_lite.cli import main
    from gancomp_lite.data import download
    from gancomp_lite.errors import MissingDownloadError

    for name, folder in (("maps", "maps"), ("summer2winter", "summer2winter_yosemite"),
                         ("horse2zebra", "horse2zebra"), ("edges2shoes-r", "edges2shoes-r")):
        assert download.local_folder(name, tmp_path).name == folder
        with pytest.raises(MissingDownloadError, match=download.ASSETS[name].url):
            download.ensure(name, tmp_path)                 # offline: what to fetch and where
    assert main(["download", "cityscapes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gancomp-lite prepare cityscapes" in err
    assert main(["download", "--list"]) == 0
    assert "cityscapes" in capsys.readouterr().out


def test_a_prepared_cityscapes_trains_labels_to_photos(tmp_path, capsys):
    """The official layout holds both train/ and trainA/trainB/: a paired task reads the
    AB images, BtoA as the papers do, and the run records the direction."""
    from gancomp_lite.cli import main

    scenes = [f"aachen_00000{i}_000019" for i in range(4)]          # one batch of the ci teacher
    gt, left = _cityscapes_tree(tmp_path / "raw", scenes)
    out = tmp_path / "cityscapes"
    assert main(["prepare", "cityscapes", "--gtfine", str(gt), "--leftimg", str(left),
                 "--out", str(out), "--no-progress"]) == 0
    assert main(["train", "labels2scene", "--data", str(out / "nowhere"), "--steps", "1",
                 "--out", str(tmp_path / "x"), "--no-progress"]) == 2     # one line, no traceback
    run = tmp_path / "run"
    assert main(["train", "labels2scene", "--data", str(out), "--direction", "BtoA", "--steps", "1",
                 "--out", str(run), "--no-progress"]) == 0
    assert json.loads((run / "recipe.json").read_text())["direction"] == "BtoA"
    assert main(["train", "labels2scene", "--direction", "BtoA", "--steps", "1",
                 "--out", str(tmp_path / "synthetic"), "--no-progress"]) == 2
    assert "--data folder" in capsys.readouterr().err
