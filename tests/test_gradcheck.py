import numpy as np
import pytest
import torch

from course_lib.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error


def test_scalar_gradient_of_known_function():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    f = lambda v: np.sum(np.sin(v) * v)                # d/dv = cos(v) v + sin(v)
    grad = eval_numerical_gradient(f, x)
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-8


def test_array_gradient_weighted_by_upstream():
    rng = np.random.default_rng(1)
    x, df = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    grad = eval_numerical_gradient_array(np.exp, x, df)
    assert rel_error(grad, np.exp(x) * df) < 1e-8


def test_matches_torch_autograd_float64():
    rng = np.random.default_rng(2)
    x, W, df = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    numeric = eval_numerical_gradient_array(lambda v: np.tanh(v @ W), x, df)
    xt = torch.tensor(x, requires_grad=True)
    torch.tanh(xt @ torch.tensor(W)).backward(torch.tensor(df))
    assert rel_error(numeric, xt.grad.numpy()) < 1e-8


def test_input_restored_after_probes():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    before = x.copy()
    eval_numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    eval_numerical_gradient_array(lambda v: v ** 2, x, np.ones_like(x))
    assert np.array_equal(x, before)


def test_a_wrong_gradient_is_caught():
    x = np.random.default_rng(3).standard_normal(5)
    numeric = eval_numerical_gradient(lambda v: np.sum(v ** 3), x)
    assert rel_error(numeric, 3 * x ** 2) < 1e-7
    assert rel_error(numeric, 2 * x ** 2) > 1e-2


def test_rel_error_definition():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0            # 1e-8 floor, no division by zero
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1)


def test_clear_errors():
    with pytest.raises(TypeError, match="floating dtype"):
        eval_numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(TypeError, match="numpy array"):
        eval_numerical_gradient(sum, [1.0, 2.0])
    with pytest.raises(ValueError, match="df has shape"):
        eval_numerical_gradient_array(lambda v: v, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="one shape"):
        rel_error(np.zeros(2), np.zeros(3))
