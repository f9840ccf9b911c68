"""min-char-rnn: course_lib.min_char_rnn (autograd gradients) and the instructors' hand-written
loss_fun in solutions/minchar agree in float64; the hand-written backward passes a numerical
gradient check; training, clipping, sampling and evaluation do what the original does."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import min_char_rnn as lib
from course_lib.gradcheck import eval_numerical_gradient, rel_error

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "solutions" / "minchar"))
import min_char_rnn as solution  # noqa: E402  (found through the path above: it is an instructors' file)

GRAD_NAMES = ["dWxh", "dWhh", "dWhy", "dbh", "dby", "dhprev"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """autograd_loss_fun works on tiny tensors: extra threads only wait for each other (and, on a
    busy machine, for the CPU), so these tests run torch on one thread, as the book's page does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_problem(seed=0, V=5, H=4, T=6):
    """Parameters large enough that tanh is not linear, a hidden state, and one sequence."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(v.shape) * 0.5 for k, v in lib.init_params(V, H, rng).items()}
    hprev = rng.standard_normal((H, 1)) * 0.5
    inputs, targets = rng.integers(V, size=T).tolist(), rng.integers(V, size=T).tolist()
    return params, hprev, inputs, targets


def test_solution_reuses_the_library_instead_of_copying_it():
    for name in ["init_params", "forward_loss", "sample", "evaluate", "train", "PARAM_NAMES"]:
        assert getattr(solution, name) is getattr(lib, name), name
    assert solution.loss_fun is not lib.autograd_loss_fun


@pytest.mark.parametrize("seed, V, H, T", [(0, 5, 4, 6), (1, 7, 3, 1), (2, 4, 6, 25)])
def test_autograd_and_hand_written_loss_fun_agree(seed, V, H, T):
    params, hprev, inputs, targets = random_problem(seed, V, H, T)
    loss_a, grads_a, h_a = lib.autograd_loss_fun(inputs, targets, hprev, params)
    loss_h, grads_h, h_h = solution.loss_fun(inputs, targets, hprev, params)
    loss_f, h_f = lib.forward_loss(inputs, targets, hprev, params)
    assert isinstance(loss_a, float) and loss_a > 0
    assert abs(loss_a - loss_h) < 1e-12 * loss_h and abs(loss_f - loss_h) < 1e-12 * loss_h
    assert sorted(grads_a) == sorted(grads_h) == sorted(GRAD_NAMES)
    for name in GRAD_NAMES:
        assert grads_a[name].dtype == np.float64 and grads_a[name].shape == grads_h[name].shape, name
        assert rel_error(grads_a[name], grads_h[name]) < 1e-10, name
    assert h_a.shape == h_h.shape == (H, 1)
    np.testing.assert_allclose(h_a, h_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_f, h_h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["Wxh", "Whh", "Why", "bh", "by", "hprev"])
def test_hand_written_gradients_match_numerical(name):
    params, hprev, inputs, targets = random_problem()
    _, grads, _ = solution.loss_fun(inputs, targets, hprev, params)
    x = hprev if name == "hprev" else params[name]
    def loss(_):  # x is perturbed in place, so the loss reads it through params / hprev
        return solution.loss_fun(inputs, targets, hprev, params)[0]
    numeric = eval_numerical_gradient(loss, x)
    assert x.dtype == np.float64
    assert rel_error(grads["d" + name], numeric) < 1e-7, name


@pytest.mark.parametrize("loss_fun", [lib.autograd_loss_fun, solution.loss_fun], ids=["autograd", "hand"])
def test_loss_fun_returns_the_last_hidden_state_and_does_not_modify_inputs(loss_fun):
    params, hprev, inputs, targets = random_problem(seed=1)
    before = {k: v.copy() for k, v in params.items()}, hprev.copy()
    loss, _, h_T = loss_fun(inputs, targets, hprev, params)
    _, _, h_first_part = loss_fun(inputs[:3], targets[:3], hprev, params)
    _, _, h_rest = loss_fun(inputs[3:], targets[3:], h_first_part, params)
    np.testing.assert_allclose(h_T, h_rest)
    assert all(np.array_equal(params[k], before[0][k]) for k in params)
    assert np.array_equal(hprev, before[1]) and loss > 0


def test_evaluate_with_zero_weights_is_uniform_guessing():
    V, H = 6, 5
    params = {k: np.zeros_like(v) for k, v in lib.init_params(V, H, np.random.default_rng(0)).items()}
    ids = np.random.default_rng(1).integers(V, size=60)
    assert abs(lib.evaluate(ids, params) - np.log(V)) < 1e-12


def test_train_clips_each_entry_to_5_and_steps_with_adagrad():
    """A stub loss_fun returns every gradient entry 1, then 100: Adagrad with the clip moves each
    entry by -0.1 * 1/sqrt(1), then by -0.1 * 5/sqrt(1 + 25) (unclipped it would be 100/sqrt(10001))."""
    values = iter([1.0, 100.0])
    def stub(inputs, targets, hprev, params):
        g = next(values)
        grads = {"d" + k: np.full_like(v, g) for k, v in params.items()}
        return 1.0, grads, hprev
    text = "abcdefghij" * 5
    start = lib.init_params(10, 4, np.random.default_rng(3))
    history = lib.train(text, hidden_size=4, max_steps=2, seed=3, loss_fun=stub)
    for k in lib.PARAM_NAMES:
        expected = start[k] - 0.1 * 1.0 - 0.1 * 5 / np.sqrt(26)
        np.testing.assert_allclose(history["params"][k], expected, rtol=0, atol=1e-7)


def test_training_with_either_loss_fun_gives_the_same_run():
    text = "the quick brown fox jumps over the lazy dog. " * 10
    runs = [lib.train(text, hidden_size=16, max_steps=40, seed=0, loss_fun=f)
            for f in (lib.autograd_loss_fun, solution.loss_fun)]
    np.testing.assert_allclose(runs[0]["loss"], runs[1]["loss"], rtol=1e-9)
    for k in lib.PARAM_NAMES:
        np.testing.assert_allclose(runs[0]["params"][k], runs[1]["params"][k], rtol=1e-7, atol=1e-10)


def test_short_training_run_lowers_the_loss():
    text = "the quick brown fox jumps over the lazy dog. " * 40
    history = lib.train(text, hidden_size=32, max_steps=300, seed=0)
    V = len(set(text))
    assert history["step"] == list(range(1, 301))
    assert abs(history["smooth_loss"][0] - np.log(V)) < 0.01  # starts at uniform guessing
    first, last = np.mean(history["loss"][:10]), np.mean(history["loss"][-10:])
    assert first > 0.9 * np.log(V) and last < 0.5 * first, (first, last)


def test_sampling_follows_a_learned_cycle_and_is_seeded():
    text = "abcd" * 100
    history = lib.train(text, hidden_size=16, max_steps=200, seed=0)
    params, chars = history["params"], history["chars"]
    h0 = np.zeros((16, 1))
    ids = lib.sample(h0, chars.index("a"), 40, params, np.random.default_rng(0))
    assert len(ids) == 40 and all(0 <= i < len(chars) for i in ids)
    drawn = "a" + "".join(chars[i] for i in ids)
    follows = sum(drawn[i + 1] == "abcd"[("abcd".index(drawn[i]) + 1) % 4] for i in range(40))
    assert follows >= 36, drawn
    assert ids == lib.sample(h0, chars.index("a"), 40, params, np.random.default_rng(0))


def test_training_is_reproducible_and_seeded():
    text = "abcabcabd" * 20
    runs = [lib.train(text, hidden_size=8, max_steps=20, seed=s)["loss"] for s in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_train_needs_a_stopping_rule():
    with pytest.raises(ValueError, match="max_steps or max_seconds"):
        lib.train("some text to learn")
