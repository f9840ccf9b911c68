"""The book builds strictly (a warning fails) and reads offline (nothing loads from the internet).

The build itself starts in the background when the tests are collected (see conftest.py), so that
it runs beside the other tests; the fixture below waits for it."""
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

pytestmark = pytest.mark.slow
LOADING_TAGS = {"script": "src", "link": "href", "img": "src", "iframe": "src",
                "source": "src", "video": "src", "audio": "src", "embed": "src", "object": "data"}


class Loads(HTMLParser):
    """Collects (tag, url) for every element that makes the browser fetch something."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in LOADING_TAGS and attrs.get(LOADING_TAGS[tag]):
            self.urls.append((tag, attrs[LOADING_TAGS[tag]]))
        if tag == "img" and attrs.get("srcset"):
            self.urls += [("img", part.split()[0]) for part in attrs["srcset"].split(",")]


def remote(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme in {"http", "https"}


def page_loads(html: Path):
    parser = Loads()
    parser.feed(html.read_text(encoding="utf-8"))
    return parser.urls


@pytest.fixture(scope="module")
def built(root, request):
    if not (root / "_build" / "_vendor" / ".done").exists():
        pytest.fail("the vendored browser assets are missing: run `make vendor` (make test does)")
    # started at collection already (conftest.py), unless the assets appeared since
    returncode, output = request.getfixturevalue("book_build")
    assert returncode == 0, f"strict book build failed:\n{output}"
    return root / "_build" / "html"


def test_every_toc_page_exists_and_is_built(root, built):
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    sections = [toc] + toc.get("parts", [])
    files = [toc["root"]] + [entry["file"] for s in sections for entry in s.get("chapters", [])]
    for name in files:
        assert (root / f"{name}.md").is_file(), f"_toc.yml lists {name}, which has no source"
        assert (built / f"{name}.html").is_file(), f"{name} was not built"


def test_nothing_loads_from_the_internet(built):
    pages = sorted(built.rglob("*.html"))
    assert pages, "no HTML was built"
    offenders = [(p.relative_to(built), tag, url) for p in pages for tag, url in page_loads(p) if remote(url)]
    assert not offenders, "pages load remote resources:\n" + "\n".join(map(str, offenders[:20]))


def test_local_assets_exist_and_math_is_vendored(built):
    intro = built / "book" / "intro.html"
    loads = [url for _, url in page_loads(intro)]
    assert any("mathjax/es5/tex-chtml.js" in u for u in loads), "MathJax is not loaded from the build"
    for page in sorted(built.rglob("*.html")):
        if "_static" in page.relative_to(built).parts:
            continue  # theme templates copied as static files, not pages
        for _, url in page_loads(page):
            if remote(url) or url.startswith(("data:", "#", "mailto:")):
                continue
            target = (page.parent / urlsplit(url).path).resolve()
            assert target.exists(), f"{page.relative_to(built)} loads {url}, which is not in the build"


def test_no_page_carries_widgets_or_loads_a_widget_manager(built):
    """The interactive figures are plain HTML/JS: a page with ipywidget views or state would need the
    widget manager (and RequireJS), which the build no longer ships (Makefile `vendor`)."""
    offenders = []
    for page in sorted(built.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        name = page.relative_to(built)
        offenders += [f"{name}: {mime}" for mime in ("application/vnd.jupyter.widget-view+json",
                                                      "application/vnd.jupyter.widget-state+json") if mime in html]
        offenders += [f"{name} loads {url}" for _, url in page_loads(page)
                      if re.search(r"html-manager|embed-amd|require(\.min)?\.js", url)]
    assert not offenders, ("widget output in the book (a tqdm progress bar? pass progress=False):\n"
                           + "\n".join(offenders[:20]))
    assert not (built / "_static" / "html-manager").exists(), "the widget manager is still vendored"


def test_executed_cells_show_their_output(built):
    text = (built / "book" / "intro.html").read_text(encoding="utf-8")
    errors = [float(m) for m in re.findall(r"relative error: ([0-9.e+-]+)", text)]
    assert errors and errors[0] < 1e-7, "the gradient check on the front page did not run or failed"
