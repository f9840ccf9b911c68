"""Numerical gradients by centred differences, and the relative error used to compare them.

The conventions are CS231n's: ``f`` is evaluated at ``x + h`` and ``x - h`` one entry at a
time, the entry is restored after each probe, and for array-valued ``f`` the upstream
gradient ``df`` weights the outputs so the result is d(sum(f(x) * df))/dx.
Run checks in float64: with float32 the rounding error of ``f`` swamps the difference.
"""
from typing import Callable

import numpy as np


def _check_array(x, name: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (got {type(x).__name__}); "
                        f"wrap it with np.asarray(..., dtype=np.float64).")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype to be perturbed (got {x.dtype}); "
                        f"use {name}.astype(np.float64).")


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                            h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of a scalar function ``f`` at ``x``.

    Inputs:
    - f: function taking an array shaped like x and returning a scalar
    - x: point to evaluate at, any shape; perturbed in place and restored
    - h: step of the centred difference
    Returns:
    - grad: array shaped like x, grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)
    """
    _check_array(x, "x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x))
        x[ix] = old - h
        fxmh = float(f(x))
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                                  df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of an array-valued ``f`` at ``x``, weighted by upstream ``df``.

    Inputs:
    - f: function taking an array shaped like x and returning an array shaped like df
    - x: point to evaluate at, any shape; perturbed in place and restored
    - df: upstream gradient dL/df(x), shaped like f(x)
    - h: step of the centred difference
    Returns:
    - grad: array shaped like x, grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h)
    """
    _check_array(x, "x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        if pos.shape != np.shape(df):
            raise ValueError(f"f(x) has shape {pos.shape} but df has shape {np.shape(df)}; "
                             f"df must be the upstream gradient of f's output.")
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y) -> float:
    """Relative error max|x - y| / max(1e-8, |x| + |y|), elementwise, as a Python float.

    Below 1e-7 is what a correct float64 backward gets against a numerical gradient.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error compares arrays of one shape; got {x.shape} and {y.shape}.")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
