"""Normalising a submission's nbgrader metadata before nbgrader sees it."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.grading.submissions import normalize


def nbg(grade_id, **kw):
    return {"nbgrader": {"grade_id": grade_id, "locked": False, "grade": False, "solution": False, **kw}}


def release():
    return new_notebook(cells=[
        new_markdown_cell("intro", metadata=nbg("intro", locked=True)),
        new_code_cell("def f(): ...", metadata=nbg("answer", solution=True)),
        new_markdown_cell("about the test"),
        new_code_cell("assert f()", metadata=nbg("test", grade=True, locked=True, points=2)),
    ])


def ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_forged_and_duplicated_metadata_is_replaced():
    sub = release()
    sub.cells[1].metadata["nbgrader"].update(grade=True, points=100)
    sub.cells.append(nbformat.from_dict(dict(sub.cells[3])))              # duplicated test
    sub.cells.append(new_code_cell("x = 1", metadata=nbg("made_up", grade=True, points=5)))
    sub.cells.append(new_code_cell("y = 2", metadata={"nbgrader": {}}))   # no grade_id
    out = normalize(sub, release())
    assert ids(out) == ["intro", "answer", None, "test", None, None, None]
    assert out.cells[1].metadata["nbgrader"] == release().cells[1].metadata["nbgrader"]


def test_deleted_cells_are_put_back_in_place():
    sub = release()
    del sub.cells[3]          # the test
    del sub.cells[0]          # the intro
    sub.cells.insert(1, new_code_cell("print('my own cell')"))
    out = normalize(sub, release())
    assert ids(out) == ["intro", "answer", "test", None, None]   # right after the cell before it
    assert out.cells[2].source == "assert f()"
