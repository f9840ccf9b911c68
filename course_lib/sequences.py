"""Batches of sequences of different lengths: padding, masks, the last valid state, masked runs.

Shapes (batch first, as on the Notation page): a batch of N sequences padded to T steps is
x (N, T, D); lengths (N,) holds each sequence's true length T_i (1 <= T_i <= T); the mask
m (N, T) is True at the valid steps t < T_i; hidden states are h (N, T, H).

A state must stop changing once its sequence has ended. ``masked_forward`` runs a course_lib
RNN, LSTM or GRU one step at a time and freezes the state after the end,

    h_t = m_t * h_new + (1 - m_t) * h_{t-1},

which is what ``torch.nn.utils.rnn.pack_padded_sequence`` does for torch.nn's layers. Everything
here works on any device; lengths may live on the CPU (torch's packing wants them there).
"""
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from course_lib.gru import GRU
from course_lib.lstm import LSTM
from course_lib.layer_utils import check_shape
from course_lib.rnn import RNN


def pad_sequences(seqs: Sequence, pad_value: float = 0.0):
    """Stack sequences of different lengths into one zero-padded batch.

    Inputs:
    - seqs: N arrays or tensors, the i-th of shape (T_i, D), T_i >= 1
    - pad_value: the value written at the padded steps
    Returns a tuple of:
    - x: tensor of shape (N, T, D) with T = max_i T_i; x[i, :T_i] = seqs[i], the rest pad_value
      (dtype and device of the first tensor; NumPy arrays become tensors on the CPU)
    - lengths: int64 tensor of shape (N,) on the CPU, lengths[i] = T_i
    """
    tensors = [torch.as_tensor(s) for s in seqs]
    if not tensors:
        raise ValueError("pad_sequences needs at least one sequence, but got none.")
    bad = [tuple(s.shape) for s in tensors if s.dim() != 2 or s.shape[0] == 0]
    if bad or len({s.shape[1] for s in tensors}) != 1:
        raise ValueError(f"every sequence should have shape (T_i, D) with T_i >= 1 and one D, "
                         f"but the shapes are {[tuple(s.shape) for s in tensors]}.")
    lengths = torch.tensor([s.shape[0] for s in tensors], dtype=torch.int64)
    first = tensors[0]
    x = first.new_full((len(tensors), int(lengths.max()), first.shape[1]), pad_value)  # (N, T, D)
    for i, s in enumerate(tensors):
        x[i, :s.shape[0]] = s.to(x)
    return x, lengths


def length_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """The mask of valid steps.

    Inputs:
    - lengths: integer tensor of shape (N,)
    - T: the padded length
    Returns a bool tensor m of shape (N, T), on the device of lengths: m[i, t] = t < lengths[i].
    """
    lengths = torch.as_tensor(lengths)
    return torch.arange(T, device=lengths.device) < lengths[:, None]


