"""Diagonal linear recurrences (the LRU of Orvieto et al. 2023): a loop, a parallel scan, an FFT
convolution, the stable parametrisation, and a layer built on them.

The vanilla RNN of Chapter 1 without its tanh, h_t = h_{t-1} W_h + x_t W_x, with W_h diagonalised:
W_h = V diag(lam) V^-1 (complex in general), and in the basis h V the recurrence splits into H
scalar ones (the SSM papers write A, B, C, D for W_h, W_x, W_y, W_skip):

    h_t = lam * h_{t-1} + x_t W_x                  u_t = x_t W_x, so h_t = lam * h_{t-1} + u_t
    y_t = Re(h_t W_y) + x_t W_skip

Shapes (batch first, row vectors as in the rest of the course): x (N, T, D), u and h (N, T, H),
h0 (N, H), y (N, T, O); parameters lam (H,) complex, W_x (D, H) complex, W_y (H, O) complex,
W_skip (D, O) real. Letters: N batch, T steps, D input, H state, O output.

Three ways to compute the same h from lam, u and h0:
- ``linear_recurrence_loop`` (torch) and ``linear_recurrence_loop_np`` (NumPy): T sequential steps.
  Names: the NumPy twin of a torch function carries the suffix ``_np``; torch functions have none.
- ``parallel_scan``: the step h -> a * h + b is an affine map, and composing such maps is
  associative, so all T prefixes come in ceil(log2 T) vectorised levels.
- ``fft_convolution``: with lam fixed in time, h_t = sum_k lam^k u_{t-k} (kernel lam^k),
  a causal convolution computed with torch.fft.
lam = exp(-exp(nu_log) + i exp(omega_log)) keeps |lam| < 1 for every real nu_log (``lru_lambda``).
Everything runs on the device of its inputs; gradients come from autograd.
"""
import math

import numpy as np
import torch
from torch import nn

from course_lib.layer_utils import check_shape

MODES = ("scan", "loop", "fft")  # the three ways LinearRecurrentLayer can compute h


def _check_recurrence(lam, u, h0, time_varying: bool = True) -> None:
    """Raise ValueError unless u is (N, T, H), lam is (H,) (or (N, T, H)) and h0 is (N, H) or None."""
    check_shape(u, (None, None, None), "u", "NTH", " u = x W_x is batch first; for one sequence pass u[None].")
    N, T, H = u.shape
    if lam.ndim == 3 and time_varying:
        check_shape(lam, (N, T, H), "lam", "NTH", " A time-varying lam matches u; a fixed one is (H,).")
    elif time_varying:
        check_shape(lam, (H,), "lam", "H", " lam holds the diagonal of A, one entry per state.")
    else:
        check_shape(lam, (H,), "lam", "H", " The convolution view needs one lam for all steps; "
                    "for a time-varying lam use parallel_scan.")
    if h0 is not None:
        check_shape(h0, (N, H), "h0", "NH")


