"""A GRU layer in PyTorch, written from its equations, with the assignments' parameter layout.

Gates in PyTorch's order **r, z, n**; Wx, Wh, b_x and b_h each hold three H-wide blocks
(Wx_r = Wx[:, :H], Wx_z = Wx[:, H:2H], Wx_n = Wx[:, 2H:], and so on):

    r = sigmoid(x_t Wx_r + b_x_r + h_{t-1} Wh_r + b_h_r)           reset gate
    z = sigmoid(x_t Wx_z + b_x_z + h_{t-1} Wh_z + b_h_z)           update gate
    n = tanh(x_t Wx_n + b_x_n + r * (h_{t-1} Wh_n + b_h_n))        candidate (torch, cuDNN)
    h_t = (1 - z) * n + z * h_{t-1}

That is torch.nn.GRU's "reset after" form: the reset multiplies h_{t-1} Wh_n + b_h_n. The
lectures (Cho et al. 2014) reset h_{t-1} *before* the product, a different function:

    n = tanh(x_t Wx_n + b_x_n + (r * h_{t-1}) Wh_n + b_h_n)        GRU(..., reset_after=False)

The two agree when r = 1, and at h_{t-1} = 0 only if b_h_n = 0. Because b_h_n sits inside
r * (...), the two biases are not interchangeable: b_x and b_h stay separate, as in torch.

Shapes (batch first): x (N, T, D), h0 (N, H), h (N, T, H); parameters Wx (D, 3H), Wh (H, 3H),
b_x (3H,), b_h (3H,). ``to_torch_gru_state_dict`` and ``from_torch_gru_state_dict`` are the
one place that converts to and from ``torch.nn.GRU`` (which stores the transposes).
Gradients come from autograd: the hand-written backward is the students' work, not the library's.
"""
from collections.abc import Mapping

import torch
from torch import nn
from torch.func import functional_call

from course_lib.layer_utils import check_shape, init_uniform_, read_torch_weights

GATES = ("r", "z", "n")  # the order of the three H-wide blocks of Wx, Wh, b_x and b_h


class GRU(nn.Module):
    """Single-layer GRU over a batch of sequences, gates in torch's order r, z, n.

    Inputs:
    - input_size: D, the size of each x_t
    - hidden_size: H, the size of each h_t
    - reset_after: True (default) is torch.nn.GRU's form, n = tanh(.. + r * (h Wh_n + b_h_n));
      False is the lectures' form, n = tanh(.. + (r * h) Wh_n + b_h_n), which torch lacks
    - device, dtype: where and how the parameters are created (default: cpu, float32)
    - generator: torch.Generator (on the CPU) for the initial weights; None uses torch's global one
    Parameters: Wx (D, 3H), Wh (H, 3H), b_x (3H,), b_h (3H,), drawn like torch.nn.GRU:
    U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(self, input_size: int, hidden_size: int, *, reset_after: bool = True,
                 device=None, dtype=None, generator: torch.Generator | None = None):
        super().__init__()
        self.input_size, self.hidden_size, self.reset_after = input_size, hidden_size, reset_after
        D, H = input_size, hidden_size
        self.Wx = nn.Parameter(torch.empty(D, 3 * H, device=device, dtype=dtype))
        self.Wh = nn.Parameter(torch.empty(H, 3 * H, device=device, dtype=dtype))
        self.b_x = nn.Parameter(torch.empty(3 * H, device=device, dtype=dtype))
        self.b_h = nn.Parameter(torch.empty(3 * H, device=device, dtype=dtype))
        self.reset_parameters(generator)
        # fast_forward runs this torch.nn.GRU with our weights swapped in; not a submodule: its
        # own weights live on the meta device and stay out of state_dict() and .to().
        object.__setattr__(self, "_torch_gru", nn.GRU(D, H, batch_first=True, device="meta"))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every parameter from U(-1/sqrt(H), 1/sqrt(H)), on the CPU, then copy it in place."""
        init_uniform_((self.Wx, self.Wh, self.b_x, self.b_h), self.hidden_size, generator)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """Run the GRU over all T steps, from the equations.

        Inputs:
        - x: input sequences, of shape (N, T, D)
        - h0: initial hidden state, of shape (N, H); None means zeros
        Returns a tuple of:
        - h: hidden states for every step, of shape (N, T, H)
        - h_T: the hidden state after the last step, of shape (N, H)
        """
        h_prev, H = self._check_inputs(x, h0), self.hidden_size
        xWx = x @ self.Wx + self.b_x  # (N, T, 3H): input term and its bias for all steps at once
        if self.reset_after:
            step = self._step
        else:
            # Split Wh and b_h once, here: slicing them inside the step would add a zero-padded
            # (H, 3H) gradient per step to the backward (1.4-2x slower on the CPU).
            (Wh_rz, Wh_n), (b_h_rz, b_h_n) = self.Wh.split(2 * H, dim=1), self.b_h.split(2 * H)
            def step(xWx_t, h_prev):
                return self._step_reset_before(xWx_t, h_prev, Wh_rz, Wh_n, b_h_rz, b_h_n)
        hs = []
        # unbind, not xWx[:, t]: indexing makes the backward cost O(T^2).
        for xWx_t in xWx.unbind(1):
            h_prev = step(xWx_t, h_prev)
            hs.append(h_prev)
        h = torch.stack(hs, dim=1) if hs else x.new_zeros(x.shape[0], 0, self.hidden_size)
        return h, h_prev

    def _step(self, xWx_t, h_prev):
        """One step of torch's form; xWx_t = x_t Wx + b_x (N, 3H), h_prev (N, H) -> h_next (N, H)."""
        ax_r, ax_z, ax_n = xWx_t.chunk(3, dim=1)  # each (N, H)
        ah_r, ah_z, ah_n = (h_prev @ self.Wh + self.b_h).chunk(3, dim=1)  # each (N, H)
        r, z = torch.sigmoid(ax_r + ah_r), torch.sigmoid(ax_z + ah_z)
        n = torch.tanh(ax_n + r * ah_n)
        return (1 - z) * n + z * h_prev

    def _step_reset_before(self, xWx_t, h_prev, Wh_rz, Wh_n, b_h_rz, b_h_n):
        """One step of the lectures' form; as ``_step``, given Wh = [Wh_rz | Wh_n] (H, 2H | H)
        and b_h = [b_h_rz | b_h_n] (2H | H)."""
        ax_r, ax_z, ax_n = xWx_t.chunk(3, dim=1)  # each (N, H)
        ah_r, ah_z = (h_prev @ Wh_rz + b_h_rz).chunk(2, dim=1)  # each (N, H)
        r, z = torch.sigmoid(ax_r + ah_r), torch.sigmoid(ax_z + ah_z)
        n = torch.tanh(ax_n + (r * h_prev) @ Wh_n + b_h_n)
        return (1 - z) * n + z * h_prev

    def fast_forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """The same function as ``forward``, computed by torch.nn.GRU (cuDNN on a GPU).

        Inputs and returns as ``forward``; only for reset_after=True (torch has no other form).
        The weights are converted on every call by ``to_torch_gru_state_dict`` (no cache to go
        stale) and swapped into a torch.nn.GRU with ``torch.func.functional_call``, so
        gradients flow back to Wx, Wh, b_x, b_h, x and h0 as through ``forward``.
        """
        if not self.reset_after:
            raise ValueError("fast_forward runs torch.nn.GRU, which computes only the reset-after "
                             "form, but this GRU has reset_after=False (the lectures' form). "
                             "Use forward(), or build the GRU with reset_after=True.")
        h0 = self._check_inputs(x, h0)
        if x.shape[1] == 0:  # torch.nn.GRU refuses empty sequences
            return self.forward(x, h0)
        weights = to_torch_gru_state_dict(self.Wx, self.Wh, self.b_x, self.b_h)
        h, h_T = functional_call(self._torch_gru, weights, (x, h0[None]))
        return h, h_T[0]  # torch's state is (1, N, H)

    def _check_inputs(self, x, h0):
        """Validate x (N, T, D) and h0 (N, H); return h0, zeros for None."""
        check_shape(x, (None, None, self.input_size), "x", "NTD",
                    " The input is batch first; for a single sequence pass x[None].")
        N, H = x.shape[0], self.hidden_size
        if h0 is None:
            return x.new_zeros(N, H)
        check_shape(h0, (N, H), "h0", "NH")
        return h0

    def extra_repr(self) -> str:
        return f"D={self.input_size}, H={self.hidden_size}, reset_after={self.reset_after}"


