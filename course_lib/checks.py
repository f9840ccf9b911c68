"""Comparisons for autograder tests that a submission cannot talk its way past.

A student's cell runs before the tests, in the same process. It could replace ``numpy.allclose``,
``numpy.testing``, or return an object whose ``__eq__`` always says True. These checks therefore
copy the answer's values into a float64 torch tensor (which reads the array's memory, not its
Python methods) and compare with torch operations only. Hidden test cells ``importlib.reload``
this module before use, so patching its functions from a student cell has no effect either.
"""
import torch


def as_float64(value, name: str) -> torch.Tensor:
    """The values of ``value`` (an array, a tensor or nested lists) as a float64 CPU tensor."""
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().to("cpu", torch.float64).clone()
        return torch.as_tensor(value, dtype=torch.float64).clone()
    except (TypeError, ValueError, RuntimeError) as err:
        raise AssertionError(f"{name} should be a numeric array, got {type(value).__name__} "
                             f"that cannot be read as numbers ({err}).") from None


def max_abs_error(got, want, name: str) -> float:
    """max |got - want| as a Python float, after checking that the shapes agree."""
    got_t, want_t = as_float64(got, name), as_float64(want, "expected " + name)
    if tuple(got_t.shape) != tuple(want_t.shape):
        raise AssertionError(f"{name} has shape {tuple(got_t.shape)}, expected {tuple(want_t.shape)}.")
    if got_t.numel() == 0:
        return 0.0
    if not bool(torch.isfinite(got_t).all()):
        raise AssertionError(f"{name} contains NaN or inf.")
    return float((got_t - want_t).abs().max())


def assert_close(got, want, name: str, tol: float = 1e-8) -> None:
    """Fail unless ``got`` matches ``want`` within ``tol`` relative to the size of ``want``."""
    want_t = as_float64(want, "expected " + name)
    err = max_abs_error(got, want_t, name)
    scale = 1.0 + (float(want_t.abs().max()) if want_t.numel() else 0.0)
    if not err <= tol * scale:
        raise AssertionError(f"{name} differs from the expected values by up to {err:.3e} "
                             f"(allowed {tol * scale:.1e}).")
