"""Soft (additive) attention, as in Show, Attend and Tell (Xu et al. 2015) and Bahdanau et al. 2015.

A query h (the decoder's previous hidden state) scores each of R annotation vectors A_i
(image regions, or encoder states in seq2seq); the context z is their softmax-weighted mean:

    e_i = tanh(A_i W_A + h W_ha + b_a) w_a        (N, R)   one score per location
    alpha = softmax_i(e)                           (N, R)   weights, sum to 1 over i
    z = sum_i alpha_i A_i                          (N, C)   the context vector

Shapes: h (N, H), A (N, R, C); parameters W_A (C, K), W_ha (H, K), b_a (K,), w_a (K,), with K the
attention size. The NumPy twin in the captioning assignment, ``soft_attention_forward``, uses the
same names and layout. A W_A does not depend on h, so a decoder computes it once per sequence
(``precompute``) and passes it to every step. Gradients come from autograd.

``DotAttention`` is Luong et al.'s (2015) multiplicative ("general") score, the step toward the
Transformer's dot-product attention: one matrix W_hA (H, C) instead of a hidden layer,

    e_i = (h W_hA) . A_i                           (N, R)   then alpha and z as above

with the same interface (``precompute`` gives A W_hA^T, of shape (N, R, H)), so a decoder can use
either. A padded location gets e_i = -inf through ``mask``, hence alpha_i = 0 exactly.
"""
import math

import torch
from torch import nn

from course_lib.layer_utils import check_shape


def soft_attention(h, A, W_A, W_ha, b_a, w_a, mask=None, AW_A=None):
    """Additive attention for one step, as a plain function of its parameters.

    Inputs:
    - h: queries, of shape (N, H)
    - A: annotations, of shape (N, R, C)
    - W_A (C, K), W_ha (H, K), b_a (K,), w_a (K,): parameters
    - mask: optional bool (N, R), True where a location may be attended (e.g. not padding);
      every row needs at least one True
    - AW_A: optional A @ W_A, of shape (N, R, K), computed once per sequence by the caller
    Returns a tuple of:
    - z: context vectors, of shape (N, C)
    - alpha: attention weights, of shape (N, R), each row summing to 1
    """
    if AW_A is None:
        AW_A = A @ W_A  # (N, R, K)
    e = torch.tanh(AW_A + (h @ W_ha + b_a)[:, None, :]) @ w_a  # (N, R)
    if mask is not None:
        e = e.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(e, dim=1)  # (N, R)
    z = (alpha[:, :, None] * A).sum(dim=1)  # (N, C)
    return z, alpha


