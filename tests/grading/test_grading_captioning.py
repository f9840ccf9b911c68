"""nbgrader round trip of Assignment 4 ("captioning") in a scratch copy of the course.

Besides the three demo submissions ("half" answers only the first answer cell, soft attention's
forward), three more built from the reference answers:
- "wrong_layers": the Assignment 1 layers pasted in Part 4 are wrong (ReLU for tanh, a loss divided
  by the number of words, the embedding gradient that drops repeated ids). The grader's checks run the
  captioning model on the reference layers, so every point is still earned.
- "zero_loss": CaptioningRNN.loss returns a zero loss and zero gradients. The loss, gradient, LSTM
  and training checks must give it nothing; the other cells (sampling included) keep their points.
- "patched_zero_loss": zero_loss, and its answer cell patches torch and numpy through names no static
  scan lists (torch.Tensor found by getattr, numpy through a default parameter). The old in-kernel
  hidden tests measured errors with torch's subtraction, which the patch turns into zeros, so the loss,
  gradient and LSTM tests passed; the grader's checks (solutions/captioning_checks.py) judge outside
  the kernel, so the patch must earn nothing more than zero_loss.
"""
import nbformat
import pytest

import roundtrip
from course_lib import grading
from course_lib.grading import judged
from course_lib.grading.workdir import checks_path
from course_lib.grading.spec import load_checks

pytestmark = pytest.mark.slow
A = "captioning"
NB = "captioning.ipynb"
LOSS_CELLS = ["test_captioning_loss_hidden", "test_captioning_grads_hidden", "test_captioning_lstm_hidden",
              "test_overfit_hidden"]
WRONG_LAYERS = [  # (reference code, wrong code) in the cell earlier_layers
    ("h_next = np.tanh(x @ Wx + h_prev @ Wh + b)", "h_next = np.maximum(0, x @ Wx + h_prev @ Wh + b)"),
    ("loss = -np.sum(log_p[n_idx, t_idx, y] * mask) / N", "loss = -np.sum(log_p[n_idx, t_idx, y] * mask) / mask.sum()"),
    ("np.add.at(dW, x, dout)", "dW[x] += dout"),
]
ZERO_LOSS = "        loss, grads = 0.0, {k: np.zeros_like(v) for k, v in self.params.items()}\n        return loss, grads\n"
PATCHES = ("import torch\n"
           "def helper(m=np):\n    m.allclose = lambda *a, **k: True\n"
           "    m.testing.assert_allclose = lambda *a, **k: None\nhelper()\n"
           "T = getattr(torch, 'Ten' + 'sor')\nT.__sub__ = lambda a, b: a * 0\n")


def wrong_layers(grade_id, source):
    if grade_id != "earlier_layers":
        return source
    for right, wrong in WRONG_LAYERS:
        assert right in source, f"the reference layers changed: update WRONG_LAYERS ({right!r})"
        source = source.replace(right, wrong)
    return source


def zero_loss(grade_id, source):
    if grade_id != "captioning_rnn":
        return source
    head, sep, rest = source.partition('        loss, grads = 0.0, {}\n')
    assert sep, "the reference CaptioningRNN.loss changed: update zero_loss"
    return head + ZERO_LOSS + rest


def patched_zero_loss(grade_id, source):
    return PATCHES + zero_loss(grade_id, source) if grade_id == "captioning_rnn" else source


def grade_cells(root):
    return roundtrip.grade_cells(root, A)


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    return roundtrip.grade_round_trip(root, tmp_path_factory, A,
                                      {"wrong_layers": wrong_layers, "zero_loss": zero_loss,
                                       "patched_zero_loss": patched_zero_loss})