def linear_recurrence_loop_np(lam: np.ndarray, u: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
    """The recurrence h_t = lam * h_{t-1} + u_t, one step at a time, in NumPy.

    Inputs:
    - lam: diagonal of A, of shape (H,), or (N, T, H) for a different lam at every step
    - u: driving input u_t = x_t W_x, of shape (N, T, H)
    - h0: initial state (the state before step 0), of shape (N, H); None means zeros
    Returns:
    - h: states for every step, of shape (N, T, H), dtype the common type of lam, u and h0
    """
    _check_recurrence(lam, u, h0)
    lam_t = np.broadcast_to(lam, u.shape)  # (N, T, H)
    dtype = np.result_type(lam, u, *(() if h0 is None else (h0,)))
    h = np.empty(u.shape, dtype=dtype)
    h_prev = np.zeros((u.shape[0], u.shape[2]), dtype=dtype) if h0 is None else h0
    for t in range(u.shape[1]):
        h_prev = lam_t[:, t] * h_prev + u[:, t]  # (N, H)
        h[:, t] = h_prev
    return h


def linear_recurrence_loop(lam: torch.Tensor, u: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The recurrence h_t = lam * h_{t-1} + u_t, one step at a time, in torch.

    Inputs and returns as ``linear_recurrence_loop_np``, as tensors (any device, differentiable).
    """
    _check_recurrence(lam, u, h0)
    lam_t = torch.broadcast_to(lam, u.shape)  # (N, T, H)
    h_prev = u.new_zeros((), dtype=torch.promote_types(lam.dtype, u.dtype)) if h0 is None else h0
    hs = []
    # unbind, not u[:, t]: indexing makes the backward cost O(T^2).
    for lam_step, u_t in zip(lam_t.unbind(1), u.unbind(1)):
        h_prev = lam_step * h_prev + u_t  # (N, H)
        hs.append(h_prev)
    if not hs:
        return u.new_zeros(u.shape, dtype=torch.promote_types(lam.dtype, u.dtype))
    return torch.stack(hs, dim=1)


def parallel_scan(lam: torch.Tensor, u: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The recurrence h_t = lam * h_{t-1} + u_t by a parallel prefix scan (recursive doubling).

    Step t is the map (a_t, b_t) = (lam, u_t), with h0 folded into the first: b_0 = lam * h0 + u_0.
    After level k, position t holds the composition of steps max(0, t - 2^k + 1)..t; after
    ceil(log2 T) levels it holds all of 0..t, and its b is h_t. Every level is one vectorised
    composition over N, T and H (O(T log T) work, log2 T depth), out of place, so autograd works.
    Composing (a1, b1) then (a2, b2) gives (a2 * a1, a2 * b1 + b2): an associative operation.

    Inputs and returns as ``linear_recurrence_loop`` (lam (H,) or (N, T, H), any T >= 0).
    """
    _check_recurrence(lam, u, h0)
    a = torch.broadcast_to(lam, u.shape)  # (N, T, H)
    b = u if h0 is None else torch.cat([a[:, :1] * h0[:, None] + u[:, :1], u[:, 1:]], dim=1)
    b = b.to(torch.promote_types(a.dtype, b.dtype))  # complex once lam is
    d = 1
    while d < u.shape[1]:
        # position t >= d composes its map after the one ending at t - d; positions < d are done
        a_new, b_new = a[:, d:] * a[:, :-d], a[:, d:] * b[:, :-d] + b[:, d:]
        a, b = torch.cat([a[:, :d], a_new], dim=1), torch.cat([b[:, :d], b_new], dim=1)
        d *= 2
    return b


def convolution_kernel(lam: torch.Tensor, T: int) -> torch.Tensor:
    """The kernel lam^k, k = 0..T-1, of the convolution view h_t = sum_k lam^k u_{t-k}.

    Inputs:
    - lam: diagonal of A, of shape (H,)
    - T: number of steps
    Returns the kernel, of shape (T, H) (row k is lam^k), by a running product, on lam's device.
    """
    check_shape(lam, (None,), "lam", "H", " The convolution view needs one lam for all steps.")
    ones = torch.ones_like(lam)[None]  # (1, H): lam^0
    if T <= 1:
        return ones[:T]
    return torch.cat([ones, torch.cumprod(lam.expand(T - 1, -1), dim=0)], dim=0)  # (T, H)


def fft_convolution(lam: torch.Tensor, u: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The recurrence h_t = lam * h_{t-1} + u_t as a causal convolution, h_t = sum_k lam^k u_{t-k},
    plus lam^(t+1) h0, computed with torch.fft.

    Both signals are zero padded to length 2T before the FFT, so the product of the transforms
    is the linear convolution (a circular one of length T would wrap the tail onto the start).
    Inputs and returns as ``linear_recurrence_loop``, except that lam must be (H,).
    """
    _check_recurrence(lam, u, h0, time_varying=False)
    T = u.shape[1]
    if T == 0:
        return linear_recurrence_loop(lam, u, h0)  # empty; torch.fft refuses length 0
    kernel = convolution_kernel(lam, T)  # (T, H)
    dtype = torch.promote_types(torch.promote_types(lam.dtype, u.dtype), torch.complex64)
    U_f = torch.fft.fft(u.to(dtype), n=2 * T, dim=1)  # (N, 2T, H)
    kernel_f = torch.fft.fft(kernel.to(dtype), n=2 * T, dim=0)  # (2T, H)
    h = torch.fft.ifft(U_f * kernel_f, dim=1)[:, :T]  # (N, T, H)
    if h0 is not None:
        h = h + kernel * (lam * h0)[:, None]  # lam^(t+1) h0
    return h if lam.is_complex() or u.is_complex() else h.real  # real in, real out


def lru_lambda(nu_log: torch.Tensor, omega_log: torch.Tensor) -> torch.Tensor:
    """lam = exp(-exp(nu_log) + i exp(omega_log)): |lam| = exp(-exp(nu_log)) lies in (0, 1) for any
    real nu_log (in floating point: [0, 1], 1 only once exp(nu_log) is below the rounding of 1).

    Inputs: nu_log, omega_log, real, of shape (H,). Returns lam, complex, of shape (H,).
    """
    return torch.polar(torch.exp(-torch.exp(nu_log)), torch.exp(omega_log))


def lru_init(H: int, r_min: float = 0.0, r_max: float = 1.0, max_phase: float = 2 * math.pi,
             generator: torch.Generator | None = None, dtype=torch.float32):
    """Draw the LRU's eigenvalues uniformly on the ring r_min <= |lam| <= r_max (uniform in area),
    phases uniformly in [0, max_phase], as in Orvieto et al. (2023):

        nu_log = log(-0.5 log(U1 (r_max^2 - r_min^2) + r_min^2)),  omega_log = log(max_phase U2)

    Inputs:
    - H: number of states
    - r_min, r_max: the ring's radii, 0 <= r_min < r_max <= 1
    - max_phase: largest phase omega (2 pi covers the whole circle)
    - generator: torch.Generator on the CPU; None uses torch's global one
    - dtype: real dtype of the returned tensors
    Returns a tuple (nu_log, omega_log, beta_log), each of shape (H,) on the CPU, where
    beta = exp(beta_log) = sqrt(1 - |lam|^2) is the LRU's input normalisation.
    """
    if not 0 <= r_min < r_max <= 1:
        raise ValueError(f"lru_init needs 0 <= r_min < r_max <= 1, but got r_min={r_min}, r_max={r_max}. "
                         f"|lam| must stay below 1 for the recurrence to be stable.")
    U1 = torch.rand(H, generator=generator, dtype=torch.float64)  # in [0, 1)
    U2 = 1 - torch.rand(H, generator=generator, dtype=torch.float64)  # in (0, 1]: log(omega) finite
    r2 = U1 * (r_max ** 2 - r_min ** 2) + r_min ** 2  # |lam|^2, uniform in [r_min^2, r_max^2)
    nu_log = torch.log(-0.5 * torch.log(r2))
    omega_log = torch.log(max_phase * U2)
    beta_log = 0.5 * torch.log1p(-r2)
    return tuple(v.to(dtype) for v in (nu_log, omega_log, beta_log))


class LinearRecurrentLayer(nn.Module):
    """An LRU layer: y_t = Re(h_t W_y) + x_t W_skip with h_t = lam * h_{t-1} + (x_t W_x) * beta.

    Inputs:
    - input_size: D; output_size: O (default D); state_size: H
    - r_min, r_max, max_phase: the ring and phases of ``lru_init``
    - beta_norm: multiply x_t W_x by beta = sqrt(1 - |lam|^2) (trainable, as beta_log)
    - skip: include the real skip term x_t W_skip
    - device, dtype: where and how the parameters are created (real dtype; lam is its complex twin)
    - generator: torch.Generator (on the CPU) for the initial values
    Parameters: nu_log, omega_log (H,) (lam = ``lru_lambda(nu_log, omega_log)``), beta_log (H,),
    Wx_re, Wx_im (D, H) from N(0, 1/(2D)), Wy_re, Wy_im (H, O) from N(0, 1/H),
    W_skip (D, O) from N(0, 1/D).
    """

    def __init__(self, input_size: int, state_size: int, output_size: int | None = None, *,
                 r_min: float = 0.0, r_max: float = 1.0, max_phase: float = 2 * math.pi,
                 beta_norm: bool = True, skip: bool = True, device=None, dtype=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        D, H, O = input_size, state_size, output_size or input_size
        self.input_size, self.state_size, self.output_size = D, H, O
        self.beta_norm = beta_norm
        dtype = dtype or torch.get_default_dtype()
        new = dict(device=device, dtype=dtype)
        nu_log, omega_log, beta_log = lru_init(H, r_min, r_max, max_phase, generator, dtype)
        self.nu_log, self.omega_log = nn.Parameter(nu_log.to(device)), nn.Parameter(omega_log.to(device))
        self.register_parameter("beta_log", nn.Parameter(beta_log.to(device)) if beta_norm else None)

        def draw(*shape, fan):  # N(0, 1/fan), drawn on the CPU so a CPU generator reproduces it anywhere
            return nn.Parameter((torch.randn(*shape, generator=generator, dtype=dtype) / math.sqrt(fan)).to(**new))
        self.Wx_re, self.Wx_im = draw(D, H, fan=2 * D), draw(D, H, fan=2 * D)
        self.Wy_re, self.Wy_im = draw(H, O, fan=H), draw(H, O, fan=H)
        self.register_parameter("W_skip", draw(D, O, fan=D) if skip else None)

    def lam(self) -> torch.Tensor:
        """The diagonal of A, complex, of shape (H,)."""
        return lru_lambda(self.nu_log, self.omega_log)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, mode: str = "scan") -> torch.Tensor:
        """Run the layer over all T steps.

        Inputs:
        - x: input sequences, real, of shape (N, T, D)
        - h0: initial state, complex, of shape (N, H); None means zeros
        - mode: "scan" (``parallel_scan``), "loop" (``linear_recurrence_loop``) or "fft"
          (``fft_convolution``): the same function, computed three ways
        Returns:
        - y: outputs, real, of shape (N, T, O)
        """
        if mode not in MODES:
            raise ValueError(f"mode should be one of {MODES}, but is {mode!r}.")
        check_shape(x, (None, None, self.input_size), "x", "NTD",
                    " The input is batch first; for a single sequence pass x[None].")
        u = torch.complex(x @ self.Wx_re, x @ self.Wx_im)  # (N, T, H) = x W_x
        if self.beta_norm:
            u = u * torch.exp(self.beta_log)
        run = {"scan": parallel_scan, "loop": linear_recurrence_loop, "fft": fft_convolution}[mode]
        h = run(self.lam(), u, h0)  # (N, T, H)
        y = h.real @ self.Wy_re - h.imag @ self.Wy_im  # (N, T, O) = Re(h W_y)
        return y if self.W_skip is None else y + x @ self.W_skip

    def step(self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None):
        """One step, for generation: x_t (N, D) real, h_prev (N, H) complex (None: zeros) ->
        (y_t (N, O), h_t (N, H)). The state stays H complex numbers however many steps came before."""
        check_shape(x_t, (None, self.input_size), "x_t", "ND")
        u = torch.complex(x_t @ self.Wx_re, x_t @ self.Wx_im)  # (N, H) = x_t W_x
        if self.beta_norm:
            u = u * torch.exp(self.beta_log)
        h_t = u if h_prev is None else self.lam() * h_prev + u  # (N, H)
        y_t = h_t.real @ self.Wy_re - h_t.imag @ self.Wy_im  # (N, O) = Re(h_t W_y)
        return (y_t if self.W_skip is None else y_t + x_t @ self.W_skip), h_t

    def extra_repr(self) -> str:
        return f"D={self.input_size}, H={self.state_size}, O={self.output_size}, beta_norm={self.beta_norm}"
