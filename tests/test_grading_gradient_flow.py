"""nbgrader round trip of Assignment 2 ("gradient_flow") in a scratch copy of the course.

The assignment has one answer graded by hand (a markdown cell, solution and grade both set).
Autograding never scores it: an untouched answer gets 0 automatically, a written one waits for
a person with score 0 meanwhile. So a fully solved notebook scores max_score - manual points.
"""
import nbformat
import pytest

from course_lib import grading

pytestmark = pytest.mark.slow
A = "gradient_flow"
NB = "gradient_flow.ipynb"


def points(root, keep):
    """Total points of the source cells for which keep(cell) is true."""
    nb = nbformat.read(root / "solutions" / A / NB, as_version=4)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and keep(c))


def manual(cell):
    return cell.cell_type == "markdown"


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submitted")
    grading.make_demo_submissions(root, subs, A)
    solved = nbformat.read(subs / "solved" / A / NB, as_version=4)
    for cell in solved.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and manual(cell):
            cell.source = "The spectral radius only fixes the limit; a non-normal W can grow first."
    (subs / "written" / A).mkdir(parents=True)
    nbformat.write(solved, subs / "written" / A / NB)
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, A, course_root=root)}
    return results, work


def test_assignment_has_manual_and_autograded_points(root):
    assert points(root, manual) == 4
    assert 40 <= points(root, lambda c: True) <= 50


def test_reference_answers_get_every_autograded_point(root, graded):
    solved = graded[0]["solved"]
    assert solved.status == "graded"
    assert solved.max_score == points(root, lambda c: True)
    assert solved.score == solved.max_score - points(root, manual)


def test_written_answer_is_left_for_a_person(graded):
    from nbgrader.api import Gradebook

    results, work = graded
    assert results["written"].status == "graded"
    assert results["written"].score == results["solved"].score
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        flagged = {s: gb.find_submission(A, s).needs_manual_grade for s in ["solved", "written"]}
    assert flagged == {"solved": False, "written": True}, "only a written answer waits for a person"


def test_untouched_release_gets_zero(graded):
    assert graded[0]["blank"].status == "graded"
    assert graded[0]["blank"].score == 0


def test_first_function_alone_gets_its_points(root, graded):
    first = points(root, lambda c: c.metadata["nbgrader"]["grade_id"].startswith("test_rnn_step_jacobian"))
    results = graded[0]
    assert 0 < first == results["half"].score < results["solved"].score
