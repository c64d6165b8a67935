"""The scale switch, device and seeding."""
import pytest
import torch

from gancomp_lite.config import SCALES, describe, get_device, get_scale, seed_everything
from gancomp_lite.errors import ScaleError


def test_default_scale_is_ci(monkeypatch):
    monkeypatch.delenv("GANCOMP_SCALE", raising=False)
    assert get_scale().name == "ci"


@pytest.mark.parametrize("name", ["ci", "small", "full", " FULL "])
def test_scale_from_environment(monkeypatch, name):
    monkeypatch.setenv("GANCOMP_SCALE", name)
    assert get_scale().name == name.strip().lower()


def test_unknown_scale_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("GANCOMP_SCALE", "huge")
    with pytest.raises(ScaleError, match="'huge'.*ci, small, full"):
        get_scale()
    with pytest.raises(ScaleError):
        get_scale("tiny")


def test_scales_grow_and_full_is_paper_setting():
    ci, small, full = SCALES["ci"], SCALES["small"], SCALES["full"]
    assert ci.image_size == small.image_size < full.image_size == 256
    assert ci.n_train < small.n_train and ci.latency_runs < small.latency_runs < full.latency_runs
    assert full.teacher_ngf == 64 and full.real_data and not ci.real_data
    for s in SCALES.values():
        assert s.image_size % 4 == 0


def test_device_and_describe():
    assert get_device("cpu") == torch.device("cpu")
    assert (get_device().type == "cuda") == torch.cuda.is_available()
    line = describe(SCALES["ci"], torch.device("cpu"))
    assert "scale=ci" in line and "device=cpu" in line


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_device_preference_order(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert get_device() == torch.device(expected)
    assert get_device("cpu") == torch.device("cpu")  # an explicit choice wins


def test_seed_everything_reproduces_draws():
    seed_everything(3)
    a = torch.rand(4)
    seed_everything(3)
    assert torch.equal(a, torch.rand(4))


def test_small_uses_the_shipped_ci_teachers_and_trains_none():
    """Colab (``small``) loads the ``ci`` teachers: same recipe, same files."""
    from gancomp_lite.training.checkpoint import teacher_path
    from gancomp_lite.training.teachers import load_or_train_teacher, teacher_recipe

    small, ci = SCALES["small"], SCALES["ci"]
    assert small.teacher_scale == "ci" and ci.teacher_scale == "ci" and SCALES["full"].teacher_scale == "full"
    assert small.teacher_ngf == ci.teacher_ngf
    for task in ("stripes", "edges2shapes", "labels2scene"):
        assert teacher_recipe(task, "small") == teacher_recipe(task, "ci")
        assert teacher_path(task, "small") == teacher_path(task, "ci") and teacher_path(task, "ci").exists()
    assert teacher_path("edges2shapes", "small", "inception").exists()
    assert teacher_path("edges2shapes", "full").name == "edges2shapes-full.pt"
    G = load_or_train_teacher("edges2shapes", "small", progress=False)   # would train if it had to
    assert sum(p.numel() for p in G.parameters()) > 0


def test_small_trains_no_teacher_of_its_own_and_exports_keep_their_recipes_name(tmp_path):
    from gancomp_lite.errors import GancompError
    from gancomp_lite.training.checkpoint import teacher_file_name
    from gancomp_lite.training.teachers import train_teacher

    with pytest.raises(GancompError, match="--scale ci"):
        train_teacher("edges2shapes", tmp_path / "run", scale="small", steps=1, progress=False)
    assert not (tmp_path / "run").exists()
    # the name a file is written under is its recipe's scale, never remapped
    assert teacher_file_name("edges2shapes", "small") == "edges2shapes-small.pt"


def test_small_loads_the_shipped_ci_supernet():
    from gancomp_lite.compression import ofa
    from gancomp_lite.experiments import results
    from gancomp_lite.paths import DATA_DIR
    from gancomp_lite.training.supernet import load_or_train_supernet

    rec = results.load(DATA_DIR / "results" / "ofa-supernets-ci.json")["settings"]
    net, manifest, _ = load_or_train_supernet("edges2shapes", ofa.search_space("channels-48-ci"),
                                              "uniform", seed=0, steps=rec["steps"],
                                              batch_size=rec["batch_size"], scale="small",
                                              progress=False)
    assert manifest["recipe"]["n_train"] == SCALES["ci"].n_train != SCALES["small"].n_train
