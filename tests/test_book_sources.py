"""Static checks of the book's sources (nothing executes): one source for code, no answers, short pages.

- one source: a page defines no function or class that course_lib defines (same name as a public
  course_lib name, or the same body), and no two pages define the same one;
- no page reaches into solutions/ (imports, sys.path, file paths, literalinclude);
- every page is at most MAX_LINES lines;
- the code names the notation page retired appear nowhere in the course's code;
- every page is in _toc.yml, and every _toc.yml entry has a page.

The detectors are plain functions of text; the first tests feed them synthetic pages, so each can
be seen to fail.
"""
import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
MAX_LINES = 450
RETIRED = {"prev_h": "h_prev", "next_h": "h_next", "prev_c": "c_prev", "next_c": "c_next", "h_last": "h_T",
           "dprev_h": "dh_prev", "dnext_h": "dh_next"}
RETIRED_RE = re.compile(r"\b(" + "|".join(RETIRED) + r")\b")
MIN_BODY_NODES = 12  # bodies smaller than this (return x + 1) are too common to mean a copy
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\{[\w-]+\})?\s*(.*)$")
CODE_LANGS = {"", "python", "py", "python3", "ipython", "ipython3"}
LITERAL_DIRECTIVES = {"{code-cell}", "{code-block}", "{code}", "{literalinclude}", "{math}", "{raw}", "{eval-rst}"}


@dataclass
class Cell:
    page: str
    line: int  # line of the page where the code starts (1-based)
    source: str


@dataclass
class Definition:
    where: str  # "book/rnn.md:120" or "course_lib/rnn.py:31"
    name: str
    kind: str   # "function" or "class"
    body: str   # normalised dump of the body ("" when too small to compare)


# ---------------------------------------------------------------- parsing

def code_blocks(text: str, page: str = "page.md", cells_only: bool = True) -> list[Cell]:
    """The ```{code-cell}``` blocks of a MyST page (their option lines dropped); with
    ``cells_only=False`` also the static Python code blocks (```python, ```{code-block} python)."""
    lines, blocks, i = text.split("\n"), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, directive, arg = m.group(1), m.group(2) or "", m.group(3).strip()
        if directive and directive not in LITERAL_DIRECTIVES:  # {admonition}, {note}: Markdown inside
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not re.fullmatch(re.escape(fence[0]) + "{%d,}\\s*" % len(fence), lines[end]):
            end += 1
        body = lines[i + 1:end]
        start = i + 2
        if directive in ("{code-cell}", "{code-block}", "{code}"):
            if body and body[0].strip() == "---":  # YAML options block
                close = next((k for k in range(1, len(body)) if body[k].strip() == "---"), 0)
                body, start = body[close + 1:], start + close + 1
            options = 0
            while options < len(body) and re.match(r"^:[\w-]+:", body[options]):  # :tags: [hide-input]
                options += 1
            if options and options < len(body) and not body[options].strip():
                options += 1  # the blank line after the options
            body, start = body[options:], start + options
        is_cell = directive == "{code-cell}"
        is_static = (directive in ("{code-block}", "{code}") and arg.lower() in CODE_LANGS) or \
                    (not directive and arg.lower() in CODE_LANGS - {""})
        if is_cell or (is_static and not cells_only):
            blocks.append(Cell(page, start, "\n".join(body)))
        i = end + 1
    return blocks


def directives(text: str, name: str) -> list[tuple[int, str]]:
    """(line, argument) of every ```{name} argument``` directive of a page."""
    return [(n, m.group(3).strip()) for n, line in enumerate(text.split("\n"), 1)
            if (m := FENCE.match(line)) and m.group(2) == "{" + name + "}"]


