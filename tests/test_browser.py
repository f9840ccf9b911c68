"""The built book in a real browser (headless Chromium), as a reader meets it.

Every page of _toc.yml and the search page are opened twice: served on 127.0.0.1 and from file://.
On each: no console error, no failed load, no request that leaves the machine, every formula
typeset by MathJax, every figure loaded. Served pages are also measured at a desktop (1280 px) and
a phone (390 px) width: nothing may be wider than its column unless it sits in a box that scrolls,
nothing may be clipped, no figure shrunk much below its size. A screenshot of each chapter at both
widths goes to _build/screenshots/.
Search must rank the page that defines a term first. The build comes from conftest.py (`book_build`).
"""
import functools
import http.server
import threading
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml

from browser import console, make_driver, missing, network

pytestmark = pytest.mark.slow
DESKTOP, PHONE = (1280, 900), (390, 844)
SIZES = {"desktop": DESKTOP, "phone": PHONE}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
ON_MACHINE_SCHEMES = {"file", "data", "blob", "about"}
MIN_TEXT_PX = 10  # a figure's text (matplotlib's default size) must show at least this big at desktop width
RAW_TEX = ("\\(", "\\[", "$$", "\\begin{")
# term -> the page that defines it (an `{index}` main entry there), which search must rank first
DEFINED_IN = {"forget gate": "book/lstm", "reset gate": "book/gru", "spectral radius": "book/gradient_flow",
              "teacher forcing": "book/captioning", "beam search": "book/captioning_decoding",
              "length normalisation": "book/seq2seq_decoding"}

SETTLE_JS = """
const done = arguments[arguments.length - 1];
const timeout = new Promise(resolve => setTimeout(() => resolve('timed out after 30 s'), 30000));
const math = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
const images = [...document.images].map(img => img.complete ? null :
    new Promise(resolve => { img.addEventListener('load', resolve); img.addEventListener('error', resolve); }));
const settled = math.then(() => Promise.all(images)).then(() => document.fonts.ready)
    .then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))).then(() => 'ok');
Promise.race([settled, timeout]).then(done, err => done('error: ' + err));
"""

PAGE_JS = """
const skipped = 'pre, code, script, style, textarea, mjx-container';
const walker = document.createTreeWalker(document.querySelector('[role="main"]') || document.body,
                                         NodeFilter.SHOW_TEXT);
let rawTex = [];
for (let node; (node = walker.nextNode());) {
  if (node.parentElement.closest(skipped)) continue;
  for (const tex of arguments[0]) {
    const at = node.data.indexOf(tex);
    if (at >= 0) rawTex.push(node.data.substr(Math.max(0, at - 30), 80).trim());
  }
}
const red = [...document.querySelectorAll('mjx-container mjx-mtext')]
    .filter(el => getComputedStyle(el).color === 'rgb(255, 0, 0)').map(el => el.textContent);
return {
  mathjax: window.MathJax && MathJax.version,
  containers: document.querySelectorAll('mjx-container').length,
  errors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
      .map(el => el.getAttribute('data-mjx-error') || el.textContent).concat(red.map(t => 'undefined ' + t)),
  rawTex: rawTex,
  brokenImages: [...document.images].filter(img => !(img.complete && img.naturalWidth > 0))
      .map(img => img.getAttribute('src')),
  images: document.images.length,
};
"""

