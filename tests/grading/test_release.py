"""The committed student release is what nbgrader makes from solutions/, and gives nothing away."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import source_notebooks

ROOT = Path(__file__).resolve().parents[2]
# An assignment is a folder of solutions/ that holds notebooks (other folders hold instructor code).
ASSIGNMENTS = sorted({p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")})


def cells_of(path: Path):
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]


GENERATE = """
import sys
from course_lib.grading import make_api
from pathlib import Path
api = make_api(Path(sys.argv[1]))
for assignment in sys.argv[2:]:
    made = api.generate_assignment(assignment, force=True, create=True)
    assert made["success"], made["log"]
"""


@pytest.fixture(scope="module")
def fresh_release(root, tmp_path_factory):
    """nbgrader's release of every assignment, made now from solutions/ (one nbgrader process)."""
    course = tmp_path_factory.mktemp("release")
    shutil.copy(root / "nbgrader_config.py", course)
    for assignment in ASSIGNMENTS:
        shutil.copytree(root / "solutions" / assignment, course / "solutions" / assignment)
    proc = subprocess.run([sys.executable, "-c", GENERATE, str(course), *ASSIGNMENTS], cwd=course,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course / "assignments"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_in_sync_with_solutions(root, fresh_release, assignment):
    for src in source_notebooks(root, assignment):
        fresh = fresh_release / assignment / src.name
        committed = root / "assignments" / assignment / src.name
        assert committed.is_file(), f"{committed} is missing: run `make release`"
        assert cells_of(committed) == cells_of(fresh), f"{committed} is stale: run `make release`"


def test_every_assignment_has_checks_and_none_is_released(root):
    for assignment in ASSIGNMENTS:
        assert (root / "solutions" / f"{assignment}_checks.py").is_file(), f"{assignment} has no checks file"
    released = sorted(p.name for p in (root / "assignments").rglob("*") if p.is_file())
    assert all(name.endswith(".ipynb") for name in released), released


def test_student_facing_files_hold_no_answers(root):
    marker = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|MARK SCHEME")
    places = [root / "assignments", root / "book", root / "course_lib"]
    leaks = [p for place in places for p in place.rglob("*")
             if p.is_file() and p.suffix in {".ipynb", ".md", ".py"} and marker.search(p.read_text())]
    assert not leaks, f"solution or hidden-test markers in student-facing files: {leaks}"


def test_released_answer_cells_are_stubs(root):
    for assignment in ASSIGNMENTS:
        for src in source_notebooks(root, assignment):
            nb = nbformat.read(root / "assignments" / assignment / src.name, as_version=4)
            answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
            assert answers, f"{src.name} has no answer cells"
            for cell in answers:
                stub = "raise NotImplementedError()" if cell.cell_type == "code" else "YOUR ANSWER HERE"
                assert stub in cell.source, cell.source


def test_requirements_are_pinned(root):
    lines = [ln.strip() for ln in (root / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    loose = [ln for ln in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", ln)]
    assert not loose, f"requirements.txt lines that are not pinned with ==: {loose}"
    assert "torch==2.13.0" in lines and "jupyter-book==1.0.4.post1" in lines and "nbgrader==0.9.6" in lines
