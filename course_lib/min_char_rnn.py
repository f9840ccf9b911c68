"""Karpathy's min-char-rnn as importable functions: a character RNN in NumPy, one sequence at a time.

Original: Andrej Karpathy, "Minimal character-level Vanilla RNN model" (2015),
https://gist.github.com/karpathy/d4dee566867f8291f086, BSD License. The equations, the
initialisation, Adagrad with learning rate 0.1, the elementwise clip to [-5, 5] and the smoothed
loss are his. What changed: functions instead of a script (``train`` is the original's loop, with
a step or time limit and a history instead of prints), parameters in a dict, random state passed
in, a sorted vocabulary, a softmax that subtracts the maximum score first, ``evaluate`` for
held-out text, and the clip applied in ``train`` (the original clips inside lossFun).

The one part left out is the original's hand-written backward pass: it is the answer to the
course's Assignment 1 in another layout. ``train`` takes the gradient from a ``loss_fun``
argument, by default ``autograd_loss_fun``, which runs the same forward in PyTorch (float64) and
lets autograd compute the gradients. That gives the same numbers as the hand-written backward
(tests/test_min_char_rnn.py checks it), at a different speed: autograd builds a graph of small
tensors at every update, so its time per update is not the original program's (book/bptt_minchar.md
times it against the NumPy forward alone). Run torch on one thread (``torch.set_num_threads(1)``):
on tensors this small, more threads only wait for each other.

Column-vector layout, as in the original (the rest of the course uses row vectors):

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),  y_t = Why h_t + by,  p_t = softmax(y_t)

Shapes: V vocabulary, H hidden, T characters per sequence; Wxh (H, V), Whh (H, H), Why (V, H),
bh (H, 1), by (V, 1); x_t is a one-hot (V, 1), h_t (H, 1).
"""
import time

import numpy as np
import torch
import torch.nn.functional as F

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


def init_params(vocab_size: int, hidden_size: int, rng: np.random.Generator) -> dict:
    """Parameters as in the original: weights ~ N(0, 0.01^2), biases 0.

    Returns {'Wxh': (H, V), 'Whh': (H, H), 'Why': (V, H), 'bh': (H, 1), 'by': (V, 1)}.
    """
    V, H = vocab_size, hidden_size
    return {"Wxh": rng.standard_normal((H, V)) * 0.01, "Whh": rng.standard_normal((H, H)) * 0.01,
            "Why": rng.standard_normal((V, H)) * 0.01, "bh": np.zeros((H, 1)), "by": np.zeros((V, 1))}