LAYOUT_JS = """
const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    [...el.classList].slice(0, 3).map(c => '.' + c).join('') +
    ' "' + el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40) + '"';
const problems = [];
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth + 1)
  problems.push(`the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px viewport`);
const column = document.querySelector('article.bd-article') || document.querySelector('[role="main"]');
const ignored = 'mjx-assistive-mml, script, style, template, .headerlink';
const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
const clips = el => ['hidden', 'clip'].includes(getComputedStyle(el).overflowX);
// how wide the visible content of a clipping box is, when wider than the box (else 0); what sits
// in a box of its own that scrolls or clips is that box's business
const clippedWidth = box => {
  const b = box.getBoundingClientRect(), left = b.left + box.clientLeft, right = left + box.clientWidth;
  let near = left, far = right;
  for (const el of box.querySelectorAll('*')) {
    if (el.closest(ignored)) continue;
    let up = el.parentElement;
    while (up !== box && !scrolls(up) && !clips(up)) up = up.parentElement;
    if (up !== box) continue;
    const r = el.getBoundingClientRect();
    if (r.width >= 1) { near = Math.min(near, r.left); far = Math.max(far, r.right); }
  }
  return (far - right > 1 || left - near > 1) ? Math.round(far - near) : 0;
};
for (const el of [column, ...column.querySelectorAll('*')]) {
  if (el.closest(ignored) || el.clientWidth === 0 || el.scrollWidth <= el.clientWidth + 1 || !clips(el)) continue;
  const wide = clippedWidth(el);
  if (wide) problems.push(`clipped: ${describe(el)} shows ${el.clientWidth} of ${wide} px`);
}
// what sticks out of the column without a scrolling box between it and the column
const edge = column.getBoundingClientRect();
const sticksOut = el => { const r = el.getBoundingClientRect();
                          return r.width >= 1 && (r.right > edge.right + 1 || r.left < edge.left - 1); };
for (const el of column.querySelectorAll('*')) {
  if (el.closest(ignored) || !sticksOut(el)) continue;
  const r = el.getBoundingClientRect();
  let box = el.parentElement;
  while (box !== column && !scrolls(box)) box = box.parentElement;
  if (box === column && (el.parentElement === column || !sticksOut(el.parentElement)))  // outermost only
    problems.push(`wider than the column (${Math.round(edge.width)} px): ${describe(el)} spans ` +
                  `${Math.round(r.left - edge.left)}..${Math.round(r.right - edge.left)} px`);
}
return problems;
"""

# [src, shown width, natural width] of each figure in the text; natural is the width attribute
# when there is one (a 2x image declares half its pixels), else the image's pixel width
FIGURES_JS = """
return [...document.querySelectorAll('article.bd-article img')].map(img => [img.getAttribute('src'),
    Math.round(img.getBoundingClientRect().width), Number(img.getAttribute('width')) || img.naturalWidth]);
"""


def toc_pages(toc: dict) -> list[str]:
    """Every file of a jb-book _toc.yml, in reading order (root, chapters, their sections)."""
    def walk(entries):  # chapters, their sections, and the chapters of parts
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from walk(entry.get("sections", []) + entry.get("chapters", []))
    return [toc["root"]] + list(walk(toc.get("chapters", []))) + list(walk(toc.get("parts", [])))


def toc_chapters(toc: dict) -> set[str]:
    """The root and the chapters of a jb-book _toc.yml (not their sections): screenshot subjects."""
    chapters = toc.get("chapters", []) + [c for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return {toc["root"]} | {entry["file"] for entry in chapters if "file" in entry}


class MathCount(HTMLParser):
    """Counts the elements Sphinx writes for math (class "math"): one MathJax container each."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def handle_starttag(self, tag, attrs):
        self.count += "math" in (dict(attrs).get("class") or "").split()


def math_in_html(path: Path) -> int:
    parser = MathCount()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.count


def leaves_machine(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ON_MACHINE_SCHEMES and parts.hostname not in LOCAL_HOSTS


def requests_of(events: list[dict]) -> dict:
    """What a page asked for: urls, failed loads ('url: why') and requests that left the machine."""
    urls, failed = {}, []
    for event in events:
        method, params = event["method"], event["params"]
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            why = params.get("blockedReason") or params.get("errorText")
            failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {why}")
    return {"urls": sorted(set(urls.values())), "failed": failed,
            "remote": sorted({u for u in urls.values() if leaves_machine(u)})}


@pytest.fixture(scope="module")
def built(root, request) -> Path:
    if not (root / "_build" / "_vendor" / ".done").exists():
        pytest.fail("the vendored browser assets are missing: run `make vendor` (make test does)")
    reason = missing()
    if reason:
        pytest.fail(reason)
    returncode, output = request.getfixturevalue("book_build")
    assert returncode == 0, f"strict book build failed:\n{output}"
    return root / "_build" / "html"


@pytest.fixture(scope="module")
def pages(root, built) -> list[str]:
    """Paths of the pages under test, relative to the build: the _toc.yml pages and search.html."""
    names = [f"{name}.html" for name in toc_pages(yaml.safe_load((root / "_toc.yml").read_text()))]
    absent = [name for name in names if not (built / name).is_file()]
    assert not absent, f"_toc.yml pages missing from the build: {absent}"
    return names + ["search.html"]


@pytest.fixture(scope="module")
def server(built):
    """The build served on a free port of 127.0.0.1 (http.server, quiet)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=built))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def drivers():
    """Two desktop-sized browsers, started side by side: one for served pages, one for file:// pages."""
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(make_driver, *DESKTOP) for _ in range(2)]
        pair = [future.result() for future in started]
    yield pair
    for driver in pair:
        driver.quit()


