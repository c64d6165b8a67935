"""The book's structure: chapters, Colab copies and buttons, template, config."""
import ast
import json
import re
from pathlib import Path

import jupytext
import pytest

from gancomp_lite import booktools
from gancomp_lite.booktools import (COLAB_SETUP_CELL, REPOSITORY_URL, chapters, colab_notebook,
                                    colab_url)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = chapters()


def test_there_are_chapters_and_the_toc_lists_them_all():
    assert len(CHAPTERS) >= 2
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*(nb/\S+)", toc)
    assert sorted(listed) == sorted(f"nb/{p.stem}" for p in CHAPTERS)
    assert "root: book/intro" in toc


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_colab_copy_in_sync(chapter):
    copy = chapter.with_suffix(".ipynb")
    assert copy.exists(), f"{copy} missing: run `make colab`"
    assert copy.read_text(encoding="utf-8") == colab_notebook(chapter), (
        f"{copy.name} is out of sync with {chapter.name}: run `make colab`")
    nb = json.loads(copy.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_template(chapter):
    text = chapter.read_text(encoding="utf-8")
    nb = jupytext.read(chapter)
    # title and a Colab badge that opens the committed copy of this very chapter
    assert re.search(r"^# \S", text, re.M)
    badge = re.search(r"\(https://colab\.research\.google\.com/github/([^)]+)\)", text)
    assert badge and "https://colab.research.google.com/github/" + badge.group(1) == colab_url(chapter)
    rel = badge.group(1).split("/blob/main/")[1]
    assert (ROOT / rel).exists()
    # the first code cell is the Colab setup, identical everywhere, hidden from the book
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == COLAB_SETUP_CELL
    assert "remove-cell" in code[0].metadata.get("tags", [])
    assert REPOSITORY_URL in code[0].source
    # the next one prints scale and device
    assert "describe(" in code[1].source
    for heading in ("What you will learn", "## Summary", "## Exercises", "## References"):
        assert heading in text, f"{chapter.name}: missing {heading!r}"
    assert "{cite:p}" in text and "{bibliography}" in text
    # labels are prefixed (sec-, fig-, eq-, tab-) and never equal to a file name
    for label in re.findall(r"^\((\S+)\)=", text, re.M):
        assert re.match(r"(sec|fig|eq|tab)-", label), label
    assert "cuda:0" not in text


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_do_not_redefine_package_code(chapter):
    """Chapters import from gancomp_lite; they never define functions/classes it has."""
    import gancomp_lite
    public = set()
    for path in Path(gancomp_lite.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        public |= {n.name for n in tree.body
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}
    nb = jupytext.read(chapter)
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.startswith("%"):
            continue
        tree = ast.parse(cell.source)
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not (defined & public), f"{chapter.name} redefines {defined & public}"


def test_config_points_at_the_same_repository_and_bibliography():
    config = (ROOT / "_config.yml").read_text()
    assert f"url: {REPOSITORY_URL}" in config
    assert "colab_url: https://colab.research.google.com" in config
    assert "book/references.bib" in config and (ROOT / "book/references.bib").exists()
    assert '"**/*.ipynb"' in config  # the Colab copies are not pages
    assert "allow_errors: false" in config
    readme = (ROOT / "README.md").read_text()
    assert REPOSITORY_URL in readme


def test_every_cited_key_is_in_the_bibliography():
    bib = (ROOT / "book/references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    texts = [p.read_text() for p in CHAPTERS] + [(ROOT / "book/intro.md").read_text()]
    cited = {k.strip() for t in texts for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", t)
             for k in group.split(",")}
    assert cited and cited <= keys, cited - keys
    for key in ("li2020gan", "jin2021teachers", "you2022exploring", "isola2017image",
                "zhu2017unpaired", "park2019semantic", "ren2021online", "park2019relational",
                "cai2020once"):
        assert key in keys


def test_check_colab_command_reports_stale_copy(tmp_path, monkeypatch):
    src = CHAPTERS[0]
    (tmp_path / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(booktools, "NB_DIR", tmp_path)
    monkeypatch.setattr(booktools, "REPO_ROOT", tmp_path.parent)
    assert booktools.stale_copies() == [tmp_path / src.name]
    booktools.sync_colab()
    assert booktools.stale_copies() == []
