"""nbgrader round trip of Assignment 3 ("lstm_gru") in a scratch copy of the course.

Besides the three demo submissions, one more: the reference answers with the LSTM's gate blocks
read in the lectures' order i, f, o, g instead of torch's i, f, g, o. The gate-order test and the
torch parity tests must take the LSTM's points away from it and leave the GRU's.
"""
import pytest

import roundtrip

pytestmark = pytest.mark.slow
A = "lstm_gru"
TORCH_ORDER = "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])"
LECTURE_ORDER = "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"


def grade_cells(root):
    return roundtrip.grade_cells(root, A)


def swapped(grade_id, source):
    """The reference answers with the LSTM's gate blocks read in the lectures' order."""
    if grade_id == "lstm_step_forward":
        assert TORCH_ORDER in source, "the reference lstm_step_forward changed: update TORCH_ORDER"
        source = source.replace(TORCH_ORDER, LECTURE_ORDER)
    return source


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    return roundtrip.grade_round_trip(root, tmp_path_factory, A, {"swapped": swapped})


def test_assignment_has_every_part(root):
    cells = grade_cells(root)
    assert 50 <= sum(cells.values()) <= 60
    functions = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
                 "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
                 "cell_gradient_through_time", "gradient_norms_vs_lag"]
    for name in functions:
        assert f"test_{name}" in cells and f"test_{name}_hidden" in cells, name
    assert "test_lstm_gate_order" in cells and "test_lag_experiment_hidden" in cells


def test_reference_answers_get_full_marks_and_the_release_zero(root, graded):
    roundtrip.check_solved_and_blank(root, A, graded[0])


def test_first_function_alone_gets_its_points(root, graded):
    cells = grade_cells(root)
    first = cells["test_lstm_step_forward"] + cells["test_lstm_step_forward_hidden"] + cells["test_lstm_gate_order"]
    results = graded[0]
    assert 0 < first == results["half"].score < results["solved"].score


def test_lecture_gate_order_loses_the_lstm_points(root, graded):
    results, all_scores = graded
    scores = all_scores["swapped"]
    lstm = [gid for gid in scores if gid.startswith("test_lstm_")]
    gru = [gid for gid in scores if gid.startswith("test_gru_")]
    assert all(scores[gid] == 0 for gid in lstm), {gid: scores[gid] for gid in lstm}
    assert all(scores[gid] == grade_cells(root)[gid] for gid in gru), {gid: scores[gid] for gid in gru}
    assert 0 < results["swapped"].score < results["solved"].score
