"""Shared pieces of the PyTorch recurrent layers (rnn, lstm, gru): shape checks that say what to do,
torch.nn's recurrent initialisation, and reading a one-layer ``torch.nn.RNN/LSTM/GRU`` state dict.

Shape letters: N batch, T steps, D input, H hidden; G*H is the width of G stacked gate blocks.
"""
import math

import torch
from torch import nn

TORCH_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def check_shape(value: torch.Tensor, expected: tuple, name: str, letters: str, hint: str = "") -> None:
    """Raise ValueError unless ``value`` has shape ``expected`` (None entries match any size)."""
    found = tuple(value.shape)
    ok = len(found) == len(expected) and all(e is None or e == f for e, f in zip(expected, found))
    if not ok:
        want = ", ".join(letter if e is None else f"{letter}={e}" for letter, e in zip(letters, expected))
        raise ValueError(f"{name} should have shape ({want}), but has shape {found}.{hint}")


@torch.no_grad()
def init_uniform_(params, hidden_size: int, generator: torch.Generator | None) -> None:
    """torch.nn's recurrent init: each parameter from U(-1/sqrt(H), 1/sqrt(H)), drawn on the CPU
    (so a CPU generator reproduces it on any device), then copied in place."""
    k = 1.0 / math.sqrt(hidden_size)
    for p in params:
        p.copy_(torch.empty(p.shape, dtype=p.dtype).uniform_(-k, k, generator=generator))


def read_torch_weights(sd, module: str, n_gates: int):
    """weight_ih_l0 (G*H, D), weight_hh_l0 (G*H, H), bias_ih_l0, bias_hh_l0 (G*H,), detached and checked."""
    if isinstance(sd, nn.Module):
        sd = sd.state_dict()
    missing = [k for k in TORCH_KEYS if k not in sd]
    if missing:
        raise KeyError(f"not a one-layer torch.nn.{module} state dict: missing {missing} "
                       f"(found {sorted(sd)}). Build the {module} with bias=True and "
                       f"pass its state_dict().")
    extra = sorted(k for k in sd if k not in TORCH_KEYS)
    if extra:
        raise ValueError(f"only one-layer, one-direction torch.nn.{module} weights convert; found "
                         f"extra keys {extra}. Use num_layers=1, bidirectional=False, proj_size=0.")
    W_ih, W_hh, b_ih, b_hh = (sd[k].detach() for k in TORCH_KEYS)
    GH = "H" if n_gates == 1 else f"{n_gates}H"
    check_shape(W_hh, (None, None), "weight_hh_l0", [GH, "H"])
    H = W_hh.shape[1]
    check_shape(W_hh, (n_gates * H, H), "weight_hh_l0", [GH, "H"])
    check_shape(W_ih, (n_gates * H, None), "weight_ih_l0", [GH, "D"])
    check_shape(b_ih, (n_gates * H,), "bias_ih_l0", [GH])
    check_shape(b_hh, (n_gates * H,), "bias_hh_l0", [GH])
    return W_ih, W_hh, b_ih, b_hh
