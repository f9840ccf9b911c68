"""The whole book prints to one PDF offline (course_lib.book_pdf, `make pdf`).

Expected titles come from the page sources and _toc.yml (test_book_numbers.expected_numbers),
not from the printer: one bookmark per page, in table-of-contents order, each at a page whose
text starts with that title, formulas typeset (no TeX source left in the text) and figures kept."""
import re
import unicodedata

import pytest

from course_lib import book_pdf
from test_book_numbers import expected_numbers

pytestmark = pytest.mark.slow
# Printed in the test: the front page, the most formulas, figures and the explorer, a captioning page.
# `make pdf` prints all of them (a few minutes on 2 cores).
SAMPLE = ["book/intro", "book/notation", "book/gradient_flow_clipping", "book/captioning_decoding"]


def source_title(page) -> str:
    return next(line[2:].strip() for line in page.read_text(encoding="utf-8").splitlines()
                if line.startswith("# "))


def font_types(sheet) -> set[str]:
    """The PDF font subtypes of a sheet: Chromium embeds MathJax's web fonts as /Type3, the
    system's text fonts (DejaVu) as /Type0."""
    resources = sheet.get("/Resources") or {}
    return {str(font.get_object().get("/Subtype")) for font in (resources.get("/Font") or {}).values()}


@pytest.fixture(scope="module")
def built(root, request):
    returncode, output = request.getfixturevalue("book_build")
    assert returncode == 0, f"strict book build failed:\n{output}"
    return root / "_build" / "html"


def test_the_book_prints_to_one_pdf_with_a_bookmark_per_page(root, built, tmp_path):
    from pypdf import PdfReader
    out = tmp_path / "book.pdf"
    book_pdf.print_book(built, out, root, only=SAMPLE)
    reader = PdfReader(out)
    numbers = expected_numbers(root)
    pages = [root / f"{name}.md" for name in SAMPLE]
    expected = [(f"{numbers[name]}. " if name in numbers else "") + source_title(root / f"{name}.md")
                for name in SAMPLE]
    outline = [(item.title.replace("\u2019", "'"), reader.get_destination_page_number(item))  # smart quotes
               for item in reader.outline]
    assert [title for title, _ in outline] == expected
    starts = [start for _, start in outline] + [len(reader.pages)]
    assert all(a < b for a, b in zip(starts, starts[1:])), "a page printed to no sheet"
    problems = []
    for (title, start), end, page in zip(outline, starts[1:], pages):
        sheets = reader.pages[start:end]
        text = unicodedata.normalize("NFKC", "\n".join(sheet.extract_text() for sheet in sheets))
        words = re.sub(r"^[\d.]+ ", "", title).split()[:3]
        if not all(w in text for w in words):
            problems.append(f"{page.name}: its sheets do not show the title {title!r}")
        html = (built / page.relative_to(root).with_suffix(".html")).read_text(encoding="utf-8")
        if 'class="math' in html and not any("/Type3" in font_types(sheet) for sheet in sheets):
            problems.append(f"{page.name}: has formulas, but its sheets use no MathJax font (untypeset)")
        if "\\(" in text or "$$" in text:
            problems.append(f"{page.name}: TeX delimiters left in the printed text (untypeset)")
        if re.search(r'<img [^>]*src="[^"]*_images/', html):
            if not any("/XObject" in (sheet.get("/Resources") or {}) for sheet in sheets):
                problems.append(f"{page.name}: the page has figures, its sheets have no image")
    assert not problems, "\n".join(problems)


def test_a_missing_build_says_what_to_run(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="make book"):
        book_pdf.print_book(tmp_path / "no-html", tmp_path / "book.pdf", root)
    with pytest.raises(ValueError, match="not pages of _toc.yml"):
        book_pdf.print_book(tmp_path / "no-html", tmp_path / "book.pdf", root, only=["book/nope"])
