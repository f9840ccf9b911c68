"""Stacks of linear recurrent layers with non-linear blocks between them, for Chapter 8's tasks.

A block is the LRU paper's (Orvieto et al. 2023) in its simplest form: the linear recurrence mixing
information across time, a position-wise non-linear network mixing channels, and a residual
connection around both:

    z = LinearRecurrentLayer(x)                     (N, T, D): linear in time
    x <- x + W_2 GELU(z W_1 + b_1) + b_2            (N, T, D): non-linear per step

The paper normalises x before the recurrence. Here that hurt: on the adding problem (two input
channels) a LayerNorm there left the stack at the baseline for 1,000 updates, and without it the
same stack solved the task in about 550 (measured at T = 100, seed 0), so the blocks have none.

``LRUStack`` embeds the input (a linear map, or a lookup table for token ids), runs ``n_blocks``
blocks, and returns (y (N, T, D), None), the interface of course_lib's recurrent layers, so that
``course_lib.adding.LastStep`` can read it out at the last step.
"""
import torch
from torch import nn

from course_lib.linear_rnn import MODES, LinearRecurrentLayer


class LRUBlock(nn.Module):
    """LinearRecurrentLayer (D -> D, H states) -> GELU MLP (D -> 2D -> D), plus the input."""

    def __init__(self, D: int, H: int, *, r_min: float = 0.9, r_max: float = 0.999,
                 max_phase: float = 0.314, generator: torch.Generator | None = None):
        super().__init__()
        self.lru = LinearRecurrentLayer(D, H, D, r_min=r_min, r_max=r_max, max_phase=max_phase,
                                        generator=generator)
        self.mlp = nn.Sequential(nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))

    def forward(self, x: torch.Tensor, mode: str = "scan") -> torch.Tensor:
        return x + self.mlp(self.lru(x, mode=mode))


class LRUStack(nn.Module):
    """Input map, then n_blocks LRU blocks: x (N, T, D_in) floats, or (N, T) token ids -> (y (N, T, D), None).

    Inputs:
    - input_size: D_in of float inputs, or the vocabulary size when ``tokens`` is True
    - D: the width of the blocks; H: complex states per recurrent layer; n_blocks: how many blocks
    - mode: how the recurrences are computed ('scan', 'loop' or 'fft': the same function)
    - r_min, r_max, max_phase: the ring of initial eigenvalues (course_lib.linear_rnn.lru_init)
    - generator: CPU torch.Generator for the recurrences' initial values (torch's global one for the rest)
    """

    def __init__(self, input_size: int, D: int = 32, H: int = 64, n_blocks: int = 2, *, tokens: bool = False,
                 mode: str = "scan", r_min: float = 0.9, r_max: float = 0.999, max_phase: float = 0.314,
                 generator: torch.Generator | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode should be one of {MODES}, got {mode!r}.")
        self.mode = mode
        self.embed = nn.Embedding(input_size, D) if tokens else nn.Linear(input_size, D)
        self.blocks = nn.ModuleList(LRUBlock(D, H, r_min=r_min, r_max=r_max, max_phase=max_phase,
                                             generator=generator) for _ in range(n_blocks))

    def forward(self, x: torch.Tensor):
        y = self.embed(x)  # (N, T, D)
        for block in self.blocks:
            y = block(y, mode=self.mode)
        return y, None
