"""nbgrader round trip in a scratch copy of the course, through the instructor command's code."""
import csv
import json

import nbformat
import pytest

from course_lib import grading

pytestmark = pytest.mark.slow
A = "rnn"


def edit_tests(nb, new_source=None):
    """Replace (or, with None, delete) every test cell of a notebook."""
    is_test = lambda c: c.metadata.get("nbgrader", {}).get("grade")
    if new_source is None:
        nb.cells = [c for c in nb.cells if not is_test(c)]
    for cell in nb.cells:
        if is_test(cell):
            cell.source = new_source
    return nb


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submitted")
    grading.make_demo_submissions(root, subs, A)
    half = subs / "half" / A / "rnn.ipynb"
    blank = subs / "blank" / A / "rnn.ipynb"
    for student, base, change in [("edited", blank, "print('all tests passed')"), ("deleted", half, None)]:
        (subs / student / A).mkdir(parents=True)
        nbformat.write(edit_tests(nbformat.read(base, as_version=4), change), subs / student / A / "rnn.ipynb")
    (subs / "broken" / A).mkdir(parents=True)
    (subs / "broken" / A / "rnn.ipynb").write_text('{"cells": [ this is not json')
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, A, course_root=root)}
    return results, work, subs, before


def test_reference_answers_get_full_marks(graded):
    results = graded[0]
    assert results["solved"].status == "graded"
    assert results["solved"].max_score > 0
    assert results["solved"].score == results["solved"].max_score


def test_untouched_release_gets_zero(graded):
    assert graded[0]["blank"].score == 0


def test_one_function_of_two_gets_partial_credit(graded):
    half = graded[0]["half"]
    assert 0 < half.score < half.max_score


def test_edited_tests_are_restored_before_grading(graded):
    results = graded[0]
    assert results["edited"].score == 0, "an edited test cell was trusted"
    assert results["deleted"].score == results["half"].score, "deleted tests were not restored"


def test_broken_notebook_is_reported_and_skipped(graded):
    broken = graded[0]["broken"]
    assert broken.score is None
    assert "rnn.ipynb" in broken.status and "not valid JSON" in broken.status


def test_csv_feedback_and_submissions_untouched(graded):
    results, work, subs, before = graded
    rows = {r["student_id"]: r for r in csv.DictReader(open(work / "grades.csv"))}
    for name in ["solved", "blank", "half", "edited", "deleted"]:
        assert float(rows[name]["score"]) == results[name].score
        assert (work / "feedback" / name / A / "rnn.html").is_file()
    assert "broken" not in rows
    assert {p: p.read_bytes() for p in subs.rglob("*.ipynb")} == before


def test_read_notebook_messages(tmp_path):
    cases = {"empty.ipynb": "", "list.ipynb": "[]", "v3.ipynb": json.dumps({"nbformat": 3, "worksheets": []})}
    expected = {"empty.ipynb": "is empty", "list.ipynb": "version-4", "v3.ipynb": "nbformat = 3"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=expected[name]):
            grading.read_notebook(tmp_path / name)
