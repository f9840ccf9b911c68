"""nbgrader round trip of Assignment 3 ("lstm_gru") in a scratch copy of the course.

Besides the three demo submissions, two more: the reference answers with the LSTM's gate blocks
read in the lectures' order i, f, o, g instead of torch's i, f, g, o, whose LSTM points the
gate-order and torch parity checks (solutions/lstm_gru_checks.py) must take away, leaving the GRU's;
and a wrong lstm_step_forward (zeros) that patches numpy and torch through paths the static scan
misses. In-kernel hidden tests compared with torch, so that patch once made them pass; the grader's
checks compare outside the kernel, so it must earn nothing.
"""
import nbformat
import pytest

import roundtrip
from course_lib.grading.workdir import checks_path
from course_lib.grading import judged
from course_lib.grading.spec import load_checks

pytestmark = pytest.mark.slow
A = "lstm_gru"
TORCH_ORDER = "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])"
LECTURE_ORDER = "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"


# A wrong answer of the right shape, with patches through names no scan lists: a default parameter
# bound to numpy, and torch.Tensor found by getattr. Old hidden tests measured max |got - want|
# with torch's subtraction, which this turns into zeros.
ZEROS_STEP = "def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):\n    return np.zeros_like(h_prev), np.zeros_like(c_prev), None\n"
PATCHES = ("import torch\n"
           "def helper(m=np):\n    m.allclose = lambda *a, **k: True\nhelper()\n"
           "T = getattr(torch, 'Ten' + 'sor')\nT.__sub__ = lambda a, b: a * 0\n")


def grade_cells(root):
    return roundtrip.grade_cells(root, A)


def swapped(grade_id, source):
    """The reference answers with the LSTM's gate blocks read in the lectures' order."""
    if grade_id == "lstm_step_forward":
        assert TORCH_ORDER in source, "the reference lstm_step_forward changed: update TORCH_ORDER"
        source = source.replace(TORCH_ORDER, LECTURE_ORDER)
    return source


def zeros_patched(grade_id, source):
    """lstm_step_forward returns zeros of the right shape, and the cell patches numpy and torch."""
    return PATCHES + ZEROS_STEP if grade_id == "lstm_step_forward" else source


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    return roundtrip.grade_round_trip(root, tmp_path_factory, A, {"swapped": swapped, "patched": zeros_patched})


def test_every_autograded_cell_has_its_checks(root):
    nb = nbformat.read(root / "solutions" / A / f"{A}.ipynb", as_version=4)
    checks = load_checks(checks_path(root, A))
    assert set(checks) == set(judged.autograded_cells(nb)) == set(grade_cells(root))
    assert all(checks[gid] for gid in checks), [gid for gid in checks if not checks[gid]]
    blocks = [c.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
              for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(blocks) == 12 and all(b.startswith("# ") and b.count("\n") == 1 for b in blocks), \
        "hidden test code left in the notebook: the grader's checks replace it"


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


def test_patching_numpy_and_torch_earns_nothing(root, graded):
    """Zeros from lstm_step_forward lose every cell that depends on it (all but the GRU's), as they do
    without the patches: the grader compares outside the kernel, with its own numpy and torch."""
    results, all_scores = graded
    scores, cells = all_scores["patched"], grade_cells(root)
    assert results["patched"].status == "graded", results["patched"]
    gru = {gid for gid in cells if gid.startswith("test_gru_")}
    assert all(scores[gid] == 0 for gid in cells if gid not in gru), \
        {gid: scores[gid] for gid in cells if gid not in gru and scores[gid]}
    assert all(scores[gid] == cells[gid] for gid in gru), {gid: scores[gid] for gid in gru}
    assert results["patched"].score == sum(cells[gid] for gid in gru) < results["solved"].score
