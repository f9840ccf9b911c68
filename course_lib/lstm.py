"""An LSTM layer in PyTorch, written from its equations, with the assignments' parameter layout.

Gates in PyTorch's order **i, f, g, o** everywhere (parameters, state dicts, slices):

    a_t = x_t Wx + h_{t-1} Wh + b                                  (N, 4H)
    i = sigmoid(a_t[:, :H])    f = sigmoid(a_t[:, H:2H])           input and forget gates
    g = tanh(a_t[:, 2H:3H])    o = sigmoid(a_t[:, 3H:])            candidate and output gate
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

Shapes (batch first): x (N, T, D), h0 and c0 (N, H), h (N, T, H); parameters Wx (D, 4H),
Wh (H, 4H), b (4H,): the NumPy assignments' layout (row vectors times weights), so their
weights load as they are. ``torch.nn.LSTM`` stores the transposes and two biases;
``to_torch_lstm_state_dict`` and ``from_torch_lstm_state_dict`` are the one place that converts.
Gradients come from autograd: the hand-written backward is the students' work, not the library's.
"""
from collections.abc import Mapping

import torch
from torch import nn
from torch.func import functional_call

from course_lib.layer_utils import check_shape, init_uniform_, read_torch_weights

GATES = ("i", "f", "g", "o")  # the order of the four H-wide blocks of Wx, Wh and b


