"""Gradient flow through a vanilla RNN in PyTorch: step Jacobians, their products, and spectra.

The cell, in the course's row-vector layout (one example; batches add a leading N):

    a_t = x_t Wx + h_{t-1} Wh + b,   h_t = phi(a_t),   phi in {tanh, sigmoid, relu, linear}

Jacobians follow the numerator convention of the Notation page: J_t[i, j] = dh_t[i] / dh_{t-1}[j]
(row i: output unit, column j: input unit). Because h_{t-1} multiplies Wh from the left, unit j
feeds unit i through Wh[j, i], so

    J_t = diag(phi'(a_t)) Wh^T        (= diag(phi'(a_t)) W_hh in the lectures' column form).

A row-vector gradient goes back one step as dL/dh_{t-1} = (dL/dh_t) J_t, and over k steps through
the product dh_T/dh_{T-k} = J_T J_{T-1} ... J_{T-k+1}. Jacobians come from autograd
(``torch.func.jacrev``, batched with ``vmap``), not from a hand-written formula.

Two numbers of the recurrent matrix bound these products. For the linear cell (J_t = Wh^T)

    rho^k <= ||Wh^k||_2 <= sigma_max^k,   ||Wh^k||_2^(1/k) -> rho as k grows,

with rho = max |eigenvalue| (``spectral_radius``) and sigma_max = ||Wh||_2 (``two_norm``). They are
equal for a normal matrix; ``matrix_with_spectrum`` builds normal and non-normal matrices with the
same eigenvalues. Transposing changes neither, so they hold for Wh and W_hh alike.

Shapes: x (N, T, D), h (N, T, H), Wx (D, H), Wh (H, H), b (H,), J (N, T, H, H); the matrix
functions take one matrix (H, H) or a stack (..., H, H). Everything runs on the tensors' device,
except eigenvalues and singular values of MPS tensors, which PyTorch computes only on the CPU
(the results come back to the device).
"""
import torch
from torch.func import jacrev, vmap

NONLINEARITIES = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "linear": lambda a: a,
}


def _phi(nonlinearity: str):
    try:
        return NONLINEARITIES[nonlinearity]
    except KeyError:
        raise ValueError(f"nonlinearity should be one of {sorted(NONLINEARITIES)}, "
                         f"got {nonlinearity!r}.") from None


def _lapack(W):
    """W, checked square, or a CPU copy where torch.linalg has no eig/svd for the device (MPS)."""
    if W.ndim < 2 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"W should be a square matrix (H, H) or a stack of them (..., H, H), "
                         f"but has shape {tuple(W.shape)}.")
    return W.cpu() if W.device.type == "mps" else W


# ---- the cell and its Jacobians ------------------------------------------------------------------

def rnn_cell(h_prev, x_t, Wx, Wh, b, nonlinearity: str = "tanh") -> torch.Tensor:
    """One step h_next = phi(x_t Wx + h_prev Wh + b); h_prev (..., H), x_t (..., D) -> (..., H)."""
    return _phi(nonlinearity)(x_t @ Wx + h_prev @ Wh + b)


def unroll(x, Wx, Wh, b, h0=None, nonlinearity: str = "tanh") -> torch.Tensor:
    """Hidden states h (N, T, H) for inputs x (N, T, D) from h0 (N, H) (None: zeros).

    With nonlinearity='tanh' this is course_lib.rnn.RNN's forward: h[:, t-1] is h_t.
    """
    N, T, _ = x.shape
    h_prev = x.new_zeros(N, Wh.shape[0]) if h0 is None else h0
    hs = []
    for t in range(T):
        h_prev = rnn_cell(h_prev, x[:, t], Wx, Wh, b, nonlinearity)
        hs.append(h_prev)
    return torch.stack(hs, dim=1)  # (N, T, H)


def step_jacobians(h_prev, x_t, Wx, Wh, b, nonlinearity: str = "tanh") -> torch.Tensor:
    """Jacobians dh_next/dh_prev of M independent steps at once.

    Inputs:
    - h_prev: states before the step, of shape (M, H)
    - x_t: inputs of the step, of shape (M, D)
    - Wx (D, H), Wh (H, H), b (H,): the cell's parameters, shared by all M steps
    Returns J of shape (M, H, H) with J[m, i, j] = dh_next[m, i] / dh_prev[m, j].
    """
    def one(h, x):  # (H,), (D,) -> (H,)
        return rnn_cell(h, x, Wx, Wh, b, nonlinearity)

    return vmap(jacrev(one))(h_prev, x_t)


def trajectory_jacobians(x, Wx, Wh, b, h0=None, nonlinearity: str = "tanh"):
    """Run the RNN and return every step Jacobian along the way.

    Inputs: x (N, T, D); h0 (N, H) or None for zeros; parameters as in ``step_jacobians``.
    Returns a tuple of:
    - h: hidden states, of shape (N, T, H); h[:, t-1] is h_t
    - J: step Jacobians, of shape (N, T, H, H); J[:, t-1] = dh_t / dh_{t-1} (h_0 = h0)
    """
    N, T, D = x.shape
    H = Wh.shape[0]
    h = unroll(x, Wx, Wh, b, h0, nonlinearity)
    h0 = x.new_zeros(N, H) if h0 is None else h0
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)  # (N, T, H): h_{t-1} for each step
    J = step_jacobians(h_prev.reshape(N * T, H), x.reshape(N * T, D), Wx, Wh, b, nonlinearity)
    return h, J.reshape(N, T, H, H)


