"""`make student-pack` (course_lib/student_pack.py): what a student gets gives no answer away,
installs with its own two commands, and opens the assignments with the pack's course_lib.

The pack is built here from the repository with a tiny stand-in for the built book, so the test
never builds the book. A real install downloads the packages (1.5 GB installed) and takes
minutes; here the pack's `make setup` runs for real (its Makefile, pip, an editable install of the pack's course_lib, pip
check) in a new venv that sees the repository's installed packages through a .pth file, with no
package index and, where `unshare` allows, no network at all.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import nbformat
import pytest

from course_lib import student_pack

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb"))
MARKER = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)|MARK SCHEME")
SHORTEST = 40  # characters (whitespace collapsed); shorter answers could occur by chance


def collapse(text: str) -> str:
    return " ".join(text.split())


def between(source: str, what: str) -> list[str]:
    return re.findall(rf"### BEGIN {what}\n(.*?)### END {what}", source, re.S)


def secrets() -> list[tuple[str, str]]:
    """(where, text) of everything in solutions/ a student must not get: the answer inside each
    solution delimiter pair, written answers, hidden test blocks, and the instructor's .py files."""
    found = []
    for path in NOTEBOOKS:
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            meta, where = cell.metadata.get("nbgrader", {}), f"{path.relative_to(ROOT)} cell {i}"
            if meta.get("solution") and cell.cell_type == "markdown":
                found.append((where + " (written answer)", cell.source))
            found += [(where + " (answer)", text) for text in between(cell.source, "SOLUTION")]
            found += [(where + " (hidden tests)", text) for text in between(cell.source, "HIDDEN TESTS")]
    found += [(str(p.relative_to(ROOT)), p.read_text()) for p in SOLUTIONS.rglob("*.py")]
    return [(where, collapse(text)) for where, text in found if len(collapse(text)) >= SHORTEST]


def readable(path: Path) -> str:
    """The text a person would read in ``path``: cell sources and outputs of a notebook, the text
    of an HTML page (tags dropped, entities decoded), else the file decoded as UTF-8."""
    raw = path.read_bytes().decode("utf-8", errors="ignore")
    if path.suffix == ".ipynb":
        nb = json.loads(raw)
        parts = ["".join(c.get("source", "")) for c in nb.get("cells", [])]
        parts += [json.dumps(o) for c in nb.get("cells", []) for o in c.get("outputs", [])]
        return collapse("\n".join(parts))
    if path.suffix in {".html", ".htm"}:
        raw += "\n" + html.unescape(re.sub(r"<[^>]+>", "", raw))
    return collapse(raw)


def leaks(pack: Path) -> list[str]:
    """Every file of ``pack`` that names, holds or marks something from solutions/."""
    found, hidden = [], secrets()
    for path in sorted(p for p in pack.rglob("*") if p.is_file()):
        rel = path.relative_to(pack)
        if path.name.endswith("_checks.py") or "solutions" in rel.parts:
            found.append(f"{rel}: an instructor file")
        text = readable(path)
        if MARKER.search(text):
            found.append(f"{rel}: nbgrader answer or hidden-test delimiters")
        found += [f"{rel}: holds {where}" for where, secret in hidden if secret in text]
    return found


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """The pack built from this repository, with a one-page stand-in for the built book."""
    tmp = tmp_path_factory.mktemp("pack")
    book = tmp / "html"
    book.mkdir()
    (book / "index.html").write_text("<html><body>the book</body></html>")
    return student_pack.build(ROOT, tmp / "student-pack", book)


def test_secrets_are_found_in_solutions():
    found = [where for where, _ in secrets()]
    for path in NOTEBOOKS:
        name = str(path.relative_to(ROOT))
        for kind in ["(answer)", "(hidden tests)"]:
            assert any(w.startswith(name) and w.endswith(kind) for w in found), f"no {kind} in {name}"
    assert any(w.endswith("(written answer)") for w in found)
    assert {str(p.relative_to(ROOT)) for p in SOLUTIONS.rglob("*.py")} <= set(found)


