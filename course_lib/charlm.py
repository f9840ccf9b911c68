"""A character-level language model: embedding -> vanilla RNN -> projection to the vocabulary.

    x_t = W_embed[id_t],  h_t = tanh(x_t Wx + h_{t-1} Wh + b),  scores_t = h_t W_vocab + b_vocab

Shapes: ids (N, T), x (N, T, D), h (N, T, H), scores (N, T, V); W_embed (V, D), W_vocab (H, V).
``train`` runs truncated backpropagation through time (TBPTT): the text is cut into N parallel
streams, read T steps at a time, and the hidden state is carried from chunk to chunk but
detached at each border, so gradients reach back at most T steps.
"""
import math
import numbers
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from course_lib.device import get_device
from course_lib.rnn import RNN


class CharRNN(nn.Module):
    """Character-level RNN language model.

    Inputs:
    - vocab_size: V; embed_size: D; hidden_size: H
    - device, dtype: where and how the parameters are created
    - generator: CPU torch.Generator for the initial weights; None uses torch's global one
    Parameters: W_embed (V, D) ~ N(0, 1); rnn.Wx, rnn.Wh, rnn.b as in course_lib.rnn.RNN;
    W_vocab (H, V) ~ N(0, 0.01^2) and b_vocab (V,) = 0, so the first predictions are near
    uniform and the first loss is near log V.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, *, device=None,
                 dtype=None, generator: torch.Generator | None = None):
        super().__init__()
        self.vocab_size = vocab_size
        V, D, H = vocab_size, embed_size, hidden_size
        self.W_embed = nn.Parameter(torch.empty(V, D, device=device, dtype=dtype))
        self.rnn = RNN(D, H, device=device, dtype=dtype, generator=generator)
        self.W_vocab = nn.Parameter(torch.empty(H, V, device=device, dtype=dtype))
        self.b_vocab = nn.Parameter(torch.zeros(V, device=device, dtype=dtype))
        with torch.no_grad():
            for p, std in ((self.W_embed, 1.0), (self.W_vocab, 0.01)):
                p.copy_(torch.randn(p.shape, dtype=p.dtype, generator=generator) * std)

    def forward(self, ids: torch.Tensor, h0: torch.Tensor | None = None):
        """Scores for the next character at every step.

        Inputs:
        - ids: character ids, int64 of shape (N, T)
        - h0: initial hidden state, of shape (N, H); None means zeros
        Returns a tuple of:
        - scores: unnormalised log-probabilities, of shape (N, T, V)
        - h_last: hidden state after the last step, of shape (N, H)
        """
        if ids.ndim != 2:
            raise ValueError(f"ids should have shape (N, T), but has shape {tuple(ids.shape)}. "
                             f"For a single sequence pass ids[None].")
        x = self.W_embed[ids]  # (N, T, D)
        h, h_last = self.rnn(x, h0)  # (N, T, H), (N, H)
        return h @ self.W_vocab + self.b_vocab, h_last  # (N, T, V)


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
    """One update on one chunk; returns (loss as a float, h_last detached from the graph).

    Inputs:
    - x, y: input and target ids, of shape (N, T)
    - h0: hidden state carried from the previous chunk, of shape (N, H), or None for zeros
    - clip: largest gradient norm (over all parameters) before the step; None does not clip
    """
    scores, h_last = model(x, h0)
    loss = sequence_loss(scores, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), h_last.detach()  # the border: the next chunk's graph starts here


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
    bar = tqdm(range(1, steps + 1), desc="train", disable=not progress)
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

    The hidden state is carried across chunks as in training; the text is cut into
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
    scores, h = model(start[None].to(device))  # (1, T0, V), (1, H)
    out = []
    for i in range(n):
        p = torch.softmax(scores[0, -1].double() / temperature, dim=-1)  # (V,)
        p = p.to(generator.device) if generator is not None else p
        next_id = torch.multinomial(p, 1, generator=generator)  # (1,)
        out.append(int(next_id))
        if i < n - 1:
            scores, h = model(next_id.view(1, 1).to(device), h)
    return np.array(out, dtype=np.int64)
