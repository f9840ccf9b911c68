"""solutions/minchar/min_char_rnn.py: float64 gradient check of loss_fun, and a short run learns."""
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib.gradcheck import eval_numerical_gradient, rel_error

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "solutions" / "minchar"))
import min_char_rnn  # noqa: E402  (found through the path above: it is an instructors' file)


def random_problem(seed=0, V=5, H=4, T=6):
    """Parameters large enough that tanh is not linear, a hidden state, and one sequence."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(v.shape) * 0.5
              for k, v in min_char_rnn.init_params(V, H, rng).items()}
    hprev = rng.standard_normal((H, 1)) * 0.5
    inputs, targets = rng.integers(V, size=T).tolist(), rng.integers(V, size=T).tolist()
    return params, hprev, inputs, targets


@pytest.mark.parametrize("name", ["Wxh", "Whh", "Why", "bh", "by", "hprev"])
def test_loss_fun_gradients_match_numerical(name):
    params, hprev, inputs, targets = random_problem()
    _, grads, _ = min_char_rnn.loss_fun(inputs, targets, hprev, params)
    x = hprev if name == "hprev" else params[name]
    def loss(_):  # x is perturbed in place, so the loss reads it through params / hprev
        return min_char_rnn.loss_fun(inputs, targets, hprev, params)[0]
    numeric = eval_numerical_gradient(loss, x)
    assert x.dtype == np.float64
    assert rel_error(grads["d" + name], numeric) < 1e-7, name


def test_loss_fun_returns_the_last_hidden_state_and_does_not_modify_inputs():
    params, hprev, inputs, targets = random_problem(seed=1)
    before = {k: v.copy() for k, v in params.items()}, hprev.copy()
    loss, _, h_last = min_char_rnn.loss_fun(inputs, targets, hprev, params)
    _, _, h_first_part = min_char_rnn.loss_fun(inputs[:3], targets[:3], hprev, params)
    _, _, h_rest = min_char_rnn.loss_fun(inputs[3:], targets[3:], h_first_part, params)
    np.testing.assert_allclose(h_last, h_rest)
    assert all(np.array_equal(params[k], before[0][k]) for k in params)
    assert np.array_equal(hprev, before[1]) and loss > 0


def test_short_training_run_lowers_the_loss():
    text = "the quick brown fox jumps over the lazy dog. " * 40
    history = min_char_rnn.train(text, hidden_size=32, max_steps=300, seed=0)
    V = len(set(text))
    assert history["step"] == list(range(1, 301))
    assert abs(history["smooth_loss"][0] - np.log(V)) < 0.01  # starts at uniform guessing
    first, last = np.mean(history["loss"][:10]), np.mean(history["loss"][-10:])
    assert first > 0.9 * np.log(V) and last < 0.5 * first, (first, last)


def test_training_is_reproducible_and_seeded():
    text = "abcabcabd" * 20
    runs = [min_char_rnn.train(text, hidden_size=8, max_steps=20, seed=s)["loss"] for s in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_train_needs_a_stopping_rule():
    with pytest.raises(ValueError, match="max_steps or max_seconds"):
        min_char_rnn.train("some text to learn")