def test_pack_holds_what_a_student_needs(pack):
    assert (pack / "html" / "index.html").read_text() == "<html><body>the book</body></html>"
    for path in (ROOT / "assignments").glob("*/*.ipynb"):
        assert (pack / path.relative_to(ROOT)).read_bytes() == path.read_bytes(), path
    assert sorted(p.name for p in (pack / "book").glob("*.md")) == sorted(p.name for p in (ROOT / "book").glob("*.md"))
    assert (pack / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
    assert (pack / "course_lib" / "gradcheck.py").read_text() == (ROOT / "course_lib" / "gradcheck.py").read_text()
    makefile = (pack / "Makefile").read_text()
    assert re.search(r"^setup:", makefile, re.M) and re.search(r"^lab:", makefile, re.M)
    assert "--ip=127.0.0.1" in makefile and "LAB_ARGS" in makefile
    for name in ["README.md", "pyproject.toml", "nbgrader_config.py"]:
        assert (pack / name).is_file(), name


def test_pack_leaves_out_the_grader(pack):
    assert not (pack / "course_lib" / "grading").exists()
    assert not (pack / "course_lib" / "cli.py").exists()
    assert "[project.scripts]" not in (pack / "pyproject.toml").read_text()  # no `course grade`


def test_pack_holds_nothing_from_solutions(pack):
    assert leaks(pack) == []


def test_leaks_are_found_where_they_would_hide(pack, tmp_path):
    """The scan above can fail: an answer pasted into a notebook, a hidden block shown in a page
    of the book, a checks file and a delimiter are each reported."""
    copy = shutil.copytree(pack, tmp_path / "copy")
    secret = dict(secrets())
    answer = next(text for where, text in secret.items() if where.endswith("(answer)"))
    hidden = next(text for where, text in secret.items() if where.endswith("(hidden tests)"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\n" + answer)])
    nbformat.write(nb, copy / "assignments" / "pasted.ipynb")
    (copy / "html" / "page.html").write_text(f"<pre><span>{html.escape(hidden)}</span></pre>")
    (copy / "rnn_checks.py").write_text("")
    (copy / "book" / "aside.md").write_text("### BEGIN " + "SOLUTION\n")
    found = "\n".join(leaks(copy))
    assert "pasted.ipynb: holds" in found and "page.html: holds" in found
    assert "rnn_checks.py: an instructor file" in found and "aside.md: nbgrader answer" in found


def test_builder_refuses_a_pack_that_gives_answers_away(tmp_path):
    root = tmp_path / "course"
    for name in ["assignments", "book", "course_lib", "student_pack"]:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ["requirements.txt", "pyproject.toml"]:
        shutil.copy(ROOT / name, root / name)
    (root / "book" / "leak.md").write_text("### BEGIN " + "HIDDEN TESTS\n")
    with pytest.raises(SystemExit, match="leak.md"):
        student_pack.build(root, tmp_path / "pack", None)
    assert not (tmp_path / "pack").exists()


def test_main_writes_the_folder_and_a_tarball(tmp_path, capsys):
    out = tmp_path / "student-pack"
    assert student_pack.main(["--out", str(out), "--html", str(tmp_path / "absent")]) == 0
    assert "no built book" in capsys.readouterr().err and not (out / "html").exists()
    with tarfile.open(tmp_path / "student-pack.tar.gz") as tar:
        names = tar.getnames()
    assert "rnn-course/Makefile" in names and "rnn-course/assignments/rnn/rnn.ipynb" in names
    assert not [n for n in names if "/grading/" in n or n.endswith("_checks.py")]


def offline(cmd: list[str]) -> list[str]:
    """``cmd`` in a network namespace of its own (no interface up), when unshare allows it."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-rn", *cmd]
    return cmd


FIRST_CELLS = """
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

report = {}
for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    nb.cells = nb.cells[:first] + [nbformat.v4.new_code_cell(
        "import sys, course_lib\\nprint(sys.prefix)\\nprint(course_lib.__file__)")]
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    report[path.name] = nb.cells[-1].outputs[0]["text"].split()
print(json.dumps(report))
"""


@pytest.mark.slow
def test_pack_sets_up_and_opens_the_assignments(pack):
    """``make setup`` of the pack in a new venv, offline; then two released notebooks' cells up to
    their first answer run in a kernel of that venv, which imports the pack's course_lib."""
    venv = pack / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "repository_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    before = subprocess.run([python, "-c", "import course_lib"], capture_output=True, text=True, cwd=pack.parent)
    assert before.returncode != 0, "course_lib importable before the pack's set-up: the test would prove nothing"

    # The pins were resolved when requirements.txt was made (pip takes ~15 s CPU to re-resolve 170
    # satisfied pins): --no-deps here, and the set-up's `pip check` still verifies them.
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1")
    setup = subprocess.run(offline(["make", "--no-print-directory", "setup", "PIP_ARGS=--no-deps"]), cwd=pack, env=env,
                           capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert (venv / ".installed").is_file()

    # rnn's set-up cell imports what gradient_flow's and lstm_gru's do; captioning's imports the most.
    notebooks = [str(pack / "assignments" / name / f"{name}.ipynb") for name in ["rnn", "captioning"]]
    run = subprocess.run([python, "-c", FIRST_CELLS, *notebooks], capture_output=True, text=True,
                         timeout=180, cwd=pack, env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name, (prefix, module) in json.loads(run.stdout.splitlines()[-1]).items():
        assert Path(prefix) == venv, f"{name}: the kernel ran in {prefix}, not in the pack's venv"
        assert Path(module).is_relative_to(pack / "course_lib"), f"{name}: course_lib from {module}"
