"""nbgrader round trip of Assignment 4 ("captioning") in a scratch copy of the course.

Besides the three demo submissions ("half" answers only the first answer cell, soft attention's
forward), two more built from the reference answers:
- "wrong_layers": the Assignment 1 layers pasted in Part 4 are wrong (ReLU for tanh, a loss divided
  by the number of words, the embedding gradient that drops repeated ids). The hidden tests run the
  captioning model on the reference layers, so every point is still earned.
- "zero_loss": CaptioningRNN.loss returns a zero loss and zero gradients. The loss, gradient, LSTM
  and training tests must give it nothing; the other cells (sampling included) keep their points.
"""
import nbformat
import pytest

import roundtrip

pytestmark = pytest.mark.slow
A = "captioning"
NB = "captioning.ipynb"
LOSS_CELLS = ["test_captioning_loss_hidden", "test_captioning_grads_hidden", "test_captioning_lstm_hidden",
              "test_overfit_hidden"]
WRONG_LAYERS = [  # (reference code, wrong code) in the cell earlier_layers
    ("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.maximum(0, x @ Wx + prev_h @ Wh + b)"),
    ("loss = -np.sum(log_p[n_idx, t_idx, y] * mask) / N", "loss = -np.sum(log_p[n_idx, t_idx, y] * mask) / mask.sum()"),
    ("np.add.at(dW, x, dout)", "dW[x] += dout"),
]
ZERO_LOSS = "        loss, grads = 0.0, {k: np.zeros_like(v) for k, v in self.params.items()}\n        return loss, grads\n"


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


def grade_cells(root):
    return roundtrip.grade_cells(root, A)


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    return roundtrip.grade_round_trip(root, tmp_path_factory, A,
                                      {"wrong_layers": wrong_layers, "zero_loss": zero_loss})


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

