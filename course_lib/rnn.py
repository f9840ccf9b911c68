"""A vanilla RNN layer in PyTorch, written from its equation, with the assignments' parameter layout.

    h_t = tanh(x_t Wx + h_{t-1} Wh + b)

Shapes (batch first): x (N, T, D), h0 (N, H), h (N, T, H); parameters Wx (D, H), Wh (H, H), b (H,).
This is the NumPy assignments' layout (row vectors times weights), so their weights load as they are.
``torch.nn.RNN`` stores the transposes and two biases; ``to_torch_rnn_state_dict`` and
``from_torch_rnn_state_dict`` are the one place that converts between the two.
``RNN.fast_forward`` computes the same function with torch.nn.RNN (cuDNN on a GPU).
Gradients come from autograd: the hand-written backward is the students' work, not the library's.
"""
from collections.abc import Mapping

import torch
from torch import nn
from torch.func import functional_call

from course_lib.layer_utils import check_shape, init_uniform_, read_torch_weights


class RNN(nn.Module):
    """Single-layer tanh RNN over a batch of sequences; h_t = tanh(x_t Wx + h_{t-1} Wh + b).

    Inputs:
    - input_size: D, the size of each x_t
    - hidden_size: H, the size of each h_t
    - device, dtype: where and how the parameters are created (default: cpu, float32)
    - generator: torch.Generator (on the CPU) for the initial weights; None uses torch's global one
    Parameters: Wx (D, H), Wh (H, H), b (H,), each entry from U(-1/sqrt(H), 1/sqrt(H)) like
    torch.nn.RNN's weights (torch.nn.RNN draws two biases from that range and adds them; this layer one).
    """

    def __init__(self, input_size: int, hidden_size: int, *, device=None, dtype=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        D, H = input_size, hidden_size
        self.Wx = nn.Parameter(torch.empty(D, H, device=device, dtype=dtype))
        self.Wh = nn.Parameter(torch.empty(H, H, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.empty(H, device=device, dtype=dtype))
        self.reset_parameters(generator)
        # fast_forward runs this torch.nn.RNN with our weights swapped in. It is not a submodule
        # (object.__setattr__): its own weights live on the meta device, hold no memory, and
        # stay out of state_dict() and .to().
        object.__setattr__(self, "_torch_rnn", nn.RNN(D, H, batch_first=True, device="meta"))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every parameter from U(-1/sqrt(H), 1/sqrt(H)), on the CPU, then copy it in place."""
        init_uniform_((self.Wx, self.Wh, self.b), self.hidden_size, generator)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """Run the RNN over all T steps.

        Inputs:
        - x: input sequences, of shape (N, T, D)
        - h0: initial hidden state, of shape (N, H); None means zeros
        Returns a tuple of:
        - h: hidden states for every step, of shape (N, T, H)
        - h_T: the hidden state after the last step, of shape (N, H)
        """
        h0 = self._check_inputs(x, h0)
        N = x.shape[0]
        xWx = x @ self.Wx  # (N, T, H): the input term for all steps at once
        h_prev, hs = h0, []
        # unbind, not xWx[:, t]: indexing makes autograd build an (N, T, H) gradient per step,
        # so the backward would cost O(T^2).
        for xWx_t in xWx.unbind(1):
            h_prev = torch.tanh(xWx_t + h_prev @ self.Wh + self.b)  # (N, H)
            hs.append(h_prev)
        h = torch.stack(hs, dim=1) if hs else x.new_zeros(N, 0, self.hidden_size)  # (N, T, H)
        return h, h_prev

    def fast_forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """The same function as ``forward``, computed by torch.nn.RNN (cuDNN on a GPU).

        Inputs and returns as ``forward``. The weights are converted on every call by
        ``to_torch_rnn_state_dict`` (a copy of D*H + H*H + H numbers, no cache to go stale)
        and swapped into a torch.nn.RNN with ``torch.func.functional_call``, so gradients flow
        back to Wx, Wh, b, x and h0 as through ``forward``.
        """
        h0 = self._check_inputs(x, h0)
        if x.shape[1] == 0:  # torch.nn.RNN refuses empty sequences
            return self.forward(x, h0)
        weights = to_torch_rnn_state_dict(self.Wx, self.Wh, self.b)
        h, h_T = functional_call(self._torch_rnn, weights, (x, h0[None]))
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
        return f"D={self.input_size}, H={self.hidden_size}"


def to_torch_rnn_state_dict(Wx, Wh, b) -> dict[str, torch.Tensor]:
    """The state dict of a one-layer ``torch.nn.RNN`` computing the same function.

    Inputs (tensors or arrays):
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: bias, of shape (H,)
    Returns a dict with weight_ih_l0 = Wx.T (H, D), weight_hh_l0 = Wh.T (H, H),
    bias_ih_l0 = b (H,) and bias_hh_l0 = zeros (H,): torch adds the two biases, so b sits in one.
    Copies, differentiable: gradients flow back to Wx, Wh and b (``fast_forward`` relies on this).
    """
    Wx, Wh, b = (torch.as_tensor(a) for a in (Wx, Wh, b))
    check_shape(Wx, (None, None), "Wx", "DH")
    H = Wx.shape[1]
    check_shape(Wh, (H, H), "Wh", "HH")
    check_shape(b, (H,), "b", "H")
    return {"weight_ih_l0": Wx.T.clone(memory_format=torch.contiguous_format),
            "weight_hh_l0": Wh.T.clone(memory_format=torch.contiguous_format),
            "bias_ih_l0": b.clone(), "bias_hh_l0": torch.zeros_like(b)}


def from_torch_rnn_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Wx, Wh, b from a one-layer ``torch.nn.RNN`` state dict (or the module itself).

    Inputs:
    - sd: mapping with weight_ih_l0 (H, D), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,)
    Returns {'Wx': (D, H), 'Wh': (H, H), 'b': (H,)}, with b = bias_ih_l0 + bias_hh_l0;
    ``RNN.load_state_dict`` takes it as it is.
    """
    W_ih, W_hh, b_ih, b_hh = read_torch_weights(sd, "RNN", n_gates=1)
    return {"Wx": W_ih.T.clone(), "Wh": W_hh.T.clone(), "b": b_ih + b_hh}
