"""nbgrader round trip of Assignment 2 ("gradient_flow") in a scratch copy of the course.

The assignment has one answer graded by hand (a markdown cell, solution and grade both set).
Autograding never scores it: an untouched answer gets 0 automatically, a written one waits for
a person with score 0 meanwhile. So a fully solved notebook scores max_score - manual points.

Every autograded cell is judged by the grader's checks (solutions/gradient_flow_checks.py), outside
the student's kernel. One more submission shows why: rnn_step_jacobian returns zeros of the right
shape, and its cell patches numpy and torch through names no static scan lists (a default parameter
bound to numpy, torch.Tensor found by getattr). The old in-kernel hidden test measured max |J - want|
with torch's subtraction, which the patch turns into zeros, so it earned the 3 hidden points; now
the patch must earn nothing.
"""
import nbformat
import pytest

from course_lib import grading
from course_lib.grading import judged
from course_lib.grading.workdir import checks_path
from course_lib.grading.spec import load_checks

pytestmark = pytest.mark.slow
A = "gradient_flow"
NB = "gradient_flow.ipynb"
# rnn_step_jacobian and jacobian_product_norms (which calls it) lose their points to a zero Jacobian
JACOBIAN_CELLS = ["test_rnn_step_jacobian", "test_rnn_step_jacobian_hidden",
                  "test_jacobian_product_norms", "test_jacobian_product_norms_hidden"]
ZEROS_JACOBIAN = "def rnn_step_jacobian(h_next, Wh):\n    return np.zeros_like(Wh)\n"
PATCHES = ("import torch\n"
           "def helper(m=np):\n    m.allclose = lambda *a, **k: True\n"
           "    m.testing.assert_allclose = lambda *a, **k: None\nhelper()\n"
           "T = getattr(torch, 'Ten' + 'sor')\nT.__sub__ = lambda a, b: a * 0\n")


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
    patched = nbformat.read(subs / "solved" / A / NB, as_version=4)
    for cell in patched.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step_jacobian":
            cell.source = PATCHES + ZEROS_JACOBIAN
    (subs / "patched" / A).mkdir(parents=True)
    nbformat.write(patched, subs / "patched" / A / NB)
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, A, course_root=root)}
    return results, work


def cell_scores(work, student, grade_ids):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        return {gid: gb.find_grade(gid, A, A, student).score for gid in grade_ids}


def test_every_autograded_cell_has_its_checks(root):
    nb = nbformat.read(root / "solutions" / A / NB, as_version=4)
    checks = load_checks(checks_path(root, A))
    autograded = judged.autograded_cells(nb)
    assert len(autograded) == 20 and set(checks) == set(autograded), set(checks) ^ set(autograded)
    assert all(checks[gid] for gid in autograded), [gid for gid in autograded if not checks[gid]]
    assert "transient_answer" not in checks, "the written answer is graded by hand"
    hidden = [gid for gid in autograded if gid.endswith("_hidden")]
    assert all(c.hidden for gid in hidden for c in checks[gid]), "a hidden cell's check would show its inputs"
    blocks = [c.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
              for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(blocks) == len(hidden) == 10
    assert all(b.startswith("# The grader checks ") and b.count("\n") == 1 for b in blocks), \
        "hidden test code left in the notebook: the grader's checks replace it"


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


def test_patching_numpy_and_torch_earns_nothing(root, graded):
    """A zero Jacobian loses the cells that depend on it, exactly as without the patches (the other
    answers are the reference ones): the grader compares outside the kernel, with its own numpy and
    torch."""
    results, work = graded
    patched = results["patched"]
    assert patched.status == "graded", patched
    scores = cell_scores(work, "patched", JACOBIAN_CELLS)
    assert scores == dict.fromkeys(JACOBIAN_CELLS, 0), scores
    lost = points(root, lambda c: c.metadata["nbgrader"]["grade_id"] in JACOBIAN_CELLS)
    assert lost == 10 and patched.score == results["solved"].score - lost
