"""The adding problem (Hochreiter and Schmidhuber, 1997), the harness Chapters 4 and 5 train on.

Each input step has two channels, a value drawn from U(0, 1) and a marker; exactly two steps are
marked, one in the first half of the sequence and one in the second, and the target is the sum of
the two marked values. Predicting the mean scores the variance of the sum, 2/12 (the baseline);
doing better needs a memory that carries the first marked value across at least T/2 steps.

Shapes: x (N, T, 2), targets y (N,); a recurrent layer maps x to h (N, T, H) and ``LastStep``
reads a prediction (N,) from h_T. Everything random comes from a torch.Generator passed in, drawn
on the CPU (so a seed gives the same data on any device) and moved to the model's device.
"""
import time

import torch
from torch import nn

from course_lib.gru import GRU
from course_lib.lru_stack import LRUStack
from course_lib.lstm import LSTM
from course_lib.model_cache import cached_training
from course_lib.rnn import RNN


def adding_batch(n: int, T: int, generator: torch.Generator | None = None, device=None):
    """A batch of the adding problem.

    Inputs:
    - n: number of sequences N; T: steps per sequence (T >= 2)
    - generator: CPU torch.Generator for the draws; None uses torch's global one
    - device: where the returned tensors live (they are drawn on the CPU)
    Returns a tuple of:
    - x: inputs of shape (N, T, 2); x[..., 0] the values in [0, 1), x[..., 1] the markers (0 or 1),
      with one marked step in [0, T // 2) and one in [T // 2, T)
    - y: targets of shape (N,), the sum of the two marked values
    """
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2 steps (one marker in each half), got T = {T}.")
    values = torch.rand(n, T, generator=generator)  # (N, T)
    rows = torch.arange(n)
    markers = torch.zeros(n, T)
    markers[rows, torch.randint(T // 2, (n,), generator=generator)] = 1.0
    markers[rows, torch.randint(T // 2, T, (n,), generator=generator)] = 1.0
    x, y = torch.stack([values, markers], dim=-1), (values * markers).sum(dim=1)
    return x.to(device), y.to(device)


class LastStep(nn.Module):
    """A recurrent layer read out at the last step: x (N, T, D) -> prediction (N,).

    Inputs:
    - layer: a recurrent module mapping x (N, T, D) to (h (N, T, H), final state), such as
      course_lib's RNN, LSTM or GRU (or a stack ending in one)
    - hidden_size: H; the read-out is a linear map from h_T (N, H) to one number
    - fast: call ``layer.fast_forward`` (course LSTM and GRU: the same function by torch.nn)
    """

    def __init__(self, layer: nn.Module, hidden_size: int, fast: bool = False):
        super().__init__()
        self.layer, self.fast = layer, fast
        self.readout = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = (self.layer.fast_forward if self.fast else self.layer)(x)  # (N, T, H)
        return self.readout(h[:, -1]).squeeze(-1)  # (N,)


def held_out(T: int, n: int = 1000, seed: int = 1234):
    """The held-out sequences (x (n, T, 2), y (n,)) and the baseline MSE of predicting their mean."""
    x, y = adding_batch(n, T, torch.Generator().manual_seed(seed))
    return x, y, ((y - y.mean()) ** 2).mean().item()


def train_adding(model: nn.Module, *, T: int, steps: int, batch_size: int = 64, lr: float = 3e-3,
                 clip: float = 1.0, every: int = 100, seed: int = 0, test=None) -> dict:
    """Train ``model`` in place with Adam on fresh batches, the same stream for every model.

    Inputs:
    - model: maps x (N, T, 2) to predictions (N,), e.g. a LastStep
    - T: sequence length; steps: number of updates; batch_size: sequences per update
    - lr: Adam's learning rate; clip: gradient-norm cap
    - every: test the model every that many updates
    - seed: seeds the generator of the training batches
    - test: (x_test, y_test) to test on; None uses ``held_out(T)``
    Returns a history {'step': [...], 'test_mse': [...], 'seconds': float}: the updates at which
    the model was tested, its mean squared error on the test set there, and the training time.
    """
    device = next(model.parameters()).device
    x_test, y_test = (test or held_out(T))[:2]
    x_test, y_test = x_test.to(device), y_test.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.Generator().manual_seed(seed)
    history = {"step": [], "test_mse": []}
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = adding_batch(batch_size, T, data, device)
        loss = ((model(x) - y) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if step % every == 0:
            with torch.no_grad():
                history["step"].append(step)
                history["test_mse"].append(((model(x_test) - y_test) ** 2).mean().item())
    history["seconds"] = time.perf_counter() - start
    return history


def first_solved(history: dict, solved: float = 0.01) -> int | None:
    """The first tested update at which the test MSE was below ``solved``; None if never."""
    return next((s for s, m in zip(history["step"], history["test_mse"]) if m < solved), None)


def report(name: str, history: dict, baseline: float, solved: float = 0.01) -> str:
    """One line: final test MSE, its share of the baseline, when it first fell below ``solved``."""
    mse, first = history["test_mse"][-1], first_solved(history, solved)
    when = f"below {solved} first after {first} updates" if first else f"never below {solved}"
    return (f"{name:<6} final test MSE {mse:.4f} ({mse / baseline:7.2%} of the baseline), "
            f"{when}; {history['seconds']:.1f} s")


# The set-up Chapters 4 and 5 share: one trained model per cell, cached so each page runs on its own.
SETUP = dict(T=40, steps=1200, batch_size=64, lr=3e-3, clip=1.0, every=100, seed=0, H=64)
MODULES = ("course_lib.adding", "course_lib.rnn", "course_lib.lstm", "course_lib.gru",
           "course_lib.layer_utils", "course_lib.model_cache", "course_lib.lru_stack", "course_lib.linear_rnn")


def build_model(cell: str, H: int, seed: int = 0) -> LastStep:
    """An untrained LastStep over a course RNN, LSTM (forget bias 1) or GRU with H units, or over an
    LRU stack (course_lib.lru_stack) with H complex states per layer."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # nn.Linear's read-out draws from torch's global generator
    if cell == "RNN":
        return LastStep(RNN(2, H, generator=gen), H)
    if cell == "LSTM":
        return LastStep(LSTM(2, H, forget_bias=1.0, generator=gen), H, fast=True)
    if cell == "GRU":
        return LastStep(GRU(2, H, generator=gen), H, fast=True)
    if cell == "LRU":  # Chapter 8: two blocks of width H / 2, H complex states each, computed by the loop
        return LastStep(LRUStack(2, D=H // 2, H=H, n_blocks=2, mode="loop", generator=gen), H // 2)
    raise KeyError(f"no adding-problem model {cell!r}; the cells are 'RNN', 'LSTM', 'GRU' and 'LRU'.")


def trained_adding_model(cell: str, setup: dict | None = None):
    """``build_model(cell)`` trained on the adding problem with ``setup`` (default SETUP).

    Returns (model, history, from_cache) as ``course_lib.model_cache.cached_training``: trained
    the first time, loaded from the cache afterwards (on the CPU, in eval mode).
    """
    setup = {**SETUP, **(setup or {})}
    train_keys = ("T", "steps", "batch_size", "lr", "clip", "every", "seed")
    return cached_training(f"adding-{cell.lower()}", {"cell": cell, **setup},
                           lambda: build_model(cell, setup["H"], setup["seed"]),
                           lambda model: train_adding(model, **{k: setup[k] for k in train_keys}),
                           modules=MODULES)
