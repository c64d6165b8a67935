"""Provenance: code versions of a git tree, and refusing to ship from uncommitted code."""
import json
import shutil
import subprocess

import pytest

from gancomp_lite import provenance
from gancomp_lite.cli import main
from gancomp_lite.provenance import DirtyTreeError, code_version, require_clean, sha256_of

CLEAN = "0123456789abcdef0123456789abcdef01234567"
GIT = ["git", "-c", "user.name=gancomp test", "-c", "user.email=test@example.invalid",
       "-c", "commit.gpgsign=false"]


def _git(repo, *args):
    return subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with one committed file in ``gancomp_lite/``."""
    root = tmp_path / "repo"
    (root / "gancomp_lite").mkdir(parents=True)
    (root / "gancomp_lite" / "x.py").write_text("X = 1\n")
    (root / "notes.txt").write_text("not code\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_code_version_is_the_commit_and_marks_edits_dirty(repo):
    head = _git(repo, "rev-parse", "HEAD")
    assert code_version(root=repo) == head and len(head) == 40
    (repo / "notes.txt").write_text("edited, but not package code\n")
    assert code_version(root=repo) == head
    (repo / "gancomp_lite" / "x.py").write_text("X = 2\n")
    assert code_version(root=repo) == head + "+dirty"
    _git(repo, "commit", "-q", "-am", "second")
    assert code_version(root=repo) == _git(repo, "rev-parse", "HEAD") != head


def test_a_new_module_is_uncommitted_code_too(repo):
    (repo / "gancomp_lite" / "new.py").write_text("Y = 1\n")
    assert code_version(root=repo).endswith("+dirty")


def test_outside_a_git_checkout_the_version_says_so(tmp_path, repo):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert code_version(root=plain).endswith("(no git)")
    # a folder inside some other repository is not that repository's code
    assert code_version(root=repo / "gancomp_lite").endswith("(no git)")


def test_require_clean_refuses_a_dirty_tree_unless_allowed(repo):
    head = _git(repo, "rev-parse", "HEAD")
    assert require_clean(root=repo) == head
    (repo / "gancomp_lite" / "x.py").write_text("X = 2\n")
    with pytest.raises(DirtyTreeError) as err:
        require_clean(what="ship a thing", root=repo)
    msg = str(err.value)
    assert "\n" not in msg and "ship a thing" in msg and head + "+dirty" in msg
    assert "--allow-dirty" in msg and "commit" in msg
    assert require_clean(allow_dirty=True, root=repo) == head + "+dirty"


def test_require_clean_run_checks_every_recorded_version(tmp_path):
    provenance.require_clean_run(CLEAN, tmp_path)
    provenance.require_clean_run(None, tmp_path)  # nothing recorded: nothing to refuse
    with pytest.raises(DirtyTreeError, match="re-run it from a committed tree"):
        provenance.require_clean_run([CLEAN, CLEAN + "+dirty"], tmp_path, what="export it")
    provenance.require_clean_run(CLEAN + "+dirty", tmp_path, allow_dirty=True)


def test_sha256_of_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256_of(path, chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_metrics_never_import_training():
    import gancomp_lite.metrics.features as features
    import gancomp_lite.metrics.quality  # noqa: F401

    assert features.load_feature_net().num_features == 128
    from pathlib import Path

    for path in sorted(Path(features.__file__).parent.glob("*.py")):
        text = path.read_text()
        assert "from ..training" not in text and "gancomp_lite.training" not in text, path


# -- the commands that ship refuse uncommitted code --------------------------
def _set_version(monkeypatch, version):
    monkeypatch.setattr(provenance, "code_version", lambda root=None: version)


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A two-step ci teacher run recorded by clean code, with its command."""
    from gancomp_lite.training.teachers import train_teacher

    run = tmp_path_factory.mktemp("teacher") / "run"
    with pytest.MonkeyPatch.context() as mp:
        _set_version(mp, CLEAN)
        train_teacher("edges2shapes", run, scale="ci", steps=2, device="cpu", progress=False,
                      command="gancomp-lite train edges2shapes --steps 2 --out RUN")
    info = json.loads((run / "recipe.json").read_text())
    assert info["code_version"] == CLEAN and info["command"].startswith("gancomp-lite train")
    return run