def backward_products(J) -> torch.Tensor:
    """Products of step Jacobians from the last step back, P_k = dh_T / dh_{T-k}.

    Inputs: J (N, T, H, H) with J[:, t-1] = dh_t / dh_{t-1}.
    Returns P of shape (N, T, H, H) with P[:, k-1] = J_T J_{T-1} ... J_{T-k+1} (k factors),
    so P[:, T-1] = dh_T / dh_0.
    """
    T = J.shape[1]
    P, out = J[:, T - 1], [J[:, T - 1]]
    for k in range(2, T + 1):
        P = P @ J[:, T - k]  # one more step back
        out.append(P)
    return torch.stack(out, dim=1)


def backward_product_norms(J) -> torch.Tensor:
    """Spectral norms ||dh_T / dh_{T-k}||_2 for lags k = 1..T; J (N, T, H, H) -> (N, T)."""
    return two_norm(backward_products(J))


def growth_rate(norms, start: int = 0) -> torch.Tensor:
    """Least-squares slope of log(norm) against the lag, per row: the rate r in norm ~ e^(r k).

    Inputs: norms (..., K) for lags 1..K; the first ``start`` lags are left out of the fit.
    Returns the slopes, of shape (...). A negative rate is a vanishing gradient, a positive one
    an exploding gradient.
    """
    y = torch.log(norms[..., start:])
    k = torch.arange(start + 1, norms.shape[-1] + 1, dtype=y.dtype, device=y.device)
    kc = k - k.mean()
    return ((y - y.mean(dim=-1, keepdim=True)) * kc).sum(dim=-1) / (kc * kc).sum()


# ---- spectra of recurrent matrices ---------------------------------------------------------------

def spectra(W):
    """Eigenvalues and singular values of W (..., H, H), all matrices at once.

    Returns a tuple of:
    - eigenvalues: complex, of shape (..., H), in no particular order
    - singular_values: real, of shape (..., H), descending
    """
    W_l = _lapack(W)
    return torch.linalg.eigvals(W_l).to(W.device), torch.linalg.svdvals(W_l).to(W.device)


def spectral_radius(W) -> torch.Tensor:
    """rho(W) = max |eigenvalue| of W (..., H, H) -> (...)."""
    return torch.linalg.eigvals(_lapack(W)).abs().amax(dim=-1).to(W.device)


def two_norm(W) -> torch.Tensor:
    """sigma_max(W) = ||W||_2, the largest singular value, of W (..., H, H) -> (...)."""
    return torch.linalg.svdvals(_lapack(W))[..., 0].to(W.device)


def rescale_spectral_radius(W, rho) -> torch.Tensor:
    """W (..., H, H) multiplied by a positive number per matrix so that its spectral radius is rho."""
    return W * (rho / spectral_radius(W)).to(W.dtype)[..., None, None]


def matrix_power_norms(W, K: int) -> torch.Tensor:
    """||W^k||_2 for k = 0..K of W (..., H, H) -> (..., K + 1), by repeated products.

    For a linear RNN (phi = identity) the step Jacobian is Wh^T at every step, and
    ||(Wh^T)^k|| = ||Wh^k||: this is the gradient-norm curve of the linear case.
    """
    P = torch.eye(W.shape[-1], dtype=W.dtype, device=W.device).expand_as(W)
    norms = [two_norm(P)]
    for _ in range(K):
        P = P @ W
        norms.append(two_norm(P))
    return torch.stack(norms, dim=-1)


def gaussian_matrices(n: int, H: int, scale: float = 1.0, *, generator=None, device=None,
                      dtype=torch.float32) -> torch.Tensor:
    """n matrices (n, H, H) with independent N(0, scale^2 / H) entries, drawn on the CPU.

    By the circular law their eigenvalues fill the disc of radius ``scale`` as H grows (rho close
    to ``scale``), while sigma_max is close to 2 * scale. ``generator`` (a CPU torch.Generator)
    makes the draw reproducible on every device.
    """
    W = torch.randn(n, H, H, generator=generator, dtype=dtype) * (scale / H ** 0.5)
    return W.to(device)


def matrix_with_spectrum(eigenvalues, coupling: float = 0.0, *, dtype=torch.float64,
                         device=None) -> torch.Tensor:
    """A real matrix whose eigenvalues are exactly the given ones, normal or not.

    Inputs:
    - eigenvalues: 1-D sequence of numbers (list, array or tensor); a real number gives one
      eigenvalue, a complex number a + ib (b != 0) gives the pair a +- ib, so
      H = (#real) + 2 (#complex)
    - coupling: the entry that links each diagonal block to the next, just above the blocks.
      0 gives a block-diagonal normal matrix (sigma_max = rho); a large coupling gives a
      non-normal matrix with the same eigenvalues whose powers can grow before they decay.
    Returns W of shape (H, H), block upper triangular (a real Schur form), with blocks [[a]] for a
    real eigenvalue and [[a, b], [-b, a]] for a pair a +- ib.
    """
    lams = torch.as_tensor(eigenvalues, dtype=torch.complex128)
    if lams.ndim != 1 or lams.numel() == 0 or not bool(torch.isfinite(lams).all()):
        raise ValueError(f"eigenvalues should be a non-empty 1-D list of finite numbers, "
                         f"got {eigenvalues!r}.")
    blocks = []
    for lam in lams.tolist():  # Python complex numbers
        a, b = lam.real, abs(lam.imag)
        blocks.append([[a]] if b == 0 else [[a, b], [-b, a]])  # eigenvalue a, or the pair a +- ib
    H = sum(len(block) for block in blocks)
    W = torch.zeros(H, H, dtype=torch.float64)
    s = 0
    for block in blocks:
        n = len(block)
        W[s:s + n, s:s + n] = torch.tensor(block, dtype=torch.float64)
        if s + n < H:
            W[s + n - 1, s + n] = coupling  # last row of this block -> first column of the next
        s += n
    return W.to(dtype=dtype, device=device)
