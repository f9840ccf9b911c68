"""nbgrader round trip of Assignment 3 ("lstm_gru") in a scratch copy of the course.

Besides the three demo submissions, one more: the reference answers with the LSTM's gate blocks
read in the lectures' order i, f, o, g instead of torch's i, f, g, o. The gate-order test and the
torch parity tests must take the LSTM's points away from it and leave the GRU's.
"""
import nbformat
import pytest

from course_lib import grading

pytestmark = pytest.mark.slow
A = "lstm_gru"
NB = "lstm_gru.ipynb"
TORCH_ORDER = "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])"
LECTURE_ORDER = "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"


def grade_cells(root):
    """grade_id -> points of every autograded cell of the source notebook."""
    nb = nbformat.read(root / "solutions" / A / NB, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submitted")
    grading.make_demo_submissions(root, subs, A)
    swapped = nbformat.read(subs / "solved" / A / NB, as_version=4)
    for cell in swapped.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "lstm_step_forward":
            assert TORCH_ORDER in cell.source, "the reference lstm_step_forward changed: update TORCH_ORDER"
            cell.source = cell.source.replace(TORCH_ORDER, LECTURE_ORDER)
    (subs / "swapped" / A).mkdir(parents=True)
    nbformat.write(swapped, subs / "swapped" / A / NB)
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, A, course_root=root, workers=2)}
    return results, work


def test_assignment_has_every_part(root):
    cells = grade_cells(root)
    assert 50 <= sum(cells.values()) <= 60
    functions = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
                 "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
                 "cell_gradient_through_time", "gradient_norms_vs_lag"]
    for name in functions:
        assert f"test_{name}" in cells and f"test_{name}_hidden" in cells, name
    assert "test_lstm_gate_order" in cells and "test_lag_experiment_hidden" in cells


def test_reference_answers_get_full_marks(root, graded):
    solved = graded[0]["solved"]
    assert solved.status == "graded"
    assert solved.max_score == sum(grade_cells(root).values())
    assert solved.score == solved.max_score


def test_untouched_release_gets_zero(graded):
    assert graded[0]["blank"].status == "graded"
    assert graded[0]["blank"].score == 0


def test_first_function_alone_gets_its_points(root, graded):
    cells = grade_cells(root)
    first = cells["test_lstm_step_forward"] + cells["test_lstm_step_forward_hidden"] + cells["test_lstm_gate_order"]
    results = graded[0]
    assert 0 < first == results["half"].score < results["solved"].score


def test_lecture_gate_order_loses_the_lstm_points(root, graded):
    from nbgrader.api import Gradebook

    results, work = graded
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        scores = {gid: gb.find_grade(gid, "lstm_gru", A, "swapped").score for gid in grade_cells(root)}
    lstm = [gid for gid in scores if gid.startswith("test_lstm_")]
    gru = [gid for gid in scores if gid.startswith("test_gru_")]
    assert all(scores[gid] == 0 for gid in lstm), {gid: scores[gid] for gid in lstm}
    assert all(scores[gid] == grade_cells(root)[gid] for gid in gru), {gid: scores[gid] for gid in gru}
    assert 0 < results["swapped"].score < results["solved"].score