def parse_cell(source: str) -> ast.Module | None:
    """The cell's AST, IPython magics (%, %%, !) blanked; None if it is not Python."""
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def normalised_body(node) -> str:
    """The body of a def or class without docstring, annotations, names of the def or positions."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    module = ast.Module(body=body, type_ignores=[])
    for sub in ast.walk(module):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sub.returns = None
        elif isinstance(sub, ast.arg):
            sub.annotation = None
        elif isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Constant) and isinstance(sub.value.value, str):
            sub.value.value = ""  # docstrings of nested defs
    if sum(1 for _ in ast.walk(module)) < MIN_BODY_NODES:
        return ""
    return ast.dump(module, include_attributes=False)


def definitions(tree: ast.Module, where: str, line0: int = 1, nested: bool = False) -> list[Definition]:
    """Functions and classes of a module: the top-level ones, or every one (methods too) if nested."""
    nodes = ast.walk(tree) if nested else tree.body
    out = []
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            out.append(Definition(f"{where}:{line0 + node.lineno - 1}", node.name, kind, normalised_body(node)))
    return out


def page_definitions(page: str, text: str) -> list[Definition]:
    """Top-level functions and classes of every code cell of a page."""
    out = []
    for cell in code_blocks(text, page):
        tree = parse_cell(cell.source)
        if tree is not None:
            out += definitions(tree, page, cell.line)
    return out


# ---------------------------------------------------------------- detectors

def one_source_problems(pages: dict[str, str], library: dict[str, str]) -> list[str]:
    """Pages that copy course_lib (by public name or body) or each other (by name or body).

    pages: {"book/x.md": text}; library: {"course_lib/x.py": source}."""
    lib_defs, lib_names = [], {}
    for path, source in library.items():
        tree = ast.parse(source)
        lib_defs += definitions(tree, path, nested=True)
        module = path.removesuffix(".py").replace("/", ".")
        if not module.startswith("course_lib.grading"):  # instructor tools: generic names (run, grade)
            for d in definitions(tree, path):
                if not d.name.startswith("_"):
                    lib_names.setdefault(d.name, d)
    lib_bodies = {d.body: d for d in lib_defs if d.body}
    problems, seen_names, seen_bodies = [], {}, {}
    for page, text in sorted(pages.items()):
        for d in page_definitions(page, text):
            if d.name in lib_names:
                lib = lib_names[d.name]
                problems.append(f"{d.where}: defines {d.kind} `{d.name}`, a name course_lib defines "
                                f"({lib.where}). Use the library's (import it, show it with "
                                f"```{{literalinclude}} ../{lib.where.split(':')[0]}``` and :pyobject: {d.name}), "
                                f"or rename the page's own if it is a different thing.")
            elif d.body in lib_bodies:
                lib = lib_bodies[d.body]
                problems.append(f"{d.where}: {d.kind} `{d.name}` has the same body as `{lib.name}` in "
                                f"{lib.where}. Import it from course_lib and show it from there instead of copying.")
            other = seen_names.get(d.name) or (seen_bodies.get(d.body) if d.body else None)
            if other is not None and other.where.split(":")[0] != page:
                problems.append(f"{d.where}: {d.kind} `{d.name}` is also defined in {other.where} "
                                f"(as `{other.name}`). Code used by two pages lives in course_lib: move it "
                                f"there and import it on both pages.")
            seen_names.setdefault(d.name, d)
            if d.body:
                seen_bodies.setdefault(d.body, d)
    return problems


def solution_module_names(root: Path) -> set[str]:
    """Importable names that only solutions/ provides (its folders and .py files)."""
    sol = root / "solutions"
    return {"solutions"} | {p.stem for p in sol.rglob("*.py")} | {p.name for p in sol.iterdir() if p.is_dir()}


def solutions_problems(page: str, text: str, forbidden_modules: set[str]) -> list[str]:
    """Code cells that import from solutions/, put it on sys.path or name it; includes from it."""
    problems = []
    for cell in code_blocks(text, page):
        for offset, line in enumerate(cell.source.split("\n")):
            if re.search(r"\bsolutions\b", line) and not line.lstrip().startswith("#"):
                problems.append(f"{page}:{cell.line + offset}: the code names solutions/ ({line.strip()!r}). "
                                f"Pages never use the instructor's sources: import from course_lib.")
        tree = parse_cell(cell.source)
        for node in ast.walk(tree) if tree else []:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.split(".")[0] in forbidden_modules:
                    problems.append(f"{page}:{cell.line + node.lineno - 1}: imports {name}, which lives in "
                                    f"solutions/. Pages import course_lib only; move what the page needs there.")
    for line, arg in directives(text, "literalinclude") + directives(text, "include"):
        if re.search(r"\bsolutions\b", arg):
            problems.append(f"{page}:{line}: includes {arg}, a file of solutions/. Show course_lib's code instead.")
    return problems


def length_problem(page: str, text: str, limit: int = MAX_LINES) -> str | None:
    n = len(text.splitlines())
    if n > limit:
        return (f"{page}:{limit + 1}: the page has {n} lines, more than {limit}. Split it into a chapter page "
                f"and section pages (`sections:` under its `file:` in _toc.yml), one idea each.")
    return None


def retired_name_problems(where: str, code: str, line0: int = 1) -> list[str]:
    out = []
    for offset, line in enumerate(code.split("\n")):
        for m in RETIRED_RE.finditer(line):
            out.append(f"{where}:{line0 + offset}: `{m.group(1)}` is retired by book/notation.md: "
                       f"write `{RETIRED[m.group(1)]}`.")
    return out


def toc_files(toc: dict) -> list[str]:
    """Every file of a jupyter-book _toc.yml (root, parts, chapters, sections, at any depth)."""
    files = [toc["root"]] if "root" in toc else []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("sections", "chapters", "parts"):
                walk(entry.get(key))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return [str(Path(f).with_suffix("")) for f in files]


def toc_problems(toc: dict, pages: list[str]) -> list[str]:
    """pages: "book/x" names of the pages on disk."""
    listed = toc_files(toc)
    problems = [f"{p}.md:1: the page is not in _toc.yml: add it (a chapter, or a section under its chapter)."
                for p in pages if p not in listed]
    problems += [f"_toc.yml: lists {f}, which has no source {f}.md: fix the entry or add the page."
                 for f in listed if f.startswith("book/") and f not in pages]
    return problems


# ---------------------------------------------------------------- the tree

def read_pages() -> dict[str, str]:
    return {f"book/{p.name}": p.read_text(encoding="utf-8") for p in sorted(BOOK.glob("*.md"))}


def read_library() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted((ROOT / "course_lib").rglob("*.py"))}


def notebook_code(path: Path) -> list[tuple[int, str]]:
    """(cell number, source) of a notebook's code cells (read as JSON: cells hold no line numbers)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for i, c in enumerate(nb["cells"], 1) if c["cell_type"] == "code"]