class LSTM(nn.Module):
    """Single-layer LSTM over a batch of sequences, gates in torch's order i, f, g, o.

    Inputs:
    - input_size: D, the size of each x_t
    - hidden_size: H, the size of each h_t and c_t
    - forget_bias: added to the f block b[H:2H] after the random init (1.0 is a common choice
      that keeps memories early in training); the default 0 leaves the drawn bias alone
    - device, dtype: where and how the parameters are created (default: cpu, float32)
    - generator: torch.Generator (on the CPU) for the initial weights; None uses torch's global one
    Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,), each entry from U(-1/sqrt(H), 1/sqrt(H)) like
    torch.nn.LSTM's weights. torch.nn.LSTM draws two biases from that range and adds them, so its
    effective b has the same mean (0) and a wider, triangular spread; this layer draws one.
    """

    def __init__(self, input_size: int, hidden_size: int, *, forget_bias: float = 0.0,
                 device=None, dtype=None, generator: torch.Generator | None = None):
        super().__init__()
        self.input_size, self.hidden_size, self.forget_bias = input_size, hidden_size, forget_bias
        D, H = input_size, hidden_size
        self.Wx = nn.Parameter(torch.empty(D, 4 * H, device=device, dtype=dtype))
        self.Wh = nn.Parameter(torch.empty(H, 4 * H, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.empty(4 * H, device=device, dtype=dtype))
        self.reset_parameters(generator)
        # fast_forward runs this torch.nn.LSTM with our weights swapped in. It is not a submodule
        # (object.__setattr__): its own weights live on the meta device, hold no memory, and
        # stay out of state_dict() and .to().
        object.__setattr__(self, "_torch_lstm", nn.LSTM(D, H, batch_first=True, device="meta"))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every parameter from U(-1/sqrt(H), 1/sqrt(H)) on the CPU, copy it in, add forget_bias."""
        H = self.hidden_size
        init_uniform_((self.Wx, self.Wh, self.b), H, generator)
        self.b[H:2 * H] += self.forget_bias

    def forward(self, x: torch.Tensor, state: tuple | None = None):
        """Run the LSTM over all T steps, from the equations.

        Inputs:
        - x: input sequences, of shape (N, T, D)
        - state: (h0, c0), each of shape (N, H); None means zeros
        Returns a tuple of:
        - h: hidden states for every step, of shape (N, T, H)
        - (h_T, c_T): hidden and cell state after the last step, each of shape (N, H)
        """
        h_prev, c_prev = self._check_inputs(x, state)
        xWx = x @ self.Wx + self.b  # (N, T, 4H): input term and bias for all steps at once
        hs = []
        # unbind, not xWx[:, t]: indexing makes autograd build an (N, T, 4H) gradient per step,
        # so the backward would cost O(T^2).
        for xWx_t in xWx.unbind(1):
            h_prev, c_prev = self._step(xWx_t, h_prev, c_prev)
            hs.append(h_prev)
        h = torch.stack(hs, dim=1) if hs else x.new_zeros(x.shape[0], 0, self.hidden_size)
        return h, (h_prev, c_prev)

    def _step(self, xWx_t, h_prev, c_prev):
        """One step; xWx_t = x_t Wx + b (N, 4H), h_prev and c_prev (N, H) -> h_next, c_next (N, H)."""
        a = xWx_t + h_prev @ self.Wh  # (N, 4H)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)  # each (N, H), in torch's order
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c_next = f * c_prev + i * g
        h_next = o * torch.tanh(c_next)
        return h_next, c_next

    def fast_forward(self, x: torch.Tensor, state: tuple | None = None):
        """The same function as ``forward``, computed by torch.nn.LSTM (cuDNN on a GPU).

        On the CPU in float32, torch.nn.LSTM runs oneDNN's fused LSTM kernel: at small N and H
        several times faster than ``forward``, whose Python loop costs about what torch's own
        unfused loop does with oneDNN switched off (measured with benchmarks/bench_gated.py).
        Inputs and returns as ``forward``. The weights are converted on every call by
        ``to_torch_lstm_state_dict`` (a copy of D*4H + H*4H + 4H numbers, no cache to go stale)
        and swapped into a torch.nn.LSTM with ``torch.func.functional_call``, so gradients flow
        back to Wx, Wh, b, x, h0 and c0 as through ``forward``.
        """
        h0, c0 = self._check_inputs(x, state)
        if x.shape[1] == 0:  # torch.nn.LSTM refuses empty sequences
            return self.forward(x, (h0, c0))
        weights = to_torch_lstm_state_dict(self.Wx, self.Wh, self.b)
        h, (h_T, c_T) = functional_call(self._torch_lstm, weights, (x, (h0[None], c0[None])))
        return h, (h_T[0], c_T[0])  # torch's states are (1, N, H)

    def _check_inputs(self, x, state):
        """Validate x (N, T, D) and state (h0, c0) (N, H) each; return (h0, c0), zeros for None."""
        check_shape(x, (None, None, self.input_size), "x", "NTD",
                    " The input is batch first; for a single sequence pass x[None].")
        N, H = x.shape[0], self.hidden_size
        if state is None:
            return x.new_zeros(N, H), x.new_zeros(N, H)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"state should be a pair (h0, c0) of (N, H) tensors or None, "
                             f"but is {type(state).__name__}. For zeros pass None.")
        h0, c0 = state
        check_shape(h0, (N, H), "h0", "NH")
        check_shape(c0, (N, H), "c0", "NH")
        return h0, c0

    def extra_repr(self) -> str:
        return f"D={self.input_size}, H={self.hidden_size}, forget_bias={self.forget_bias}"


def to_torch_lstm_state_dict(Wx, Wh, b) -> dict[str, torch.Tensor]:
    """The state dict of a one-layer ``torch.nn.LSTM`` computing the same function.

    Inputs (tensors or arrays), gates in the order i, f, g, o:
    - Wx: input-to-hidden weights, of shape (D, 4H)
    - Wh: hidden-to-hidden weights, of shape (H, 4H)
    - b: bias, of shape (4H,)
    Returns a dict with weight_ih_l0 = Wx.T (4H, D), weight_hh_l0 = Wh.T (4H, H),
    bias_ih_l0 = b (4H,) and bias_hh_l0 = zeros (4H,): torch adds the two biases, so b sits in one.
    Copies, differentiable: gradients flow back to Wx, Wh and b (``fast_forward`` relies on this).
    """
    Wx, Wh, b = (torch.as_tensor(a) for a in (Wx, Wh, b))
    check_shape(Wh, (None, None), "Wh", ["H", "4H"])
    H = Wh.shape[0]
    check_shape(Wh, (H, 4 * H), "Wh", ["H", "4H"])
    check_shape(Wx, (None, 4 * H), "Wx", ["D", "4H"])
    check_shape(b, (4 * H,), "b", ["4H"])
    return {"weight_ih_l0": Wx.T.clone(memory_format=torch.contiguous_format),
            "weight_hh_l0": Wh.T.clone(memory_format=torch.contiguous_format),
            "bias_ih_l0": b.clone(), "bias_hh_l0": torch.zeros_like(b)}


def from_torch_lstm_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Wx, Wh, b from a one-layer ``torch.nn.LSTM`` state dict (or the module itself).

    Inputs:
    - sd: mapping with weight_ih_l0 (4H, D), weight_hh_l0 (4H, H), bias_ih_l0 (4H,), bias_hh_l0 (4H,)
    Returns {'Wx': (D, 4H), 'Wh': (H, 4H), 'b': (4H,)}, with b = bias_ih_l0 + bias_hh_l0 (every
    LSTM gate adds the two, so one bias loses nothing); ``LSTM.load_state_dict`` takes it as it is.
    """
    W_ih, W_hh, b_ih, b_hh = read_torch_weights(sd, "LSTM", n_gates=4)
    return {"Wx": W_ih.T.clone(), "Wh": W_hh.T.clone(), "b": b_ih + b_hh}