def last_valid(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence's state at its own last step, h_{T_i}.

    Inputs:
    - h: states of shape (N, T, H)
    - lengths: integer tensor of shape (N,), each in 1..T
    Returns a tensor of shape (N, H) whose row i is h[i, lengths[i] - 1].
    """
    lengths = torch.as_tensor(lengths, device=h.device)
    if lengths.min() < 1 or lengths.max() > h.shape[1]:
        raise ValueError(f"lengths should lie in 1..T = 1..{h.shape[1]}, but range from "
                         f"{int(lengths.min())} to {int(lengths.max())}.")
    return h[torch.arange(h.shape[0], device=h.device), lengths - 1]


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the valid part of every sequence and leave the padding where it is.

    Inputs:
    - x: padded batch of shape (N, T, ...)
    - lengths: integer tensor of shape (N,)
    Returns a tensor y of the shape of x with y[i, t] = x[i, T_i - 1 - t] for t < T_i and
    y[i, t] = x[i, t] after. Applying it twice gives x back.
    """
    N, T = x.shape[:2]
    lengths = torch.as_tensor(lengths, device=x.device)
    t = torch.arange(T, device=x.device)
    src = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (N, T)
    return x[torch.arange(N, device=x.device)[:, None], src]


def masked_forward(layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor, state=None):
    """Run a course_lib ``RNN``, ``LSTM`` or ``GRU`` over a padded batch, frozen after each end.

    At every step the layer computes its new state from the equations, and the mask keeps the
    old one where the sequence has ended: h_t = m_t * h_new + (1 - m_t) * h_{t-1} (and the same
    for the LSTM's c_t). The result equals running each sequence alone, and equals torch.nn's
    layer on a ``pack_padded_sequence`` batch.

    Inputs:
    - layer: a course_lib.rnn.RNN, course_lib.lstm.LSTM or course_lib.gru.GRU
    - x: padded inputs of shape (N, T, D)
    - lengths: integer tensor of shape (N,), each in 1..T
    - state: h0 (N, H), or (h0, c0) for the LSTM; None means zeros
    Returns a tuple of:
    - h: states of shape (N, T, H), zero at the padded steps (like ``pad_packed_sequence``)
    - h_T: each sequence's last valid state, of shape (N, H); (h_T, c_T) for the LSTM
    """
    N, T, _ = x.shape
    m = length_mask(torch.as_tensor(lengths, device=x.device), T).to(x.dtype)[..., None]  # (N, T, 1)
    if isinstance(layer, LSTM):
        h_prev, c_prev = layer._check_inputs(x, state)
        xWx = x @ layer.Wx + layer.b  # (N, T, 4H)
    elif isinstance(layer, GRU):
        h_prev, c_prev = layer._check_inputs(x, state), None
        xWx = x @ layer.Wx + layer.b_x  # (N, T, 3H)
    elif isinstance(layer, RNN):
        check_shape(x, (None, None, layer.input_size), "x", "NTD")
        h_prev, c_prev = (x.new_zeros(N, layer.hidden_size) if state is None else state), None
        check_shape(h_prev, (N, layer.hidden_size), "h0", "NH")
        xWx = x @ layer.Wx + layer.b  # (N, T, H)
    else:
        raise TypeError(f"masked_forward runs course_lib's RNN, LSTM or GRU, "
                        f"not {type(layer).__name__}. For torch.nn layers use pack_padded_sequence.")
    hs = []
    for xWx_t, m_t in zip(xWx.unbind(1), m.unbind(1)):  # (N, G*H), (N, 1)
        if isinstance(layer, LSTM):
            h_new, c_new = layer._step(xWx_t, h_prev, c_prev)
            c_prev = m_t * c_new + (1 - m_t) * c_prev
        elif isinstance(layer, GRU):
            h_new = layer._step(xWx_t, h_prev)
        else:
            h_new = torch.tanh(xWx_t + h_prev @ layer.Wh)
        h_prev = m_t * h_new + (1 - m_t) * h_prev  # frozen once the sequence has ended
        hs.append(m_t * h_prev)
    h = torch.stack(hs, dim=1)  # (N, T, H)
    return h, ((h_prev, c_prev) if isinstance(layer, LSTM) else h_prev)


class SequenceClassifier(nn.Module):
    """Many-to-one classifier: a torch.nn.GRU (forward or bidirectional) and a linear layer.

    The features are the GRU's final states h_n: (N, H) forward only, or the forward and the
    backward final states side by side, (N, 2H). With ``packed=True`` the padded batch is
    packed, so the forward state stops at each T_i and the backward direction starts there;
    with ``packed=False`` the GRU runs over the padding as if it were input.

    Inputs:
    - input_size: D;  hidden_size: H;  n_classes: the number of labels
    - bidirectional: add the backward direction
    - packed: pack the batch by its lengths before the GRU
    - generator: torch.Generator for the initial weights (None: torch's global one)
    """

    def __init__(self, input_size: int, hidden_size: int, n_classes: int, *,
                 bidirectional: bool = False, packed: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.packed = packed
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.out = nn.Linear(hidden_size * (2 if bidirectional else 1), n_classes)
        k = 1.0 / np.sqrt(hidden_size)
        with torch.no_grad():  # every parameter from U(-k, k), torch.nn.GRU's init, from generator
            for p in self.parameters():
                p.copy_(torch.empty(p.shape).uniform_(-k, k, generator=generator))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (N, T, D) padded, lengths (N,) -> scores (N, n_classes)."""
        if self.packed:
            x = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(x)  # (directions, N, H): h_n[0] forward, h_n[1] backward
        return self.out(torch.cat(list(h_n), dim=1))  # (N, H) or (N, 2H) -> (N, n_classes)


def first_token_task(n: int, *, seed: int, min_len: int = 5, max_len: int = 40,
                     n_classes: int = 4, vocab: int = 8):
    """A classification task whose answer sits at the START of each sequence.

    Each sequence is T_i ~ U{min_len..max_len} one-hot tokens drawn uniformly from ``vocab``
    symbols, except that its first token is one of the first ``n_classes`` symbols; the label
    is that first token. Everything after it is noise that a forward RNN must carry the label
    through; the backward direction of a bidirectional RNN reads it last.

    Inputs:
    - n: number of sequences;  seed: the seed of the generator (same seed, same data)
    - min_len, max_len: range of the lengths T_i;  n_classes <= vocab;  vocab: V = D
    Returns a tuple of:
    - seqs: list of n float32 arrays, the i-th of shape (T_i, V), one-hot rows
    - labels: int64 array of shape (n,), values in 0..n_classes-1
    """
    if not 1 <= n_classes <= vocab or not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= n_classes <= vocab and 1 <= min_len <= max_len, got "
                         f"n_classes={n_classes}, vocab={vocab}, min_len={min_len}, max_len={max_len}.")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    labels = rng.integers(0, n_classes, size=n)
    eye = np.eye(vocab, dtype=np.float32)
    seqs = []
    for T_i, label in zip(lengths, labels):
        tokens = rng.integers(0, vocab, size=T_i)
        tokens[0] = label
        seqs.append(eye[tokens])  # (T_i, V)
    return seqs, labels.astype(np.int64)