def to_torch_gru_state_dict(Wx, Wh, b_x, b_h) -> dict[str, torch.Tensor]:
    """The state dict of a one-layer ``torch.nn.GRU`` computing the same function (reset after).

    Inputs (tensors or arrays), gates in the order r, z, n:
    - Wx: input-to-hidden weights, of shape (D, 3H)
    - Wh: hidden-to-hidden weights, of shape (H, 3H)
    - b_x, b_h: input-side and hidden-side biases, each of shape (3H,)
    Returns a dict with weight_ih_l0 = Wx.T (3H, D), weight_hh_l0 = Wh.T (3H, H),
    bias_ih_l0 = b_x and bias_hh_l0 = b_h. Copies, differentiable (``fast_forward`` relies on this).
    """
    Wx, Wh, b_x, b_h = (torch.as_tensor(a) for a in (Wx, Wh, b_x, b_h))
    check_shape(Wh, (None, None), "Wh", ["H", "3H"])
    H = Wh.shape[0]
    check_shape(Wh, (H, 3 * H), "Wh", ["H", "3H"])
    check_shape(Wx, (None, 3 * H), "Wx", ["D", "3H"])
    check_shape(b_x, (3 * H,), "b_x", ["3H"])
    check_shape(b_h, (3 * H,), "b_h", ["3H"])
    return {"weight_ih_l0": Wx.T.clone(memory_format=torch.contiguous_format),
            "weight_hh_l0": Wh.T.clone(memory_format=torch.contiguous_format),
            "bias_ih_l0": b_x.clone(), "bias_hh_l0": b_h.clone()}


def from_torch_gru_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Wx, Wh, b_x, b_h from a one-layer ``torch.nn.GRU`` state dict (or the module itself).

    Inputs:
    - sd: mapping with weight_ih_l0 (3H, D), weight_hh_l0 (3H, H), bias_ih_l0 (3H,), bias_hh_l0 (3H,)
    Returns {'Wx': (D, 3H), 'Wh': (H, 3H), 'b_x': (3H,), 'b_h': (3H,)}; ``GRU.load_state_dict``
    takes it as it is (with reset_after=True the GRU then computes torch's function).
    """
    W_ih, W_hh, b_ih, b_hh = read_torch_weights(sd, "GRU", n_gates=3)
    return {"Wx": W_ih.T.clone(), "Wh": W_hh.T.clone(), "b_x": b_ih.clone(), "b_h": b_hh.clone()}
