"""The command line under bad input and careless use (issue 10): nothing is
overwritten without --force, nothing half-written stays behind, bad values
stop at the edge as one line with exit status 2, and no result is silently wrong."""
import json
from pathlib import Path

import pytest

from gancomp_lite.cli import main
from gancomp_lite.paths import DATA_DIR


@pytest.fixture
def clean_version(monkeypatch):
    import gancomp_lite.provenance
    monkeypatch.setattr(gancomp_lite.provenance, "code_version", lambda root=None: "0" * 40)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    return err


def usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    return one_error_line(capsys)


# -- 1. nothing overwritten or deleted that the command did not just create ----------
def test_data_refuses_to_overwrite_and_never_touches_foreign_files(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "stripes", "--n", "2", "--size", "16", "--out", str(out)]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["data", "edges2shapes", "--n", "2", "--size", "16", "--out", str(out)]) == 2
    assert "--force" in one_error_line(capsys)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert main(["data", "edges2shapes", "--n", "2", "--size", "16", "--out", str(out), "--force"]) == 0
    assert json.loads((out / "dataset.json").read_text())["task"] == "edges2shapes"
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    capsys.readouterr()
    assert main(["data", "stripes", "--n", "2", "--size", "16", "--out", str(foreign), "--force"]) == 2
    assert "did not write" in one_error_line(capsys)
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]


def test_export_student_refuses_to_overwrite_and_keeps_names_inside_the_folder(tmp_path, capsys,
                                                                               clean_version):
    run = tmp_path / "run"
    assert main(["distill", "stripes", "--unpaired", "--fresh-d", "--ngf", "4", "--steps", "1",
                 "--n-train", "4", "--n", "8", "--out", str(run), "--no-progress"]) == 0
    ship = tmp_path / "ship"
    args = ["export-student", str(run), "--name", "tiny", "--out", str(ship), "--n", "8"]
    assert main(args) == 0
    capsys.readouterr()
    first = (ship / "tiny.json").read_bytes()
    assert main(args) == 2
    assert "--force" in one_error_line(capsys)
    assert (ship / "tiny.json").read_bytes() == first
    assert main(args + ["--force"]) == 0
    assert sorted(p.name for p in ship.iterdir()) == ["tiny.json", "tiny.pt"]   # no temporary left
    capsys.readouterr()
    for bad in ("../escape", "", ".hidden", "a/b"):
        assert "name" in usage_error(args[:3] + [bad] + args[4:], capsys)
    assert not (tmp_path / "escape.pt").exists()


def test_export_defaults_are_relative_to_the_current_folder(tmp_path, monkeypatch, capsys):
    """A user standing elsewhere never writes into the package's shipped data/ by default."""
    from gancomp_lite.cli import build_parser

    monkeypatch.chdir(tmp_path)
    for argv in (["export-teacher", "run"], ["export-student", "run", "--name", "x"],
                 ["train-features"]):
        out = Path(build_parser().parse_args(argv).out)
        assert not out.is_absolute() and (tmp_path / out).resolve() != DATA_DIR.resolve()


def test_a_failed_run_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    from gancomp_lite.errors import GancompError
    from gancomp_lite.training.loop import Trainer

    def broken_fit(self, *a, **k):
        raise GancompError("the data went away")

    monkeypatch.setattr(Trainer, "fit", broken_fit)
    run = tmp_path / "teacher"
    assert main(["train", "stripes", "--steps", "3", "--out", str(run), "--no-progress"]) == 2
    assert "went away" in one_error_line(capsys) and not run.exists()
    student = tmp_path / "student"
    assert main(["distill", "stripes", "--ngf", "4", "--steps", "1", "--n-train", "4",
                 "--out", str(student), "--no-progress"]) == 2
    assert not student.exists()
    # an existing folder keeps what it held before; only the run's own files go
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    assert main(["train", "stripes", "--steps", "3", "--out", str(keep), "--no-progress"]) == 2
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]


def test_an_interrupted_run_with_a_checkpoint_keeps_it_for_resume(tmp_path):
    from gancomp_lite.training.loop import run_folder

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with run_folder(out):
            (out / "recipe.json").write_text("{}")
            (out / "checkpoint.pt").write_bytes(b"step 500")
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "recipe.json"]


# -- 2. no silently wrong result -------------------------------------------------
def test_resume_means_resume(tmp_path, capsys):
    run = tmp_path / "never-started"
    assert main(["train", "stripes", "--steps", "3", "--resume", "--out", str(run),
                 "--no-progress"]) == 2
    assert "nothing to resume" in one_error_line(capsys) and not run.exists()


def test_distill_refuses_another_tasks_teacher(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["distill", "edges2shapes", "--teacher", str(DATA_DIR / "teachers" / "labels2scene-ci.pt"),
                 "--ngf", "4", "--steps", "1", "--out", str(run), "--no-progress"]) == 2
    err = one_error_line(capsys)
    assert "labels2scene" in err and "edges2shapes" in err and not run.exists()


