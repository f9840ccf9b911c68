"""nbgrader round trip in a scratch copy of the course, through the instructor command's code."""
import csv
import json

import nbformat
import pytest

from course_lib import grading

pytestmark = pytest.mark.slow
A = "rnn"


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
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, A, course_root=root, workers=2)}
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
    for name in ["solved", "blank", "half", "tampered"]:
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
