"""course_lib.book_build executes pages in parallel into the cache that `jupyter-book build` reads.

A tiny book of two executed pages: after ``execute_book`` the build must find both in its cache
(it logs "Using cached notebook" and executes nothing), and show the outputs the pre-execution made
in the page's own folder, as the build's own execution would."""
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from course_lib import book_build

pytestmark = pytest.mark.slow
HUB = "https://hub.example.edu"
PACK_REPO = "https://github.com/example/rnn-course-pack"
HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def tiny_book(root: Path) -> None:
    (root / "_config.yml").write_text(
        "title: tiny\nexecute:\n  execute_notebooks: cache\n  timeout: 60\nonly_build_toc_files: true\n"
        "sphinx:\n  extra_extensions: [course_lib.book_ext]\n"
        f"launch_buttons:\n  notebook_interface: jupyterlab\n  jupyterhub_url: {HUB}\n"
        f"repository:\n  url: {PACK_REPO}\n  branch: main\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nparts:\n  - caption: Pages\n"
                                   "    numbered: true\n    chapters:\n      - file: pages/a\n"
                                   "        sections:\n          - file: pages/b\n          - file: pages/c\n")
    (root / "intro.md").write_text("# Tiny\n\nNo code here, so nothing to execute.\n")
    (root / "pages").mkdir()
    for name in "abc":
        (root / "pages" / f"{name}.md").write_text(
            HEADER + f"\n# Page {name}\n\n```{{code-cell}} ipython3\nimport os\n"
            f"print('page {name} ran in', os.path.basename(os.getcwd()))\n```\n")


def test_pages_executed_beforehand_are_not_executed_by_the_build(tmp_path):
    from jupyter_cache import get_cache
    tiny_book(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in book_build.toc_pages(tmp_path)] == [
        "intro.md", "pages/a.md", "pages/b.md", "pages/c.md"]
    broken = tmp_path / "pages" / "c.md"
    broken.write_text(broken.read_text().replace("import os", "import os\nraise ValueError('broken page')"))
    assert book_build.execute_book(tmp_path, jobs=2) == 1      # c fails and is not cached
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    assert book_build.out_of_date(tmp_path, cache) == [broken]
    broken.write_text(broken.read_text().replace("raise ValueError('broken page')", ""))

    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(tmp_path), "-n", "-W"],
                           capture_output=True, text=True, timeout=300)
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-3000:]
    assert log.count("Using cached notebook") == 2 and log.count("Executing notebook") == 1, log[-3000:]
    for name in "abc":
        html = (tmp_path / "_build" / "html" / "pages" / f"{name}.html").read_text()
        assert f"page {name} ran in pages" in html             # executed in the page's folder
        assert 'href="../_sources/pages/' + name + '.ipynb"' in html     # the download menu
        notebook = nbformat.read(tmp_path / "_build" / "html" / "_sources" / "pages" / f"{name}.ipynb", 4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert len(code) == 1 and f"page {name} ran in" in code[0].source and not code[0].outputs
        assert notebook.metadata.kernelspec.name == "python3" and "jupytext" not in notebook.metadata
        launch = re.search(r'href="(' + re.escape(HUB) + r'[^"]*)"', html)             # the launch button
        assert launch, "no launch button although jupyterhub_url and repository.url are set"
        assert unquote(launch.group(1)).replace("&amp;", "&") == (
            f"{HUB}/hub/user-redirect/git-pull?repo={PACK_REPO}&urlpath=lab/tree/rnn-course-pack/pages/{name}.md"
            "&branch=main")
    intro = (tmp_path / "_build" / "html" / "intro.html").read_text()
    assert ".ipynb" not in intro and "git-pull" not in intro  # a page with no code is no notebook

    assert book_build.out_of_date(tmp_path, cache) == []
    page = tmp_path / "pages" / "b.md"
    page.write_text(page.read_text().replace("ran in", "now runs in"))
    assert book_build.out_of_date(tmp_path, cache) == [page]   # a changed code cell runs again