def report(problems: list[str], what: str) -> str:
    return f"{len(problems)} {what}:\n" + "\n".join(problems)


# ---------------------------------------------------------------- the detectors fail when they should

SYNTHETIC_PAGE = """---
jupytext:
  text_representation:
    format_name: myst
---
# A page

```{code-cell} ipython3
:tags: [hide-input]

import numpy as np
%matplotlib inline
```

Prose that says prev_h and solutions is fine.

```{code-cell} ipython3
---
tags: [hide-cell]
---
def rnn_step(x, h_prev, Wx, Wh, b):
    \"\"\"One step.\"\"\"
    a = x @ Wx + h_prev @ Wh + b
    return np.tanh(a)
```

````{admonition} An aside
:class: dropdown

```python
next_h = static_code()
```
````
"""


def test_code_cells_are_found_with_their_lines():
    cells = code_blocks(SYNTHETIC_PAGE, "book/x.md")
    assert [c.line for c in cells] == [11, 21]
    assert SYNTHETIC_PAGE.split("\n")[20] == "def rnn_step(x, h_prev, Wx, Wh, b):"
    assert cells[0].source.startswith("import numpy") and "tags" not in cells[1].source
    assert [d.name for d in page_definitions("book/x.md", SYNTHETIC_PAGE)] == ["rnn_step"]
    assert page_definitions("book/x.md", SYNTHETIC_PAGE)[0].where == "book/x.md:21"
    static = code_blocks(SYNTHETIC_PAGE, "book/x.md", cells_only=False)
    assert len(static) == 3 and static[2].source == "next_h = static_code()"


def test_one_source_detector_catches_copies_and_duplicates():
    step = SYNTHETIC_PAGE.split("```{code-cell} ipython3\n---\ntags: [hide-cell]\n---\n")[1].split("```")[0]
    renamed_copy = "```{code-cell} ipython3\n" + step.replace("rnn_step", "my_step").replace("One step.", "") + "```\n"
    library = {"course_lib/rnn.py": "import numpy as np\n\n" + step.replace("rnn_step", "forward_step")}
    clean = {"book/a.md": "```{code-cell} ipython3\nfrom course_lib.rnn import forward_step\n```\n"}
    assert one_source_problems(clean, library) == []
    copied = one_source_problems({"book/a.md": renamed_copy}, library)
    assert len(copied) == 1 and "same body as `forward_step`" in copied[0] and copied[0].startswith("book/a.md:2")
    same_name = one_source_problems({"book/a.md": "```{code-cell}\ndef forward_step():\n    pass\n```\n"}, library)
    assert len(same_name) == 1 and "a name course_lib defines" in same_name[0]
    twice = {"book/a.md": "```{code-cell}\ndef helper(x):\n    return x\n```\n",
             "book/b.md": "```{code-cell}\ndef helper(y):\n    return 2 * y\n```\n"}
    assert any("also defined in book/a.md:2" in p for p in one_source_problems(twice, {}))
    assert len(one_source_problems({"book/a.md": renamed_copy, "book/b.md": SYNTHETIC_PAGE}, {})) == 1
    private = {"course_lib/x.py": "def _helper():\n    pass\n", "course_lib/grading/y.py": "def run():\n    pass\n"}
    assert one_source_problems({"book/a.md": "```{code-cell}\ndef _helper():\n    pass\ndef run():\n    pass\n```"},
                               private) == []