# -- 3. one line, exit status 2, for every bad value ------------------------------
@pytest.mark.parametrize("argv, word", [
    (["train", "stripes", "--steps", "0", "--out", "x"], "--steps"),
    (["train", "stripes", "--steps", "-3", "--out", "x"], "--steps"),
    (["distill", "stripes", "--ngf", "0", "--steps", "1", "--out", "x"], "--ngf"),
    (["distill", "stripes", "--ngf", "4", "--steps", "1", "--batch-size", "0", "--out", "x"], "--batch-size"),
    (["distill", "stripes", "--ngf", "4", "--steps", "1", "--device", "gpu9", "--out", "x"], "--device"),
    (["train", "stripes", "--device", "cuda:7", "--out", "x"], "--device"),
    (["evaluate", "f.pt", "--task", "stripes", "--n", "0"], "--n"),
    (["data", "stripes", "--n", "two", "--out", "x"], "--n"),
    (["sweep-decomposition", "--widths", "16", "0", "--out", "x"], "--widths"),
    (["profile", "resnet", "--ngf", "-1"], "--ngf"),
    # a number that is not finite, or a probability outside [0, 1]
    (["search", "s.pt", "--budget", "nan"], "--budget"),
    (["search", "s.pt", "--budget", "inf"], "--budget"),
    (["search", "s.pt", "--budget", "1e8", "--mutate-prob", "1.5"], "--mutate-prob"),
    (["search", "s.pt", "--budget", "1e8", "--mutate-prob", "-0.1"], "--mutate-prob"),
    (["prune", "t.pt", "--target-macs", "inf", "--out", "x.pt"], "--target-macs"),
    (["prune", "t.pt", "--target-macs", "nan", "--out", "x.pt"], "--target-macs"),
    (["sweep-cat", "--reduction", "nan", "--out", "x"], "--reduction"),
    (["sweep-cat", "--reduction", "0.5", "--out", "x"], "--reduction"),
    (["distill", "stripes", "--ngf", "4", "--lambda-recon", "nan", "--out", "x"], "--lambda-recon"),
    (["distill", "stripes", "--ngf", "4", "--lambda-distill", "-inf", "--out", "x"], "--lambda-distill"),
])
def test_bad_values_stop_at_the_edge_as_one_line(argv, word, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert word in usage_error(argv, capsys)
    assert not any(tmp_path.iterdir())       # nothing was written


def test_exporting_the_wrong_kind_of_folder_is_one_line(tmp_path, capsys, clean_version):
    student = tmp_path / "student"
    assert main(["distill", "stripes", "--unpaired", "--fresh-d", "--ngf", "4", "--steps", "1",
                 "--n-train", "4", "--n", "8", "--out", str(student), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export-teacher", str(student), "--out", str(tmp_path / "t")]) == 2
    assert "export-student" in one_error_line(capsys)
    nothing = tmp_path / "empty"
    nothing.mkdir()
    assert main(["export-student", str(nothing), "--name", "x", "--out", str(tmp_path / "s")]) == 2
    one_error_line(capsys)
    (nothing / "recipe.json").write_text("{not json")
    assert main(["export-teacher", str(nothing), "--out", str(tmp_path / "t")]) == 2
    assert "unreadable" in one_error_line(capsys)
    assert not (tmp_path / "t").exists() and not (tmp_path / "s").exists()


def test_a_corrupt_checkpoint_is_one_short_line(tmp_path, capsys):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"\x80\x02 not a checkpoint")
    fake.with_suffix(".json").write_text(json.dumps({"sha256": __import__("hashlib").sha256(
        fake.read_bytes()).hexdigest()}))
    assert main(["evaluate", str(fake), "--task", "stripes"]) == 2
    err = one_error_line(capsys)
    # the file is named once, and the rest is short whatever the temporary folder's depth
    assert err.count(str(fake)) == 1 and "weights_only" not in err
    assert len(err.replace(str(fake), "")) < 200


def test_a_corrupt_image_names_its_file(tmp_path, capsys):
    from gancomp_lite.data import open_dataset
    from gancomp_lite.errors import CorruptImageError

    out = tmp_path / "d"
    assert main(["data", "stripes", "--n", "2", "--size", "16", "--out", str(out)]) == 0
    bad = out / "trainA" / "000001.png"
    bad.write_bytes(b"truncated")
    data = open_dataset(str(out), phase="train")
    with pytest.raises(CorruptImageError, match="000001.png"):
        [data[i] for i in range(len(data))]


def test_evaluate_takes_a_shipped_student_and_checks_its_task(capsys):
    student = DATA_DIR / "students" / "stripes-pseudo-pairs-ngf4-ci.pt"
    assert main(["evaluate", str(student), "--task", "stripes", "--n", "8", "--json"]) == 0
    assert "oracle_animal_w1" in json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(student), "--task", "edges2shapes", "--n", "8"]) == 2
    assert "stripes" in one_error_line(capsys)


