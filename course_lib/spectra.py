"""Spectra of recurrent weight matrices, and matrices built to have a chosen spectrum.

How a gradient travels back through a linear recurrence h_t = h_{t-1} W_hh depends on the powers
of W_hh, and two numbers bound them: the spectral radius rho(W) = max |eigenvalue| sets the growth
rate in the long run (||W^k||^(1/k) -> rho), the largest singular value sigma_max(W) = ||W||_2
bounds every single step (||W^k|| <= sigma_max^k). For a normal matrix (W W^T = W^T W) the two
are equal; for a non-normal one sigma_max can be far above rho, and ||W^k|| can grow for a
while even though rho < 1. ``matrix_with_spectrum`` builds both kinds from a list of eigenvalues.

Shapes: W (..., H, H), a single matrix or a stack of them. This module imports no framework;
random state is passed in (rng: np.random.Generator).
"""
import numpy as np


def _check_square(W, name: str = "W") -> np.ndarray:
    W = np.asarray(W)
    if W.ndim < 2 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"{name} should be a square matrix of shape (H, H), or a stack of them "
                         f"(..., H, H), but has shape {W.shape}.")
    return W


def spectral_radius(W) -> np.ndarray | float:
    """max |eigenvalue| of W (..., H, H); a float for one matrix, an array (...) for a stack."""
    return np.max(np.abs(np.linalg.eigvals(_check_square(W))), axis=-1)


def largest_singular_value(W) -> np.ndarray | float:
    """sigma_max(W) = ||W||_2 of W (..., H, H); a float for one matrix, an array (...) for a stack."""
    return np.linalg.svd(_check_square(W), compute_uv=False)[..., 0]


def scaled_gaussian(rng: np.random.Generator, H: int, scale: float = 1.0) -> np.ndarray:
    """An (H, H) matrix with independent N(0, scale^2 / H) entries.

    By the circular law its eigenvalues fill the disc of radius ``scale`` as H grows, so its
    spectral radius is close to ``scale`` (not equal: about 1 + O(1/sqrt(H)) relative), while its
    largest singular value is close to 2 * scale.
    """
    if not (isinstance(H, (int, np.integer)) and H >= 1):
        raise ValueError(f"H should be a positive int, got {H!r}.")
    return rng.standard_normal((H, H)) * (scale / np.sqrt(H))


def _blocks(eigenvalues) -> list[np.ndarray]:
    """Real 1x1 and 2x2 blocks with the given eigenvalues (a complex one stands for its pair)."""
    blocks = []
    for lam in np.atleast_1d(np.asarray(eigenvalues)):
        if np.imag(lam) == 0:
            blocks.append(np.array([[np.real(lam)]]))
        else:
            a, b = np.real(lam), abs(np.imag(lam))
            blocks.append(np.array([[a, b], [-b, a]]))  # eigenvalues a +- ib
    return blocks


def matrix_with_spectrum(eigenvalues, coupling: float = 0.0) -> np.ndarray:
    """A real matrix whose eigenvalues are exactly the given ones, normal or not.

    Inputs:
    - eigenvalues: 1-D list of numbers; a real number gives one eigenvalue, a complex number
      a + ib (b != 0) gives the pair a +- ib, so H = (#real) + 2 (#complex)
    - coupling: the entry that links each block to the next, just above the block diagonal.
      0 gives a block-diagonal normal matrix (sigma_max = rho); a large coupling gives a
      non-normal matrix with the same eigenvalues whose powers can grow before they decay.
    Returns W of shape (H, H), block upper triangular (a real Schur form); for any orthogonal Q,
    Q W Q^T has the same eigenvalues, singular values and power norms.
    """
    lams = np.asarray(eigenvalues)
    if lams.ndim != 1 or lams.size == 0 or not np.all(np.isfinite(lams)):
        raise ValueError(f"eigenvalues should be a non-empty 1-D list of finite numbers, "
                         f"got {eigenvalues!r}.")
    blocks = _blocks(lams)
    sizes = [len(b) for b in blocks]
    H = sum(sizes)
    W = np.zeros((H, H))
    starts = np.cumsum([0] + sizes)
    for k, block in enumerate(blocks):
        s = starts[k]
        W[s:s + sizes[k], s:s + sizes[k]] = block
        if k + 1 < len(blocks):
            W[starts[k + 1] - 1, starts[k + 1]] = coupling  # last row of block k -> next block
    return W