def test_assignment_has_every_part(root):
    cells = grade_cells(root)
    assert 50 <= sum(cells.values()) <= 60
    for name in ["soft_attention_forward", "soft_attention_backward", "beam_search"]:
        assert f"test_{name}" in cells and f"test_{name}_hidden" in cells, name
    assert {"test_beam_search_ties_hidden", "test_captioning_sample_hidden", *LOSS_CELLS} <= set(cells)
    nb = nbformat.read(root / "solutions" / A / NB, as_version=4)
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells}
    assert meta["earlier_layers"]["solution"] and not meta["earlier_layers"]["grade"], "Part 4 earns no points"
    for check in ["check_captioning_loss", "check_captioning_grads", "check_captioning_sample", "overfit"]:
        assert meta[check]["locked"] and not meta[check]["grade"], f"{check} runs the pasted layers: no points"


def test_reference_answers_get_full_marks_and_the_release_zero(root, graded):
    roundtrip.check_solved_and_blank(root, A, graded[0])


def test_first_function_alone_gets_its_points(root, graded):
    cells = grade_cells(root)
    first = cells["test_soft_attention_forward"] + cells["test_soft_attention_forward_hidden"]
    results = graded[0]
    assert results["half"].status == "graded"
    assert 0 < first == results["half"].score < results["solved"].score


def test_wrong_earlier_layers_cost_nothing(root, graded):
    results, scores = graded
    assert results["wrong_layers"].status == "graded"
    assert scores["wrong_layers"] == grade_cells(root)
    assert results["wrong_layers"].score == results["solved"].score


def test_zero_loss_gets_nothing_for_the_loss(root, graded):
    results, scores = graded
    cells = grade_cells(root)
    assert results["zero_loss"].status == "graded"
    assert all(scores["zero_loss"][gid] == 0 for gid in LOSS_CELLS), scores["zero_loss"]
    kept = {gid: pts for gid, pts in cells.items() if gid not in LOSS_CELLS}
    assert {gid: scores["zero_loss"][gid] for gid in kept} == kept
    assert 0 < results["zero_loss"].score < results["solved"].score



def test_every_autograded_cell_has_its_checks(root):
    """One entry of CHECKS per autograded cell; the hidden cells keep no test code; the checks of the
    captioning model swap in autograd layers of Assignments 1 and 3 (no hand-written backward)."""
    nb = nbformat.read(root / "solutions" / A / NB, as_version=4)
    checks = load_checks(checks_path(root, A))
    autograded = judged.autograded_cells(nb)
    assert len(autograded) == 12 and set(checks) == set(autograded), set(checks) ^ set(autograded)
    assert all(checks[gid] for gid in autograded), [gid for gid in autograded if not checks[gid]]
    hidden = [gid for gid in autograded if gid.endswith("_hidden")]
    assert all(c.hidden for gid in hidden for c in checks[gid]), "a hidden cell's check would show its inputs"
    assert not any(c.hidden for gid in set(autograded) - set(hidden) for c in checks[gid])
    blocks = [c.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
              for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(blocks) == len(hidden) == 9
    assert all(b.startswith("# The grader checks ") and b.count("\n") == 1 for b in blocks), \
        "hidden test code left in the notebook: the grader's checks replace it"
    layers = [c.run for gid in [*LOSS_CELLS, "test_captioning_sample_hidden"] for c in checks[gid]]
    assert all("with _reference_layers():" in run and "torch.autograd.grad" in run for run in layers)
    answers = grading.reference_answers(nb)["earlier_layers"]
    for right, _ in WRONG_LAYERS:
        assert right in answers and not any(right in run for run in layers), right
    assert all(c.timeout is None for gid in autograded if gid != "test_overfit_hidden" for c in checks[gid])


def test_patching_torch_and_numpy_earns_nothing(root, graded):
    results, scores = graded
    patched = results["patched_zero_loss"]
    assert patched.status == "graded", patched
    assert all(scores["patched_zero_loss"][gid] == 0 for gid in LOSS_CELLS), scores["patched_zero_loss"]
    assert all(scores["patched_zero_loss"][gid] <= scores["zero_loss"][gid] for gid in grade_cells(root))
    assert patched.score <= results["zero_loss"].score < results["solved"].score