class SoftAttention(nn.Module):
    """Additive soft attention over R locations; see the module docstring for the equations.

    Inputs:
    - query_size: H, the size of the query h (the decoder's hidden state)
    - key_size: C, the size of each annotation A_i
    - attn_size: K, the size of the hidden layer that scores each location
    - device, dtype: where and how the parameters are created
    - generator: CPU torch.Generator for the initial weights; None uses torch's global one
    Parameters: W_A (C, K) ~ U(+-1/sqrt(C)), W_ha (H, K) ~ U(+-1/sqrt(H)), b_a (K,) = 0,
    w_a (K,) ~ U(+-1/sqrt(K)) (torch.nn.Linear's ranges).
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int, *, device=None, dtype=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.query_size, self.key_size, self.attn_size = query_size, key_size, attn_size
        H, C, K = query_size, key_size, attn_size
        self.W_A = nn.Parameter(torch.empty(C, K, device=device, dtype=dtype))
        self.W_ha = nn.Parameter(torch.empty(H, K, device=device, dtype=dtype))
        self.b_a = nn.Parameter(torch.zeros(K, device=device, dtype=dtype))
        self.w_a = nn.Parameter(torch.empty(K, device=device, dtype=dtype))
        with torch.no_grad():
            for p, fan_in in ((self.W_A, C), (self.W_ha, H), (self.w_a, K)):
                k = 1.0 / math.sqrt(fan_in)
                p.copy_(torch.empty(p.shape, dtype=p.dtype).uniform_(-k, k, generator=generator))

    def precompute(self, A: torch.Tensor) -> torch.Tensor:
        """A W_A, of shape (N, R, K): the part of the scores that is the same at every step."""
        check_shape(A, (None, None, self.key_size), "A", "NRC",
                     " Flatten a feature map (N, C, h, w) to (N, h*w, C) first.")
        return A @ self.W_A

    def forward(self, h: torch.Tensor, A: torch.Tensor, mask: torch.Tensor | None = None,
                AW_A: torch.Tensor | None = None):
        """Context z (N, C) and weights alpha (N, R) for queries h (N, H) over annotations A (N, R, C).

        mask (N, R) bool, True where attending is allowed; AW_A (N, R, K) from ``precompute``.
        """
        check_shape(A, (None, None, self.key_size), "A", "NRC",
                     " Flatten a feature map (N, C, h, w) to (N, h*w, C) first.")
        check_shape(h, (A.shape[0], self.query_size), "h", "NH")
        if mask is not None:
            check_shape(mask, tuple(A.shape[:2]), "mask", "NR")
            if not bool(mask.any(dim=1).all()):
                raise ValueError("every row of mask needs at least one True location: "
                                 "a row with none has no weights that sum to 1.")
        return soft_attention(h, A, self.W_A, self.W_ha, self.b_a, self.w_a, mask, AW_A)

    def extra_repr(self) -> str:
        return f"H={self.query_size}, C={self.key_size}, K={self.attn_size}"


class DotAttention(nn.Module):
    """Multiplicative attention (Luong et al. 2015, "general"): e_i = (h W_hA) . A_i, no hidden layer.

    Inputs:
    - query_size: H; key_size: C
    - device, dtype, generator: as for SoftAttention
    Parameter: W_hA (H, C) ~ U(+-1/sqrt(H)). Per query and location it costs C multiply-adds
    (after A W_hA^T is computed once per sequence), against K for the additive score's tanh layer.
    """

    def __init__(self, query_size: int, key_size: int, *, device=None, dtype=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.query_size, self.key_size = query_size, key_size
        self.W_hA = nn.Parameter(torch.empty(query_size, key_size, device=device, dtype=dtype))
        with torch.no_grad():
            k = 1.0 / math.sqrt(query_size)
            self.W_hA.copy_(torch.empty(self.W_hA.shape, dtype=self.W_hA.dtype).uniform_(-k, k, generator=generator))

    def precompute(self, A: torch.Tensor) -> torch.Tensor:
        """A W_hA^T, of shape (N, R, H): each location mapped into the query's space, once per sequence."""
        check_shape(A, (None, None, self.key_size), "A", "NRC")
        return A @ self.W_hA.T

    def forward(self, h: torch.Tensor, A: torch.Tensor, mask: torch.Tensor | None = None,
                AW_A: torch.Tensor | None = None):
        """Context z (N, C) and weights alpha (N, R); arguments as SoftAttention.forward."""
        check_shape(A, (None, None, self.key_size), "A", "NRC")
        check_shape(h, (A.shape[0], self.query_size), "h", "NH")
        AW = self.precompute(A) if AW_A is None else AW_A  # (N, R, H)
        e = (AW @ h[:, :, None])[:, :, 0]  # (N, R)
        if mask is not None:
            check_shape(mask, tuple(A.shape[:2]), "mask", "NR")
            if not bool(mask.any(dim=1).all()):
                raise ValueError("every row of mask needs at least one True location: "
                                 "a row with none has no weights that sum to 1.")
            e = e.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(e, dim=1)  # (N, R)
        return (alpha[:, :, None] * A).sum(dim=1), alpha

    def extra_repr(self) -> str:
        return f"H={self.query_size}, C={self.key_size}"
