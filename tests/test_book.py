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


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_comparison_table_shows_a_noise_floor(chapter):
    """Every results table shows a noise floor: the standard cost/quality table gets its rows."""
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type != "code" or cell.source.startswith("%"):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "cost_quality_table"):
                assert "noise" in {k.arg for k in node.keywords}, f"{chapter.name}: a table without noise="


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


def test_book_reuses_the_executions_of_the_tests():
    """`make test` fills .jupyter_cache/ and the book reads it (no chapter runs twice)."""
    config = (ROOT / "_config.yml").read_text()
    assert "execute_notebooks: cache" in config
    assert re.search(r"^  cache: \.jupyter_cache\b", config, re.M)
    assert "- gancomp_lite.booktools" in config  # the extension that drops stale runs
    assert "  - .jupyter_cache\n" in config  # not a source folder
    assert ".jupyter_cache/" in (ROOT / ".gitignore").read_text().split()
    assert booktools.CACHE_DIR == ".jupyter_cache"


_CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# A chapter

```{code-cell} ipython3
print("hi")
```
"""


def _toy_repo(root):
    (root / "gancomp_lite").mkdir()
    (root / "gancomp_lite" / "mod.py").write_text("X = 1\n")
    (root / "data").mkdir()
    (root / "data" / "table.json").write_text("{}")
    (root / "requirements-lock.txt").write_text("pkg==1\n")
    (root / "nb").mkdir()
    chapter = root / "nb" / "01_toy.md"
    chapter.write_text(_CHAPTER)
    return chapter


def test_a_cached_run_is_current_only_while_nothing_it_depends_on_changed(tmp_path, monkeypatch):
    monkeypatch.delenv("GANCOMP_SCALE", raising=False)
    chapter = _toy_repo(tmp_path)
    stamp = booktools.chapter_stamp(chapter, booktools.inputs_fingerprint(tmp_path))

    def current():
        return booktools.record_is_current(stamp, str(chapter), booktools.inputs_fingerprint(tmp_path))

    assert current()
    (tmp_path / "gancomp_lite" / "__pycache__").mkdir()  # bytecode is not an input
    (tmp_path / "gancomp_lite" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"x")
    assert current()
    (tmp_path / "gancomp_lite" / "mod.py").write_text("X = 2\n")  # the package changed
    assert not current()
    (tmp_path / "gancomp_lite" / "mod.py").write_text("X = 1\n")  # and back: same content
    assert current()
    (tmp_path / "data" / "new.pt").write_bytes(b"\0")  # new shipped data
    assert not current()
    (tmp_path / "data" / "new.pt").unlink()
    (tmp_path / "requirements-lock.txt").write_text("pkg==2\n")  # the lock
    assert not current()
    (tmp_path / "requirements-lock.txt").write_text("pkg==1\n")
    monkeypatch.setenv("GANCOMP_SCALE", "small")  # another scale
    assert not current()
    monkeypatch.delenv("GANCOMP_SCALE")
    assert current()
    chapter.write_text(_CHAPTER.replace("# A chapter", "# A retitled chapter"))  # its source
    assert not current()
    assert not booktools.record_is_current({}, str(chapter), booktools.inputs_fingerprint(tmp_path))


def test_the_book_finds_what_the_tests_cached_and_stale_runs_are_dropped(tmp_path, monkeypatch):
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    monkeypatch.delenv("GANCOMP_SCALE", raising=False)
    chapter = _toy_repo(tmp_path)
    inputs = booktools.inputs_fingerprint(tmp_path)
    out = {"output_type": "stream", "name": "stdout", "text": "hi\n"}
    assert booktools.cache_executed_chapter(chapter, _CHAPTER, ['print("bye")'], [[out]],
                                            inputs, 1.0, tmp_path) is None  # not what ran
    record = booktools.cache_executed_chapter(chapter, _CHAPTER, ['print("hi")'], [[out]],
                                              inputs, 1.0, tmp_path)
    cache = get_cache(tmp_path / booktools.CACHE_DIR)
    # the key is the one myst-nb computes for the page (NotebookClientCache)
    page = read_myst_markdown_notebook(_CHAPTER, add_source_map=True, path=str(chapter))
    assert cache.match_cache_notebook(page).pk == record.pk
    _, merged = cache.merge_match_into_notebook(page)
    assert [c.outputs for c in merged.cells if c.cell_type == "code"] == [[out]]
    assert booktools.prune_cache(tmp_path) == []
    (tmp_path / "gancomp_lite" / "mod.py").write_text("X = 2\n")
    assert booktools.prune_cache(tmp_path) == [str(chapter.absolute())]
    assert cache.list_cache_records() == []
    # a run myst-nb cached during the build gets the state noted before the build
    from jupyter_cache.base import CacheBundleIn
    booktools.prune_cache(tmp_path)
    cache.cache_notebook_bundle(CacheBundleIn(page, str(chapter.absolute())),
                                check_validity=False, overwrite=True)
    assert booktools.stamp_cache(tmp_path) == [str(chapter.absolute())]
    assert booktools.prune_cache(tmp_path) == []
    booktools.forget_chapter(chapter, tmp_path)
    assert cache.list_cache_records() == []


def test_a_built_page_with_a_warning_or_a_broken_table_is_caught():
    from gancomp_lite.booktools import page_problems

    clean = ('<div class="cell_output docutils container"><div class="output stderr highlight-myst-ansi '
             'notranslate"><div class="highlight"><pre><span></span>train: 100%|##| 5/5</pre></div>'
             '</div></div><table><tr><td>a | b</td></tr></table><p>A sentence with a | in it.</p>')
    assert page_problems(clean) == []
    warned = clean.replace("train: 100%|##| 5/5", "/x/tqdm/auto.py:21: TqdmWarning: IProgress not "
                                                    "found.\n  from .autonotebook import tqdm")
    assert page_problems(warned) == ["a warning in a cell's output: /x/tqdm/auto.py:21: TqdmWarning: "
                                     "IProgress not found."]
    broken = clean + "<p>| export | a|b |\n|---|---|\n| onnx | 1 |</p>"
    assert [p.split(":")[0] for p in page_problems(broken)] == ["a Markdown table shown as text"]
    # as Sphinx writes it: smart quotes make the rule's dashes em dashes
    built = clean + "<p>| runtime | largest |difference| |\n|&#8212;|&#8212;|\n| x | 1 |</p>"
    assert [p.split(":")[0] for p in page_problems(built)] == ["a Markdown table shown as text"]


def test_a_table_cell_or_title_with_a_bar_keeps_the_table_whole():
    from markdown_it import MarkdownIt

    from gancomp_lite.viz import Table

    md = Table([{"runtime | threads": "onnx|2", "ms": 1.5}], formats={"ms": ".1f"}).to_markdown()
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert html.count("<th>") == 2 and html.count("<td>") == 2 and "runtime | threads" in html


def test_widgets_are_shown_only_where_they_can_run(monkeypatch):
    import importlib.util

    from gancomp_lite import viz

    monkeypatch.setenv("GANCOMP_STATIC", "1")
    assert viz.widgets_enabled() is False
    monkeypatch.delenv("GANCOMP_STATIC")
    installed = importlib.util.find_spec("ipywidgets") is not None
    assert viz.widgets_enabled() is installed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert viz.widgets_enabled() is False


def test_chapters_on_xdist_workers_need_dist_loadfile(tmp_path):
    """Under `--dist load` a chapter's cells would be dealt to different kernels (a NameError
    in every cell after the first): the run is refused at once, with the flag to use."""
    import subprocess
    import sys

    base = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
            "nb/01_cost.md", "-n", "2"]
    bad = subprocess.run(base, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 4 and "--dist loadfile" in bad.stdout + bad.stderr, bad.stderr
    good = subprocess.run(base + ["--dist", "loadfile"], cwd=ROOT, capture_output=True, text=True)
    assert good.returncode == 0, good.stdout[-2000:] + good.stderr[-2000:]


def test_readme_chapter_times_are_the_recorded_run():
    """The README's table of chapter times at small is written from the recorded file."""
    from gancomp_lite.booktools import readme_chapter_times
    from gancomp_lite.paths import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_chapter_times(text) == text, "README.md's chapter times are stale: run `make colab`"
    with pytest.raises(ValueError, match="chapter-times"):
        readme_chapter_times("# a README without the marks\n")