def forward_loss(inputs, targets, hprev, params: dict):
    """The forward pass alone, in NumPy: summed cross-entropy over the sequence, and h_T.

    Inputs:
    - inputs, targets: character ids, sequences of T ints (targets[t] is the character after inputs[t])
    - hprev: hidden state before the first step, of shape (H, 1)
    - params: dict of Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1)
    Returns a tuple of:
    - loss: summed cross-entropy over the T steps (nats), a float
    - h_T: hidden state after the last step, of shape (H, 1)
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    h, loss = hprev, 0.0
    for t in range(len(inputs)):
        x = np.zeros((Wxh.shape[1], 1))  # (V, 1) one-hot
        x[inputs[t]] = 1
        h = np.tanh(Wxh @ x + Whh @ h + bh)  # (H, 1)
        y = Why @ h + by  # (V, 1) unnormalised log-probabilities
        p = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))  # (V, 1)
        loss += -np.log(p[targets[t], 0])
    return float(loss), h


def autograd_loss_fun(inputs, targets, hprev, params: dict):
    """Loss and gradients over one sequence, the gradients from torch autograd in float64.

    The forward is the one above, computed in PyTorch; ``Wxh[:, inputs]`` picks the columns that
    the one-hot products Wxh x_t pick. Inputs as for ``forward_loss``. Returns a tuple of:
    - loss: summed cross-entropy over the T steps (nats), a float
    - grads: dict of dWxh, dWhh, dWhy, dbh, dby (NumPy, shaped like the parameters) and dhprev (H, 1)
    - h_T: hidden state after the last step, of shape (H, 1)
    """
    p = {k: torch.tensor(params[k], dtype=torch.float64, requires_grad=True) for k in PARAM_NAMES}
    h0 = torch.tensor(hprev, dtype=torch.float64, requires_grad=True)
    inputs_x = p["Wxh"][:, list(inputs)] + p["bh"]  # (H, T): Wxh x_t + bh for every t
    h, hs = h0, []
    for t in range(len(inputs)):
        h = torch.tanh(inputs_x[:, t:t + 1] + p["Whh"] @ h)  # (H, 1)
        hs.append(h)
    scores = p["Why"] @ torch.cat(hs, dim=1) + p["by"]  # (V, T)
    loss = F.cross_entropy(scores.T, torch.as_tensor(list(targets)), reduction="sum")
    loss.backward()
    grads = {"d" + k: p[k].grad.numpy() for k in PARAM_NAMES}
    grads["dhprev"] = h0.grad.numpy()
    return loss.item(), grads, h.detach().numpy()


def sample(h, seed_ix: int, n: int, params: dict, rng: np.random.Generator) -> list[int]:
    """Draw n character ids, starting from hidden state h (H, 1) and the character seed_ix."""
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    x = np.zeros((Wxh.shape[1], 1))
    x[seed_ix] = 1
    ixes = []
    for _ in range(n):
        h = np.tanh(Wxh @ x + Whh @ h + bh)
        y = Why @ h + by
        p = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
        ix = int(rng.choice(len(p), p=p.ravel()))
        x = np.zeros_like(x)
        x[ix] = 1
        ixes.append(ix)
    return ixes


def evaluate(ids, params: dict, seq_length: int = 25) -> float:
    """Mean cross-entropy per character (nats) of predicting ids[1:] from ids[:-1], state carried."""
    ids = list(ids)
    h = np.zeros((params["Whh"].shape[0], 1))
    total, count = 0.0, 0
    for p in range(0, len(ids) - 1, seq_length):
        inputs, targets = ids[p:p + seq_length], ids[p + 1:p + seq_length + 1]
        inputs = inputs[:len(targets)]
        loss, h = forward_loss(inputs, targets, h, params)
        total, count = total + loss, count + len(targets)
    return total / count


def train(text: str, *, hidden_size: int = 100, seq_length: int = 25, learning_rate: float = 0.1,
          max_steps: int | None = None, max_seconds: float | None = None, chars=None, seed: int = 0,
          rng: np.random.Generator | None = None, loss_fun=autograd_loss_fun) -> dict:
    """Train min-char-rnn on ``text``: one sequence of ``seq_length`` characters per update, Adagrad.

    Inputs:
    - text: the training text
    - hidden_size: H; seq_length: T, characters per update (and how far back gradients reach)
    - learning_rate: Adagrad's step size
    - max_steps, max_seconds: stop at whichever comes first (at least one must be given)
    - chars: the vocabulary, a sequence of V distinct characters in id order; None: sorted(set(text))
    - seed, rng: random state for the initial weights; rng, if given, is used instead of seed
    - loss_fun: (inputs, targets, hprev, params) -> (loss, grads, h_T) as ``autograd_loss_fun``;
      the instructors' hand-written one (solutions/minchar) has the same signature
    Returns a history dict: 'step', 'loss' (per character, nats), 'smooth_loss' (the original's
    0.999-smoothed loss, per character), 'seconds' (wall clock since the start), one entry per
    update; and 'params' (the trained weights) and 'chars' (the vocabulary).
    """
    if max_steps is None and max_seconds is None:
        raise ValueError("give max_steps or max_seconds (or both): min-char-rnn would train forever.")
    if len(text) < seq_length + 1:
        raise ValueError(f"text has {len(text)} characters; need at least seq_length + 1 = "
                         f"{seq_length + 1}. Use more text or a smaller seq_length.")
    rng = np.random.default_rng(seed) if rng is None else rng
    chars = sorted(set(text)) if chars is None else list(chars)
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    data = [char_to_ix[ch] for ch in text]
    params = init_params(len(chars), hidden_size, rng)
    mem = {k: np.zeros_like(v) for k, v in params.items()}  # Adagrad's sums of squared gradients
    smooth_loss = -np.log(1.0 / len(chars)) * seq_length  # the loss of uniform guessing
    history = {"step": [], "loss": [], "smooth_loss": [], "seconds": []}
    n, p, start = 0, 0, time.perf_counter()
    while (max_steps is None or n < max_steps) and (
            max_seconds is None or time.perf_counter() - start < max_seconds):
        if p + seq_length + 1 >= len(data) or n == 0:
            hprev, p = np.zeros((hidden_size, 1)), 0  # back to the start of the text
        inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        loss, grads, hprev = loss_fun(inputs, targets, hprev, params)
        smooth_loss = smooth_loss * 0.999 + loss * 0.001
        for k in PARAM_NAMES:
            dparam = np.clip(grads["d" + k], -5, 5)  # elementwise, against exploding gradients
            mem[k] += dparam * dparam
            params[k] += -learning_rate * dparam / np.sqrt(mem[k] + 1e-8)
        p, n = p + seq_length, n + 1
        history["step"].append(n)
        history["loss"].append(loss / seq_length)
        history["smooth_loss"].append(smooth_loss / seq_length)
        history["seconds"].append(time.perf_counter() - start)
    history["params"], history["chars"] = params, chars
    return history