def visit(driver, url: str, html: Path) -> dict:
    """Open url, wait for MathJax, images and fonts, and collect what the tests check."""
    console(driver), network(driver)  # whatever the previous page left
    driver.get(url)
    settled = driver.execute_async_script(SETTLE_JS)
    page = driver.execute_script(PAGE_JS, list(RAW_TEX))
    page.update(settled=settled, math_spans=math_in_html(html),
                console=[f"{e['level']}: {e['message']}" for e in console(driver)])
    page.update(requests_of(network(driver)))
    return page


def measure(driver, name: str, shots: Path | None, widths: list[str]) -> dict:
    """Layout problems at each width, measured without reloading (resizing the window, in the order
    given: the first is the current size); a screenshot at each into shots (if not None); and at
    desktop width how much each figure is shrunk ([src, shown px, natural px])."""
    problems = {}
    for i, label in enumerate(widths):
        if i:
            driver.set_window_size(*SIZES[label])
            driver.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
        problems[label] = driver.execute_script(LAYOUT_JS)
        if label == "desktop":
            problems["figures"] = driver.execute_script(FIGURES_JS)
        if shots:
            driver.save_screenshot(str(shots / f"{name.replace('/', '_').removesuffix('.html')}-{label}.png"))
    return problems


def serve_pass(driver, server: str, built: Path, pages: list[str], shots: Path, chapters: set[str]) -> dict:
    """Each page loads at the width the previous one ended at (resizing costs as much as loading);
    chapters (and search.html) get screenshots."""
    visits, widths = {}, ["desktop", "phone"]
    for name in pages:
        visits[name] = visit(driver, f"{server}/{name}", built / name)
        shoot = name.removesuffix(".html") in chapters or "/" not in name
        visits[name]["layout"] = measure(driver, name, shots if shoot else None, widths)
        widths.reverse()
    driver.set_window_size(*DESKTOP)
    return visits


def file_pass(driver, built: Path, pages: list[str]) -> dict:
    return {name: visit(driver, (built / name).as_uri(), built / name) for name in pages}


@pytest.fixture(scope="module")
def passes(root, built, pages, server, drivers) -> dict:
    """Every page served (checks, layout at both widths, screenshots) and, at the same time in the
    second browser, from file:// (checks only)."""
    shots = root / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    with ThreadPoolExecutor(2) as pool:
        chapters = toc_chapters(yaml.safe_load((root / "_toc.yml").read_text()))
        served = pool.submit(serve_pass, drivers[0], server, built, pages, shots, chapters)
        from_files = pool.submit(file_pass, drivers[1], built, pages)
        return {"served": served.result(), "from_files": from_files.result()}


@pytest.fixture(params=["served", "from_files"])
def visits(request, passes) -> dict:
    return passes[request.param]


def failures(visits: dict, check) -> list[str]:
    return [f"{name}: {problem}" for name, page in visits.items() for problem in check(page)]


def test_no_console_errors(visits):
    errors = failures(visits, lambda page: [m for m in page["console"] if m.startswith("SEVERE")])
    assert not errors, "console errors:\n" + "\n".join(errors)


def test_every_local_load_succeeds(visits):
    failed = failures(visits, lambda page: page["failed"])
    assert not failed, "failed loads:\n" + "\n".join(failed)


def test_no_request_leaves_the_machine(visits):
    remote = failures(visits, lambda page: page["remote"])
    assert not remote, "requests to other machines:\n" + "\n".join(remote)


