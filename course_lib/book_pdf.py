"""The whole book as one PDF, printed offline by headless Chromium from the built HTML.

Each page of ``_build/html`` is opened from ``file://`` in table-of-contents order, its formulas
are typeset by the vendored MathJax, and Chromium prints it (DevTools ``Page.printToPDF``, A4, the
theme's print style: no sidebars). pypdf joins the pages into ``_build/pdf/book.pdf`` with one
bookmark per page, titled as in the sidebar ("4.1. The LSTM's gradients").

Needs the built book (``make book``) and Debian's chromium and chromium-driver (``make chromium``).

    python -m course_lib.book_pdf [--html _build/html] [--out _build/pdf/book.pdf]
"""
import argparse
import base64
import io
import sys
from pathlib import Path

from course_lib.book_build import toc_pages

A4 = {"paperWidth": 8.27, "paperHeight": 11.69, "marginTop": 0.6, "marginBottom": 0.6,
      "marginLeft": 0.6, "marginRight": 0.6, "printBackground": True, "preferCSSPageSize": False}
TYPESET = """const done = arguments[arguments.length - 1];
const ready = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise.then(() => done(document.title)) : done(document.title);
if (document.readyState === "complete") ready(); else window.addEventListener("load", ready);"""
TITLE = """const h1 = document.querySelector("article.bd-article h1") || document.querySelector("h1");
return h1 ? h1.innerText.replace(/[#¶]\\s*$/, "").trim() : document.title;"""


def print_book(html: Path, out: Path, root: Path, only: list[str] | None = None) -> list[str]:
    """Print the pages of the table of contents (or those of ``only``, docnames such as
    'book/rnn', in table-of-contents order); returns the bookmark titles, in order."""
    from pypdf import PdfReader, PdfWriter

    from course_lib.browser import make_driver
    docnames = [page.relative_to(root).with_suffix("").as_posix() for page in toc_pages(root)]
    unknown = sorted(set(only or ()) - set(docnames))
    if unknown:
        raise ValueError(f"not pages of _toc.yml: {unknown}; expected docnames such as {docnames[1]!r}")
    pages = [html / f"{name}.html" for name in docnames if only is None or name in only]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the built book lacks {len(missing)} page(s), e.g. {missing[0]}: "
                                f"run `make book` first")
    writer, titles = PdfWriter(), []
    driver = make_driver(1000, 1400)
    try:
        driver.set_script_timeout(120)
        for page in pages:
            driver.get(page.resolve().as_uri())
            driver.execute_async_script(TYPESET)
            title = driver.execute_script(TITLE)
            printed = driver.execute_cdp_cmd("Page.printToPDF", A4)
            reader = PdfReader(io.BytesIO(base64.b64decode(printed["data"])))
            first = len(writer.pages)
            for sheet in reader.pages:
                writer.add_page(sheet)
            writer.add_outline_item(title=title, page_number=first)
            titles.append(title)
    finally:
        driver.quit()
    writer.add_metadata({"/Title": titles[0] if titles else "Book"})
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        writer.write(f)
    return titles


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course checkout (holds _toc.yml)")
    parser.add_argument("--html", type=Path, default=None, help="the built book (default: ROOT/_build/html)")
    parser.add_argument("--out", type=Path, default=None, help="the PDF (default: ROOT/_build/pdf/book.pdf)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    html = args.html or root / "_build" / "html"
    out = args.out or root / "_build" / "pdf" / "book.pdf"
    try:
        titles = print_book(html, out, root)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(titles)} pages of the book, {out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
