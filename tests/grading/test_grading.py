"""nbgrader round trip in a scratch copy of the course, through the instructor command's code."""
import csv
import json

import nbformat
import pytest

import roundtrip
from course_lib import grading
from course_lib.grading import judged, tamper
from course_lib.grading.workdir import checks_path
from course_lib.grading.spec import load_checks

pytestmark = pytest.mark.slow
A = "rnn"
FIRST = ["test_rnn_step_forward", "test_rnn_step_forward_hidden"]  # the cells of the first function
# A wrong answer: zeros of the right shape (and a cache the reference backward can unpack).
ZEROS = """def rnn_step_forward(x, h_prev, Wx, Wh, b):
    h_next = np.zeros((x.shape[0], Wx.shape[1]))
    return h_next, (x, h_prev, Wx, Wh, h_next)
"""
# The same wrong answer, and a patch that the static scan misses: under the old in-kernel hidden
# tests, a zero torch subtraction made every max_abs_error 0 and a zero np.abs every rel_error 0,
# so the wrong answer earned the points of every cell but those of sample and of the training.
PATCHED = ZEROS + """
import torch
T = getattr(torch, 'Ten' + 'sor')
T.__sub__ = lambda a, b: a * 0


def _quiet(m=np):
    m.abs = lambda a: a * 0


_quiet()
"""


def tamper_with_tests(nb):
    """Delete the first test cell and make every other one print success."""
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.remove(tests[0])
    for cell in tests[1:]:
        cell.source = "print('all tests passed')"
    return nb


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submitted")
    grading.make_demo_submissions(root, subs, A)
    half = nbformat.read(subs / "half" / A / "rnn.ipynb", as_version=4)
    (subs / "tampered" / A).mkdir(parents=True)
    nbformat.write(tamper_with_tests(half), subs / "tampered" / A / "rnn.ipynb")
    (subs / "broken" / A).mkdir(parents=True)
    (subs / "broken" / A / "rnn.ipynb").write_text('{"cells": [ this is not json')
    for student, answer in [("zeros", ZEROS), ("patched", PATCHED)]:
        nb = nbformat.read(subs / "solved" / A / "rnn.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step_forward":
                cell.source = answer
        (subs / student / A).mkdir(parents=True)
        nbformat.write(nb, subs / student / A / "rnn.ipynb")
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, A, course_root=root, workers=2)}
    return results, work, subs, before


@pytest.fixture(scope="module")
def cell_scores(root, graded):
    """student -> grade_id -> score of every autograded cell, from the gradebook."""
    from nbgrader.api import Gradebook

    results, work = graded[0], graded[1]
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        return {s: {gid: gb.find_grade(gid, A, A, s).score for gid in roundtrip.grade_cells(root, A)}
                for s in results if results[s].status == "graded"}


def test_reference_answers_get_full_marks(graded):
    results = graded[0]
    assert results["solved"].status == "graded"
    assert results["solved"].max_score > 0
    assert results["solved"].score == results["solved"].max_score


def test_untouched_release_gets_zero(graded):
    assert graded[0]["blank"].score == 0


def test_one_function_gets_its_points_only(root, graded, cell_scores):
    half, points = graded[0]["half"], roundtrip.grade_cells(root, A)
    assert 0 < half.score == sum(points[gid] for gid in FIRST) < half.max_score
    assert {gid for gid, score in cell_scores["half"].items() if score} == set(FIRST)


def test_checks_cover_every_test_cell_and_no_test_code_is_left_in_the_notebook(root):
    nb = nbformat.read(root / "solutions" / A / "rnn.ipynb", as_version=4)
    checks = load_checks(checks_path(root, A))
    cells = judged.autograded_cells(nb)
    assert cells and all(checks.get(gid) for gid in cells), [gid for gid in cells if not checks.get(gid)]
    assert set(checks) == set(cells), set(checks) ^ set(cells)
    hidden = [c for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert {c.metadata["nbgrader"]["grade_id"] for c in hidden} == {gid for gid in cells if gid.endswith("_hidden")}
    for cell in hidden:
        inside = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert all(line.startswith("#") for line in inside.strip().splitlines()), cell.source


def test_patching_torch_or_numpy_does_not_raise_a_wrong_answer(root, graded, cell_scores):
    results, subs = graded[0], graded[2]
    release = nbformat.read(root / "assignments" / A / "rnn.ipynb", as_version=4)
    findings = {s: [str(f) for f in tamper.scan_notebook(nbformat.read(subs / s / A / "rnn.ipynb", as_version=4),
                                                         release)] for s in ["zeros", "patched"]}
    assert findings["patched"] == findings["zeros"], \
        "the static scan sees the patch: pick one it misses, so that the judged checks are what is tested"
    assert results["patched"].status == results["zeros"].status == "graded", results["patched"].notes
    zeros, patched = cell_scores["zeros"], cell_scores["patched"]
    assert all(zeros[gid] == 0 for gid in FIRST) and 0 < results["zeros"].score < results["solved"].score
    assert patched == zeros, {gid: (zeros[gid], patched[gid]) for gid in zeros if zeros[gid] != patched[gid]}
    assert results["patched"].score <= results["zeros"].score


def test_edited_and_deleted_tests_are_restored_before_grading(graded):
    results = graded[0]
    # 'half' answers only the first function: the deleted first test must be restored and pass,
    # the edited tests of the unanswered functions must be restored and fail.
    assert results["tampered"].score == results["half"].score > 0


def test_broken_notebook_is_reported_and_skipped(graded):
    broken = graded[0]["broken"]
    assert broken.score is None and broken.status == "skipped"
    assert any("rnn.ipynb" in n and "not valid JSON" in n for n in broken.notes)


def test_csv_feedback_and_submissions_untouched(graded):
    results, work, subs, before = graded
    rows = {r["student_id"]: r for r in csv.DictReader(open(work / "grades.csv"))}
    for name in ["solved", "blank", "half", "tampered", "zeros", "patched"]:
        assert float(rows[name]["score"]) == results[name].score
        assert (work / "feedback" / name / A / "rnn.html").is_file()
    assert rows["broken"]["status"] == "skipped" and rows["broken"]["score"] == ""
    assert {p: p.read_bytes() for p in subs.rglob("*.ipynb")} == before


def test_read_notebook_messages(tmp_path):
    cases = {"empty.ipynb": "", "list.ipynb": "[]", "v3.ipynb": json.dumps({"nbformat": 3, "worksheets": []})}
    expected = {"empty.ipynb": "is empty", "list.ipynb": "version-4", "v3.ipynb": "nbformat = 3"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=expected[name]):
            grading.read_notebook(tmp_path / name)
