"""Chapter numbers: the sidebar, the page titles and the text agree, and "Chapter N" is a link.

The numbers expected here come from _toc.yml (the numbered part's Nth chapter is N, its sections
N.1, N.2, ...), not from the build; the build must show them, and every "Chapter N" in the text
must link to a page of chapter N."""
import re
from html import unescape
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
CHAPTER_LINK = re.compile(r'<a class="reference internal" href="([^"#]+)[^"]*"><span class="doc">Chapter (\d+)')


def h2_headings(page: Path) -> int:
    """How many '## ' headings a MyST page has outside its code blocks."""
    count, fence = 0, None
    for line in page.read_text(encoding="utf-8").splitlines():
        marker = re.match(r"^(```+|~~~+|:::+)", line)
        if marker and fence is None:
            fence = marker.group(1)
        elif marker and line.strip() == fence:
            fence = None
        elif fence is None and line.startswith("## "):
            count += 1
    return count


def expected_numbers(root: Path) -> dict[str, str]:
    """docname -> "N" or "N.M" for the pages of the numbered part(s); the others have none.

    Sphinx numbers a chapter page's own '##' sections N.1, N.2, ... and its section pages after
    them, so chapter N's first section page is N.(its '##' count + 1)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    numbers, n = {}, 0
    for part in toc.get("parts", []):
        if not part.get("numbered"):
            continue
        for chapter in part["chapters"]:
            n += 1
            numbers[chapter["file"]] = f"{n}"
            own = h2_headings(root / f"{chapter['file']}.md")
            for m, section in enumerate(chapter.get("sections", []), start=own + 1):
                numbers[section["file"]] = f"{n}.{m}"
    return numbers


def title_number(html: str) -> str | None:
    article = html.split('<article class="bd-article">', 1)[-1]  # not the print-only header's h1
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", article, re.S)
    number = re.search(r'<span class="section-number">([\d.]+)\s*</span>', h1.group(1)) if h1 else None
    return number.group(1).rstrip(".") if number else None


@pytest.fixture(scope="module")
def built(root, request):
    returncode, output = request.getfixturevalue("book_build")
    assert returncode == 0, f"strict book build failed:\n{output}"
    return root / "_build" / "html"


def test_the_chapters_are_numbered_as_the_book_counts_them(root):
    numbers = expected_numbers(root)
    assert numbers["book/rnn"] == "1" and numbers["book/gru"] == "5" and numbers["book/captioning"] == "6"
    assert "book/using" not in numbers and "book/performance" not in numbers


def test_titles_and_sidebar_show_the_numbers(root, built):
    numbers = expected_numbers(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    problems = []
    for page in sorted((root / "book").glob("*.md")):
        docname = f"book/{page.stem}"
        html = (built / f"{docname}.html").read_text(encoding="utf-8")
        if title_number(html) != numbers.get(docname):
            problems.append(f"{docname}: title numbered {title_number(html)}, expected {numbers.get(docname)}")
    intro = (built / f"{toc['root']}.html").read_text(encoding="utf-8")
    for docname, number in numbers.items():
        link = re.search(r'<a class="reference internal" href="[^"]*' + re.escape(docname.split("/")[-1]) +
                         r'\.html">(.*?)</a>', intro, re.S)
        text = unescape(re.sub(r"<[^>]+>", "", link.group(1))).strip() if link else ""
        if not text.startswith(f"{number}. "):
            problems.append(f"{docname}: the sidebar says {text!r}, expected it to start with '{number}. '")
    assert not problems, "\n".join(problems)


def test_chapter_references_in_the_text_link_to_that_chapter(root, built):
    numbers = expected_numbers(root)
    problems, links = [], 0
    for page in sorted((built / "book").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        body = html.split('<article class="bd-article">', 1)[-1]
        for href, n in CHAPTER_LINK.findall(body):
            links += 1
            target = f"book/{Path(href).stem}"
            if numbers.get(target, "").split(".")[0] != n:
                problems.append(f"{page.name}: 'Chapter {n}' links to {target}, which is {numbers.get(target)}")
        text = re.sub(r"<a [^>]*>.*?</a>", "", body, flags=re.S)
        text = re.sub(r"<(pre|code)[^>]*>.*?</\1>", "", text, flags=re.S)
        for n in re.findall(r"Chapter (\d+)", re.sub(r"<[^>]+>", "", text)):
            if n in numbers.values():  # a chapter that exists must be a link (a future one cannot be)
                problems.append(f"{page.name}: 'Chapter {n}' is not a link to the chapter")
    assert links >= 10, f"only {links} 'Chapter N' links found: did the link markup change?"
    assert not problems, "\n".join(problems)