def test_every_formula_is_typeset(visits):
    def problems(page):
        if page["settled"] != "ok":
            yield f"MathJax/images did not settle: {page['settled']}"
        if page["math_spans"] and not page["mathjax"]:
            yield f"{page['math_spans']} formulas but no MathJax"
        if page["mathjax"] and not page["mathjax"].startswith("3."):
            yield f"MathJax {page['mathjax']}, expected 3.x"
        if page["containers"] != page["math_spans"]:
            yield f"{page['math_spans']} formulas in the HTML, {page['containers']} typeset"
        yield from (f"MathJax error: {e}" for e in page["errors"])
        yield from (f"raw TeX left: {t!r}" for t in page["rawTex"])
    bad = failures(visits, lambda page: list(problems(page)))
    assert not bad, "formulas not typeset:\n" + "\n".join(bad)
    assert sum(page["containers"] for page in visits.values()) > 100, "the book has almost no math: broken check?"


def test_every_figure_loads(visits):
    broken = failures(visits, lambda page: page["brokenImages"])
    assert not broken, "figures that did not load:\n" + "\n".join(broken)
    assert sum(page["images"] for page in visits.values()) >= 10, "the book has almost no figures: broken check?"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_nothing_is_wider_than_its_column(passes, width):
    bad = failures(passes["served"], lambda page: page["layout"][width][:5])
    assert not bad, f"at {width} width, content wider than its column or clipped:\n" + "\n".join(bad)


def text_px_per_scale(root) -> float:
    """Pixels of matplotlib's default text in a figure shown at its drawn size, from book/matplotlibrc
    (font.size in points at figure.dpi pixels per inch; matplotlib's defaults 10 pt and 100 dpi)."""
    rc = dict(line.split("#")[0].split(":", 1) for line in (root / "book" / "matplotlibrc").read_text().splitlines()
              if ":" in line.split("#")[0])
    return float(rc.get("font.size", 10)) * float(rc.get("figure.dpi", 100)) / 72


def test_figure_text_is_readable_at_desktop_width(passes, root):
    """A figure drawn wider than the text column (about 690 px at 1280 px) is scaled down, and its
    labels with it: a 10 pt label in an 11 in figure shows at 8.7 px. The book draws text at 13 pt
    (book/matplotlibrc); figures may then be up to 12 in wide."""
    px = text_px_per_scale(root)

    def small(page):
        return [f"{src}: shown at {shown} of {natural} px: its text at {px * shown / natural:.1f} px"
                for src, shown, natural in page["layout"]["figures"] if natural and px * shown / natural < MIN_TEXT_PX]
    bad = failures(passes["served"], small)
    assert not bad, f"figures whose text shows below {MIN_TEXT_PX} px at 1280 px:\n" + "\n".join(bad)


@pytest.mark.parametrize("term", sorted(DEFINED_IN))
def test_search_ranks_the_defining_page_first(passes, server, drivers, term):
    driver = drivers[0]
    console(driver)
    driver.get(f"{server}/search.html?q={quote(term)}")
    results = driver.execute_async_script("""
        const done = arguments[arguments.length - 1], start = Date.now();
        (function poll() {
          const items = [...document.querySelectorAll('#search-results li')];
          const finished = /finished/i.test(document.getElementById('search-progress')?.textContent || '')
              || document.querySelector('#search-results h2');
          if ((finished && items.every(li => li.querySelector('.context'))) || Date.now() - start > 8000)
            return done(items.map(li => [li.querySelector('a').href,
                                         li.querySelector('.context')?.textContent || '']));
          setTimeout(poll, 50);
        })();""")
    assert results, f"search for {term!r} found nothing"
    first = urlsplit(results[0][0]).path.lstrip("/").removesuffix(".html")
    assert first == DEFINED_IN[term], (
        f"search for {term!r} ranks {first} first, expected {DEFINED_IN[term]}: {[r[0] for r in results[:5]]}")
    blank = [href for href, snippet in results if not snippet.strip()]
    assert not blank, f"search results without a snippet: {blank[:3]}"
    raw = [(href, snippet) for href, snippet in results if any(tex in snippet for tex in RAW_TEX)]
    assert not raw, f"search snippets show raw LaTeX: {raw[:3]}"
    errors = [e["message"] for e in console(driver) if e["level"] == "SEVERE"]
    assert not errors, f"console errors while searching {term!r}: {errors}"