def test_solutions_detector_catches_imports_paths_and_includes():
    mods = {"solutions", "min_char_rnn", "rnn_checks"}
    ok = "```{code-cell}\nfrom course_lib.rnn import RNN\n# not solutions/: this comment is fine\n```\nsolutions in prose\n"
    assert solutions_problems("book/a.md", ok, mods) == []
    bad = ("```{code-cell}\nimport sys\nsys.path.insert(0, '../solutions/minchar')\nimport min_char_rnn\n```\n"
           "```{literalinclude} ../solutions/rnn_checks.py\n```\n")
    problems = solutions_problems("book/a.md", bad, mods)
    assert [p.split(":")[1] for p in problems] == ["3", "4", "6"], problems


def test_length_and_retired_name_and_toc_detectors():
    assert length_problem("book/a.md", "x\n" * 450) is None
    assert "451 lines" in length_problem("book/a.md", "x\n" * 451)
    assert retired_name_problems("f.py", "h_prev = 1\ndh_prev = 2\nh_previous = prev_h_x") == []
    found = retired_name_problems("f.py", "a = 1\nx = prev_h + dnext_h\n", 10)
    assert found[0].startswith("f.py:11: `prev_h`") and "`dh_next`" in found[1]
    toc = {"root": "book/intro", "chapters": [{"file": "book/a", "sections": [{"file": "book/a_part.md"}]}]}
    assert toc_files(toc) == ["book/intro", "book/a", "book/a_part"]
    assert toc_problems(toc, ["book/intro", "book/a", "book/a_part"]) == []
    problems = toc_problems(toc, ["book/intro", "book/a", "book/orphan"])
    assert problems[0].startswith("book/orphan.md:1") and "book/a_part" in problems[1]


# ---------------------------------------------------------------- the rules, on the course

def test_one_source():
    problems = one_source_problems(read_pages(), read_library())
    assert not problems, report(problems, "definitions copied from course_lib or between pages")


def test_no_page_uses_solutions():
    forbidden = solution_module_names(ROOT)
    problems = [p for page, text in read_pages().items() for p in solutions_problems(page, text, forbidden)]
    assert not problems, report(problems, "uses of solutions/ in the book")


@pytest.mark.parametrize("page", sorted(read_pages()))
def test_page_length(page):
    problem = length_problem(page, (ROOT / page).read_text(encoding="utf-8"))
    if problem:
        pytest.fail(problem)


def test_no_retired_code_names():
    problems = []
    for place in ("course_lib", "solutions", "assignments"):
        for path in sorted((ROOT / place).rglob("*")):
            rel = str(path.relative_to(ROOT))
            if path.suffix == ".py":
                problems += retired_name_problems(rel, path.read_text(encoding="utf-8"))
            elif path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts:
                for number, source in notebook_code(path):
                    problems += retired_name_problems(f"{rel} (code cell {number}), line", source)
    for page, text in read_pages().items():
        for block in code_blocks(text, page, cells_only=False):
            problems += retired_name_problems(page, block.source, block.line)
    assert not problems, report(problems, "retired code names")


def test_every_page_is_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    problems = toc_problems(toc, [f"book/{p.stem}" for p in sorted(BOOK.glob("*.md"))])
    assert not problems, report(problems, "table-of-contents problems")


def test_performance_page_is_stamped_with_the_committed_results():
    """The Performance page names the digest of the results it shows; `make bench` writes both.

    The book's execution cache is keyed on a page's code, not on the files it reads: without the
    digest in the page, new results would leave the old outputs in the book.
    """
    import hashlib
    digest = hashlib.sha256((ROOT / "benchmarks" / "results" / "latest.json").read_bytes()).hexdigest()
    stamped = re.findall(r'^RESULTS_SHA256 = "([0-9a-f]*)"$', (BOOK / "performance.md").read_text(), re.M)
    assert stamped == [digest], ("book/performance.md is stamped for other results: run `make bench` "
                                 "(it stamps the page) or set RESULTS_SHA256 to " + digest)
