"""A character-level language model: embedding -> recurrent layer -> projection to the vocabulary.

    x_t = W_embed[id_t],  h_t = tanh(x_t Wx + h_{t-1} Wh + b),  scores_t = h_t W_vocab + b_vocab

with the vanilla RNN by default; ``cell="lstm"`` or ``cell="gru"`` puts course_lib's LSTM or GRU in
its place (the LSTM's state is the pair (h, c)). Shapes: ids (N, T), x (N, T, D), h (N, T, H),
scores (N, T, V); W_embed (V, D), W_vocab (H, V). ``train`` runs truncated backpropagation through
time (TBPTT): the text is cut into N parallel streams, read T steps at a time, and the state is
carried from chunk to chunk but detached at each border, so gradients reach back at most T steps.
"""
import math
import numbers
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.device import get_device
from course_lib.gru import GRU
from course_lib.lstm import LSTM
from course_lib.progress import progress_bar
from course_lib.rnn import RNN

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}  # the recurrent layers CharRNN can hold


def detach_state(state):
    """The state with every tensor detached from its graph: a tensor, a tuple of them such as
    the LSTM's (h, c), or None."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


class CharRNN(nn.Module):
    """Character-level language model around a course_lib recurrent layer.

    Inputs:
    - vocab_size: V; embed_size: D; hidden_size: H
    - cell: 'rnn' (default, course_lib.rnn.RNN), 'lstm' (course_lib.lstm.LSTM) or 'gru'
      (course_lib.gru.GRU); the layer is ``self.rnn`` whichever it is
    - fast: run the layer's ``fast_forward`` (the same function computed by torch.nn.RNN, LSTM
      or GRU: cuDNN on a GPU)
    - device, dtype: where and how the parameters are created
    - generator: CPU torch.Generator for the initial weights; None uses torch's global one
    - cell_kwargs: passed on to the layer, e.g. forget_bias=1.0 for the LSTM
    Parameters: W_embed (V, D) ~ N(0, 1); the layer's own (rnn.Wx, rnn.Wh, ...);
    W_vocab (H, V) ~ N(0, 0.01^2) and b_vocab (V,) = 0, so the first predictions are near
    uniform and the first loss is near log V.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, *, cell: str = "rnn",
                 fast: bool = False, device=None, dtype=None,
                 generator: torch.Generator | None = None, **cell_kwargs):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell should be one of {sorted(CELLS)}, got {cell!r}.")
        if fast and not hasattr(CELLS[cell], "fast_forward"):
            raise ValueError(f"cell {cell!r} has no fast_forward; use fast=False.")
        self.vocab_size, self.cell, self.fast = vocab_size, cell, fast
        V, D, H = vocab_size, embed_size, hidden_size
        self.W_embed = nn.Parameter(torch.empty(V, D, device=device, dtype=dtype))
        self.rnn = CELLS[cell](D, H, device=device, dtype=dtype, generator=generator, **cell_kwargs)
        self.W_vocab = nn.Parameter(torch.empty(H, V, device=device, dtype=dtype))
        self.b_vocab = nn.Parameter(torch.zeros(V, device=device, dtype=dtype))
        with torch.no_grad():
            for p, std in ((self.W_embed, 1.0), (self.W_vocab, 0.01)):
                p.copy_(torch.randn(p.shape, dtype=p.dtype, generator=generator) * std)

    def forward(self, ids: torch.Tensor, state=None):
        """Scores for the next character at every step.

        Inputs:
        - ids: character ids, int64 of shape (N, T)
        - state: initial state, None for zeros; h0 of shape (N, H), or (h0, c0) for the LSTM
        Returns a tuple of:
        - scores: unnormalised log-probabilities, of shape (N, T, V)
        - the state after the last step: h_T of shape (N, H), or (h_T, c_T) for the LSTM
        """
        if ids.ndim != 2:
            raise ValueError(f"ids should have shape (N, T), but has shape {tuple(ids.shape)}. "
                             f"For a single sequence pass ids[None].")
        x = self.W_embed[ids]  # (N, T, D)
        h, state = (self.rnn.fast_forward if self.fast else self.rnn)(x, state)  # (N, T, H)
        return h @ self.W_vocab + self.b_vocab, state  # (N, T, V)