def test_a_paired_task_refuses_an_unaligned_folder(tmp_path, capsys):
    folder = tmp_path / "horses"
    assert main(["data", "stripes", "--n", "2", "--size", "16", "--out", str(folder)]) == 0
    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["train", "edges2shapes", "--data", str(folder), "--steps", "1", "--out", str(run),
                 "--no-progress"]) == 2
    assert "paired task needs pairs" in one_error_line(capsys) and not run.exists()


# -- 4. paths and messages that agree ---------------------------------------------
def test_a_missing_download_names_the_command_and_the_folder_fetch_fills(tmp_path, monkeypatch, capsys):
    from gancomp_lite.data import download

    monkeypatch.setenv("GANCOMP_DATA", str(tmp_path))
    with pytest.raises(download.MissingDownloadError) as err:
        download.ensure("horse2zebra")
    msg = str(err.value)
    assert "gancomp-lite download horse2zebra" in msg
    assert str(download.local_folder("horse2zebra")) in msg
    assert download.local_folder("horse2zebra") == tmp_path / "datasets" / "horse2zebra"
    assert main(["download", "--list"]) == 0
    assert str(tmp_path / "datasets" / "horse2zebra") in capsys.readouterr().out


def test_a_missing_full_scale_teacher_names_the_commands_that_make_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANCOMP_SCALE", "full")
    assert main(["distill", "stripes", "--ngf", "4", "--steps", "1", "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    err = one_error_line(capsys)
    assert "gancomp-lite train stripes --scale full --data" in err and "export-teacher" in err


def test_images_changed_on_the_way_in_are_counted_once(tmp_path):
    import numpy as np
    from PIL import Image

    from gancomp_lite.data import open_dataset
    from gancomp_lite.errors import DataChangeWarning

    root = tmp_path / "real"
    for d in ("trainA", "trainB"):
        (root / d).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / d / f"{i}.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "trainA" / "3.png")        # grayscale
    Image.fromarray(np.zeros((16, 24, 3), np.uint8)).save(root / "trainA" / "4.png")     # not square
    with pytest.warns(DataChangeWarning) as notes:
        data = open_dataset(root, size=16, preprocess="resize")
    assert len(notes) == 1
    msg = str(notes[0].message)
    assert "of 5 images, 1 converted to RGB" in msg and "1 resized out of their aspect ratio" in msg
    assert data.changes["trainA"] == {"images": 5, "converted": 1, "stretched": 1}
    assert data.changes["trainB"]["converted"] == 0


def test_load_or_train_teacher_resumes_only_a_run_that_exists(tmp_path, monkeypatch):
    from gancomp_lite.training import teachers

    calls = []

    class Stop(Exception):
        pass

    def fake_train(task, out, scale=None, progress=True, resume=False, **kw):
        calls.append(resume)
        raise Stop

    monkeypatch.setattr(teachers, "train_teacher", fake_train)
    run = tmp_path / "teacher-run"
    for expected in (False, True):
        with pytest.raises(Stop):
            teachers.load_or_train_teacher("stripes", "full", run_dir=run, progress=False)
        run.mkdir(exist_ok=True)
        (run / "checkpoint.pt").write_bytes(b"x")
    assert calls == [False, True]


def test_a_supernet_given_where_a_generator_is_needed_is_one_line(capsys):
    supernet = DATA_DIR / "supernets" / "edges2shapes-channels-48-ci-uniform-seed0.pt"
    assert main(["evaluate", str(supernet), "--task", "edges2shapes", "--n", "4"]) == 2
    assert "export-subnet" in one_error_line(capsys)


def test_the_library_refuses_numbers_that_are_not_finite_or_not_probabilities():
    from gancomp_lite.compression.ofa import evolution_search, search_space
    from gancomp_lite.compression.one_step import prune_untrained
    from gancomp_lite.errors import BudgetError, GancompError

    space = search_space("channels-48-ci")
    cost = lambda c: sum(c)   # noqa: E731 - any cost
    for budget in (float("nan"), float("inf"), -1.0):
        with pytest.raises(BudgetError, match="budget"):
            evolution_search(space, budget, score=lambda c: 0.0, cost=cost)
    for prob in (1.5, -0.2, float("nan")):
        with pytest.raises(GancompError, match="probability"):
            evolution_search(space, 1e9, score=lambda c: 0.0, cost=cost, mutate_prob=prob)
    with pytest.raises(GancompError, match="crossovers"):
        evolution_search(space, 1e9, score=lambda c: 0.0, cost=cost, parent_ratio=0.6,
                         mutation_ratio=0.6)
    for target in (float("nan"), float("inf")):
        with pytest.raises(BudgetError, match="finite"):
            prune_untrained(target, ngf=8, size=64)
