"""A tiny nbgrader assignment for grading tests: one function, a visible and a hidden check, 3 points."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

A = "tiny"
NB = "tiny.ipynb"
CORRECT = "def add_one(x):\n    return x + 1"
WRONG = "def add_one(x):\n    return x"


def meta(grade_id, **kw):
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, "task": False, **kw}}


CHECKS = """import numpy as np
from course_lib.grading.spec import Check

CHECKS = {
    "test_visible": [Check("result = add_one(x)", lambda rng: {"x": np.zeros(3)}, lambda x: x + 1,
                           what="add_one(np.zeros(3))", hidden=False)],
    "test_hidden": [Check("result = add_one(x)", lambda rng: {"x": rng.normal(size=(2, 3))}, lambda x: x + 1,
                          seed=7, what="add_one on hidden inputs")],
}
"""


def tiny_source() -> nbformat.NotebookNode:
    hidden = "# hidden tests\n### BEGIN HIDDEN TESTS\n# the grader checks add_one on other inputs\n### END HIDDEN TESTS"
    return new_notebook(cells=[
        new_markdown_cell("# Tiny: write add_one", metadata=meta("intro", locked=True)),
        new_code_cell("import numpy as np", metadata=meta("setup", locked=True)),
        new_code_cell("def add_one(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION",
                      metadata=meta("add_one", solution=True)),
        new_code_cell("assert np.allclose(add_one(np.zeros(3)), np.ones(3))",
                      metadata=meta("test_visible", grade=True, locked=True, points=1)),
        new_code_cell(hidden, metadata=meta("test_hidden", grade=True, locked=True, points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def make_tiny_course(root: Path, course: Path) -> Path:
    """A course directory with solutions/tiny and its nbgrader release in assignments/tiny."""
    shutil.copy(root / "nbgrader_config.py", course)
    (course / "solutions" / A).mkdir(parents=True)
    nbformat.write(tiny_source(), course / "solutions" / A / NB)
    (course / "solutions" / f"{A}_checks.py").write_text(CHECKS)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    subprocess.run([str(nbgrader), "generate_assignment", A], cwd=course, check=True, capture_output=True)
    (course / "gradebook.db").unlink()
    return course