def sequence_loss(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of scores (N, T, V) against target ids y (N, T); a scalar tensor."""
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), y.reshape(-1))


def make_streams(ids, batch_size: int, offset: int = 0):
    """Cut ``ids[offset:]`` into ``batch_size`` consecutive streams, with next-character targets.

    Inputs:
    - ids: character ids, of shape (T_all,)
    - batch_size: N, the number of streams
    - offset: how many ids to skip at the start
    Returns (x, y), int64 CPU tensors of shape (N, L) with L = (T_all - offset - 1) // N:
    row i of x is the i-th stretch of L ids and y is the same stretch shifted by one.
    """
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long).reshape(-1)
    L = (len(ids) - offset - 1) // batch_size
    if L < 1:
        raise ValueError(f"{len(ids)} ids (after skipping {offset}) are too few for {batch_size} "
                         f"streams; use fewer streams (batch_size) or more text.")
    x = ids[offset: offset + batch_size * L].view(batch_size, L)
    y = ids[offset + 1: offset + 1 + batch_size * L].view(batch_size, L)
    return x, y


def _chunks(ids, batch_size: int, seq_len: int, rng: np.random.Generator, device):
    """Endless (x, y, first) chunks of shape (N, seq_len); each pass starts at a random offset."""
    while True:
        x, y = make_streams(ids, batch_size, offset=int(rng.integers(seq_len)))
        x, y = x.to(device), y.to(device)
        for t in range(0, x.shape[1] - seq_len + 1, seq_len):
            yield x[:, t:t + seq_len], y[:, t:t + seq_len], t == 0


def tbptt_step(model: CharRNN, optimizer, x, y, h0, clip: float | None = 5.0):
    """One update on one chunk; returns (loss as a float, h_T detached from the graph).

    Inputs:
    - x, y: input and target ids, of shape (N, T)
    - h0: state carried from the previous chunk, None for zeros: (N, H), or a tuple such as
      the LSTM's (h, c); the returned h_T has the same form, every tensor of it detached
    - clip: largest gradient norm (over all parameters) before the step; None does not clip
    """
    scores, h_T = model(x, h0)
    loss = sequence_loss(scores, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), detach_state(h_T)  # the border: the next chunk's graph starts here


def train(model: CharRNN, ids, *, seq_len: int = 25, batch_size: int = 32, steps: int = 1000,
          lr: float = 3e-3, clip: float | None = 5.0, seed: int = 0, device=None,
          progress: bool = True, optimizer: torch.optim.Optimizer | None = None,
          callback=None) -> dict[str, list]:
    """Train ``model`` in place by truncated BPTT with Adam.

    Inputs:
    - ids: training character ids, of shape (T_all,); needs T_all >= (batch_size + 1) * seq_len
    - seq_len: T, steps per chunk (and how far back gradients reach)
    - batch_size: N, parallel streams
    - steps: number of updates (passes over the text repeat as needed)
    - lr: Adam's learning rate; clip: gradient-norm cap, None for no clipping
    - seed: picks the offset each pass over the text starts at (the streams reset there)
    - device: None picks one with course_lib.device.get_device; the model is moved to it
    - progress: show a tqdm progress bar
    - optimizer: an optimizer over model's parameters to continue with (lr is then ignored);
      None makes a fresh Adam
    - callback: called as callback(step, loss) after every update (e.g. to snapshot weights)
    Returns a history {'step': [...], 'loss': [...], 'seconds': [...]}, one entry per update,
    with the chunk's mean loss and the wall-clock seconds since training began.
    """
    ids = np.asarray(ids).reshape(-1)
    if len(ids) < (batch_size + 1) * seq_len:
        raise ValueError(f"{len(ids)} ids are too few for {batch_size} streams of chunks of "
                         f"{seq_len} steps: need at least (batch_size + 1) * seq_len = "
                         f"{(batch_size + 1) * seq_len}. Use more text, or a smaller batch_size or seq_len.")
    device = get_device(None if device is None else str(device))
    model.to(device).train()
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    chunks = _chunks(ids, batch_size, seq_len, np.random.default_rng(seed), device)
    history = {"step": [], "loss": [], "seconds": []}
    h, start = None, time.perf_counter()
    bar = progress_bar(range(1, steps + 1), desc="train", show=progress)
    for step in bar:
        x, y, first = next(chunks)
        loss, h = tbptt_step(model, optimizer, x, y, None if first else h, clip)
        history["step"].append(step)
        history["loss"].append(loss)
        history["seconds"].append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        if callback is not None:
            callback(step, loss)
    return history


@torch.no_grad()
def evaluate(model: CharRNN, ids, *, seq_len: int = 100, batch_size: int = 32) -> float:
    """Mean cross-entropy per character (nats) of ``model`` predicting ``ids`` (T_all,).

    The state (h, or the LSTM's (h, c)) is carried across chunks as in training; the text is cut into
    min(batch_size, T_all - 1) streams, and the last (T_all - 1) mod N characters are not scored.
    """
    ids = np.asarray(ids).reshape(-1)
    if len(ids) < 2:
        raise ValueError(f"evaluate needs at least 2 ids (one input, one target), got {len(ids)}.")
    device = next(model.parameters()).device
    x, y = make_streams(ids, min(batch_size, len(ids) - 1))
    x, y = x.to(device), y.to(device)
    total, h = 0.0, None
    for t in range(0, x.shape[1], seq_len):
        scores, h = model(x[:, t:t + seq_len], h)
        total += float(sequence_loss(scores, y[:, t:t + seq_len]) * y[:, t:t + seq_len].numel())
    return total / y.numel()


@torch.no_grad()
def sample(model: CharRNN, start_ids, n: int, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> np.ndarray:
    """Draw ``n`` characters one at a time, feeding each back in as the next input.

    Inputs:
    - start_ids: ids that prime the hidden state, of shape (T0,) with T0 >= 1
    - n: number of characters to draw
    - temperature: > 0; scores are divided by it (below 1 sharper, above 1 flatter)
    - generator: torch.Generator for reproducible draws (sampling happens on its device)
    Returns the drawn ids, int64 of shape (n,) (start_ids not included).
    """
    if not (isinstance(temperature, numbers.Real) and 0 < temperature < math.inf):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}. "
                         f"Use e.g. 0.5 for safer text, 1.0 for the model's own distribution.")
    start = torch.as_tensor(np.asarray(start_ids), dtype=torch.long).reshape(-1)
    if len(start) == 0 or start.min() < 0 or start.max() >= model.vocab_size:
        raise ValueError(f"start_ids should be at least one id in 0..{model.vocab_size - 1}, "
                         f"got {start.tolist()[:10]}.")
    device = next(model.parameters()).device
    scores, h = model(start[None].to(device))  # (1, T0, V), state: (1, H) or a tuple of them
    out = []
    for i in range(n):
        p = torch.softmax(scores[0, -1].double() / temperature, dim=-1)  # (V,)
        p = p.to(generator.device) if generator is not None else p
        next_id = torch.multinomial(p, 1, generator=generator)  # (1,)
        out.append(int(next_id))
        if i < n - 1:
            scores, h = model(next_id.view(1, 1).to(device), h)
    return np.array(out, dtype=np.int64)