def test_export_teacher_refuses_a_dirty_tree(teacher_run, tmp_path, monkeypatch, capsys):
    _set_version(monkeypatch, CLEAN + "+dirty")
    out = tmp_path / "ship"
    assert main(["export-teacher", str(teacher_run), "--out", str(out), "--n", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gancomp-lite: error: refusing to export a teacher")
    assert "+dirty" in err and "--allow-dirty" in err
    assert not out.exists()  # refused before writing anything


def test_export_teacher_refuses_a_run_trained_by_dirty_code(teacher_run, tmp_path, monkeypatch,
                                                             capsys):
    _set_version(monkeypatch, CLEAN)
    run = tmp_path / "run"
    shutil.copytree(teacher_run, run)
    info = json.loads((run / "recipe.json").read_text())
    info["code_version"] = CLEAN + "+dirty"
    (run / "recipe.json").write_text(json.dumps(info))
    assert main(["export-teacher", str(run), "--out", str(tmp_path / "ship"), "--n", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and run.as_posix() in err and "uncommitted" in err


def test_export_teacher_allow_dirty_is_recorded(teacher_run, tmp_path, monkeypatch, capsys):
    _set_version(monkeypatch, CLEAN + "+dirty")
    args = ["export-teacher", str(teacher_run), "--out", str(tmp_path / "ship"), "--n", "4",
            "--allow-dirty"]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "ship" / "edges2shapes-ci.json").read_text())
    assert manifest["allow_dirty"] is True
    assert manifest["code_version"] == CLEAN and manifest["export_code_version"] == CLEAN + "+dirty"
    # the commands are the ones the runner received, not re-assembled ones
    assert manifest["commands"][0] == "gancomp-lite train edges2shapes --steps 2 --out RUN"
    assert manifest["command_recorded"] is True
    assert manifest["commands"][1] == "gancomp-lite export-teacher " + " ".join(args[1:])


def test_export_teacher_says_when_no_command_was_recorded(teacher_run, tmp_path, monkeypatch):
    from gancomp_lite.training.teachers import export_teacher

    _set_version(monkeypatch, CLEAN)
    run = tmp_path / "run"
    shutil.copytree(teacher_run, run)
    info = json.loads((run / "recipe.json").read_text())
    del info["command"]
    (run / "recipe.json").write_text(json.dumps(info))
    manifest = export_teacher(run, tmp_path / "ship", n_eval=4)
    assert manifest["command_recorded"] is False and manifest["allow_dirty"] is False
    assert manifest["commands"][0].startswith("gancomp-lite train edges2shapes --scale ci --steps 2")


def test_train_command_records_its_argv(tmp_path, monkeypatch):
    _set_version(monkeypatch, CLEAN)
    args = ["train", "edges2shapes", "--scale", "ci", "--steps", "1", "--out", str(tmp_path / "r"),
            "--no-progress", "--device", "cpu"]
    assert main(args) == 0
    info = json.loads((tmp_path / "r" / "recipe.json").read_text())
    assert info["command"] == "gancomp-lite " + " ".join(args) and info["code_version"] == CLEAN


def test_export_student_and_train_features_refuse_dirty_code(tmp_path, monkeypatch, capsys):
    run = tmp_path / "student"
    run.mkdir()
    (run / "recipe.json").write_text(json.dumps({"recipe": {}, "teacher": "t.pt",
                                             "code_version": CLEAN + "+dirty"}))
    _set_version(monkeypatch, CLEAN)
    assert main(["export-student", str(run), "--name", "s", "--out", str(tmp_path / "ship")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to export a student" in err
    _set_version(monkeypatch, CLEAN + "+dirty")
    assert main(["train-features", "--steps", "1", "--out", str(tmp_path / "f"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to train the feature network" in err
    assert not (tmp_path / "f").exists()


def test_same_package_means_the_same_gancomp_lite_tree(repo):
    from gancomp_lite.provenance import same_package

    first = _git(repo, "rev-parse", "HEAD")
    (repo / "notes.txt").write_text("a chapter or data changed\n")
    _git(repo, "commit", "-q", "-am", "docs only")
    docs = _git(repo, "rev-parse", "HEAD")
    (repo / "gancomp_lite" / "x.py").write_text("X = 3\n")
    _git(repo, "commit", "-q", "-am", "code")
    code = _git(repo, "rev-parse", "HEAD")
    assert same_package(first, first, root=repo) and same_package(first, docs, root=repo)
    assert not same_package(first, code, root=repo) and not same_package(docs, code, root=repo)
    assert not same_package(first + "+dirty", first + "+dirty", root=repo)   # unknown code
    assert not same_package(None, first, root=repo) and not same_package(first, "0" * 40, root=repo)
