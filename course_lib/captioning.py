"""Image captioning in PyTorch: a small CNN encoder and a recurrent decoder, trained jointly.

The decoder is CS231n's CaptioningRNN, with the NumPy assignment's parameter names:

    h_0 = v W_proj + b_proj                       (condition "h0" or "both"; zeros for "step")
    x_t = [W_embed[w_t], v (condition "step"/"both"), z_t (attention)]   the cell's input
    h_t = cell(x_t, h_{t-1})                      course_lib RNN, LSTM (gates i, f, g, o) or GRU
    scores_t = h_t W_vocab + b_vocab              (N, V)

with z_t = attend(h_{t-1}, A) the soft-attention context (course_lib.attention). Shapes: images
(N, 64, 64, 3), v (N, F), A (N, R, C), captions (N, T+1), word vectors E, hidden H, vocabulary V.
Parameters: W_proj (F, H), b_proj (H,), W_embed (V, E), W_vocab (H, V), b_vocab (V,), cell.Wx
(E [+F] [+C], G*H), cell.Wh (H, G*H), cell.b (G*H,) (GRU: cell.b_x, cell.b_h) with G = 1, 4, 3;
attention.W_A (C, K), attention.W_ha (H, K), attention.b_a (K,), attention.w_a (K,).
With condition="h0", attention=False and cell "rnn" or "lstm" it computes exactly the NumPy
CaptioningRNN; ``load_numpy_params`` copies its weights in.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import DotAttention, SoftAttention
from course_lib.gru import GRU
from course_lib.lstm import LSTM
from course_lib.layer_utils import check_shape
from course_lib.rnn import RNN

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
CONDITIONS = ("h0", "step", "both")
ATTENTIONS = {"additive": SoftAttention, "dot": DotAttention}  # attention=True is "additive"


class ConvEncoder(nn.Module):
    """A small CNN: images -> spatial features A (N, R, C) and a vector v (N, F) that keeps position.

    Each block is conv 3x3 stride 2 -> (BatchNorm) -> ReLU, halving the image: 64 -> 32 -> 16 -> 8
    with three blocks (then ``refine`` stride-1 blocks), so A has R = 8 * 8 = 64 locations of
    C = channels[-1] numbers. v is a Linear layer of the whole flattened grid then ReLU (not a
    global average, which would forget where things are: "left of" and "above" need position).

    Inputs:
    - channels: output channels of each stride-2 block; C = channels[-1]
    - refine: extra stride-1 blocks at the grid's resolution (each widens what a location sees
      by 2 grid cells, e.g. 16 pixels, so that large shapes fit in one location's view)
    - feature_dim: the size of the Linear layer's output; F = feature_dim (+ C with global_pool)
    - global_pool: append max_i A_i (N, C) to v: which features occur anywhere, position-free
    - image_size: side of the square input images
    - batch_norm: BatchNorm after each conv (faster training; call .eval() before decoding)
    - generator: CPU torch.Generator for the initial weights; None uses torch's global one
    """

    def __init__(self, channels=(32, 64, 64), feature_dim: int = 256, image_size: int = 64,
                 batch_norm: bool = True, refine: int = 0, global_pool: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        layers, c_in = [], 3
        for i, c_out in enumerate(tuple(channels) + (channels[-1],) * refine):
            stride = 2 if i < len(channels) else 1
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
            layers += [nn.ReLU()]
            c_in = c_out
        self.conv = nn.Sequential(*layers)
        self.grid = image_size // 2 ** len(channels)
        self.image_size, self.spatial_dim, self.global_pool = image_size, c_in, bool(global_pool)
        self.feature_dim = feature_dim + (c_in if global_pool else 0)  # F, the size of v
        self.fc = nn.Linear(c_in * self.grid ** 2, feature_dim)
        _init_kaiming_(self, generator)

    def forward(self, images):
        """Features of a batch of images.

        Inputs:
        - images: uint8 in 0..255 or float in [0, 1], of shape (N, S, S, 3) or (N, 3, S, S)
        Returns a tuple of:
        - v: one vector per image, of shape (N, F)
        - A: one vector per grid cell, row by row, of shape (N, R, C) with R = (S / 2**blocks)**2
        """
        x = torch.as_tensor(images, device=self.fc.weight.device)
        if x.ndim == 4 and x.shape[-1] == 3 and x.shape[1] != 3:
            x = x.permute(0, 3, 1, 2)  # (N, 3, S, S)
        S = self.image_size
        check_shape(x, (None, 3, S, S), "images", "NCHW",
                     f" Pass images as (N, {S}, {S}, 3) or (N, 3, {S}, {S}).")
        dtype = self.fc.weight.dtype
        x = x.to(dtype) / 255 if x.dtype == torch.uint8 else x.to(dtype)
        fmap = self.conv(2 * x - 1)  # (N, C, grid, grid)
        A = fmap.flatten(2).transpose(1, 2)  # (N, R, C)
        v = F.relu(self.fc(fmap.flatten(1)))  # (N, feature_dim)
        if self.global_pool:  # (N, F): + what is anywhere, wherever it is
            v = torch.cat([v, A.amax(dim=1)], dim=1)
        return v, A


@torch.no_grad()
def _init_kaiming_(module: nn.Module, generator: torch.Generator | None) -> None:
    """He-uniform weights U(+-sqrt(6 / fan_in)) and zero biases for every conv and linear layer."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            k = math.sqrt(6.0 / fan_in)
            m.weight.copy_(torch.empty(m.weight.shape).uniform_(-k, k, generator=generator))
            if m.bias is not None:
                m.bias.zero_()


def temporal_softmax_loss(scores: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy summed over the steps where mask is True, divided by N (CS231n's).

    Inputs:
    - scores: (N, T, V); y: target ids in 0..V-1, (N, T); mask: bool (N, T), False at <NULL>
    Returns the loss, a scalar tensor. Masked steps get exactly zero gradient.
    """
    N, T, V = scores.shape
    check_shape(y, (N, T), "y", "NT")
    check_shape(mask, (N, T), "mask", "NT")
    losses = F.cross_entropy(scores.reshape(N * T, V), y.reshape(N * T).long(), reduction="none")
    return losses[mask.reshape(N * T)].sum() / N


class CaptionModel(nn.Module):
    """Recurrent caption decoder (CS231n's CaptioningRNN), optionally with soft attention.

    Inputs:
    - word_to_idx: dict word -> id with '<NULL>', '<START>', '<END>'; V = len(word_to_idx)
    - input_dim: F, size of the image vector v; wordvec_dim: E; hidden_dim: H
    - cell_type: 'rnn', 'lstm' or 'gru'
    - condition: 'h0' (h_0 = v W_proj + b_proj), 'step' (v joins every input) or 'both'
    - attention: add soft attention over A (N, R, C): True or 'additive' (course_lib.attention's
      SoftAttention), 'dot' (DotAttention, Luong's multiplicative score); False for none
    - spatial_dim: C; attention_dim: K for additive attention (default H)
    - forget_bias: for the LSTM's f gate (see course_lib.lstm.LSTM)
    - dtype, device, generator: as for the course_lib cells
    Initial weights: W_embed ~ N(0, 1), W_proj ~ N(0, 1/F), W_vocab ~ N(0, 0.01^2) (the first loss is
    near log V per word), biases 0, cell and attention as in their modules.
    """

    def __init__(self, word_to_idx: dict, input_dim: int = 512, wordvec_dim: int = 128,
                 hidden_dim: int = 128, cell_type: str = "rnn", condition: str = "h0",
                 attention: bool | str = False, spatial_dim: int | None = None,
                 attention_dim: int | None = None, *, forget_bias: float = 0.0, dtype=None,
                 device=None, generator: torch.Generator | None = None):
        super().__init__()
        if cell_type not in CELLS or condition not in CONDITIONS:
            raise ValueError(f"cell_type should be one of {sorted(CELLS)} and condition one of "
                             f"{CONDITIONS}; got {cell_type!r} and {condition!r}.")
        attention = "additive" if attention is True else attention
        if attention not in (False, None, *ATTENTIONS):
            raise ValueError(f"attention should be False, True or one of {sorted(ATTENTIONS)}; got {attention!r}.")
        if attention and spatial_dim is None:
            raise ValueError("attention=True needs spatial_dim, the size C of each location in A (N, R, C).")
        self.word_to_idx = dict(word_to_idx)
        self.null, self.start, self.end = (word_to_idx[w] for w in ("<NULL>", "<START>", "<END>"))
        self.cell_type, self.condition, self.use_attention = cell_type, condition, bool(attention)
        self.attention_kind = attention or None
        V, E, H = len(word_to_idx), wordvec_dim, hidden_dim  # F, the image-vector size, is input_dim
        self.input_dim, self.hidden_dim, self.vocab_size = input_dim, H, V
        kw = dict(device=device, dtype=dtype)
        self.W_proj = nn.Parameter(torch.empty(input_dim, H, **kw))
        self.b_proj = nn.Parameter(torch.zeros(H, **kw))
        self.W_embed = nn.Parameter(torch.empty(V, E, **kw))
        self.W_vocab = nn.Parameter(torch.empty(H, V, **kw))
        self.b_vocab = nn.Parameter(torch.zeros(V, **kw))
        with torch.no_grad():
            for p, std in ((self.W_proj, 1 / math.sqrt(input_dim)), (self.W_embed, 1.0),
                           (self.W_vocab, 0.01)):
                p.copy_(torch.randn(p.shape, dtype=p.dtype, generator=generator) * std)
        cell_in = E + (input_dim if condition != "h0" else 0) + (spatial_dim if attention else 0)
        extra = {"forget_bias": forget_bias} if cell_type == "lstm" else {}
        self.cell = CELLS[cell_type](cell_in, H, generator=generator, **extra, **kw)
        if attention == "additive":
            self.attention = SoftAttention(H, spatial_dim, attention_dim or H, generator=generator, **kw)
        else:
            self.attention = DotAttention(H, spatial_dim, generator=generator, **kw) if attention else None

    def init_state(self, features: torch.Tensor, A: torch.Tensor | None = None,
                   mask: torch.Tensor | None = None) -> dict:
        """The decoder state before the first word: a dict with h (N, H), c (N, H) for an LSTM,
        and v, A, AW_A (A's attention term, computed once) and mask for the steps that need them.
        mask: optional bool (N, R), True at the locations attention may read (not padding)."""
        check_shape(features, (None, self.input_dim), "features", "NF")
        if self.use_attention and A is None:
            raise ValueError("this decoder has attention: pass the spatial features A (N, R, C) too.")
        N, H = features.shape[0], self.hidden_dim
        h0 = features @ self.W_proj + self.b_proj if self.condition != "step" else features.new_zeros(N, H)
        state = {"h": h0, "c": h0.new_zeros(N, H) if self.cell_type == "lstm" else None,
                 "v": features, "A": A, "AW_A": None, "mask": mask}
        if self.use_attention:
            state["AW_A"] = self.attention.precompute(A)  # (N, R, K)
        return state

    def _advance(self, state: dict, x_t: torch.Tensor):
        """One cell step from word vectors x_t (N, E); returns (next state, alpha (N, R) or None)."""
        parts, alpha = [x_t], None
        if self.condition != "h0":
            parts.append(state["v"])
        if self.use_attention:
            z, alpha = self.attention(state["h"], state["A"], state.get("mask"), AW_A=state["AW_A"])
            parts.append(z)
        x = torch.cat(parts, dim=1)[:, None]  # (N, 1, cell input): a sequence of one step
        if self.cell_type == "lstm":
            _, (h, c) = self.cell(x, (state["h"], state["c"]))
        else:
            (_, h), c = self.cell(x, state["h"]), None
        return {**state, "h": h, "c": c}, alpha

    def step(self, state: dict, words: torch.Tensor):
        """Feed one word per sequence: words (N,) int -> (scores (N, V), next state, alpha (N, R) or None)."""
        words = torch.as_tensor(words, device=self.W_embed.device).long()
        state, alpha = self._advance(state, self.W_embed[words])
        return state["h"] @ self.W_vocab + self.b_vocab, state, alpha

    def forward(self, features, captions_in, A=None, mask=None):
        """Teacher-forced scores for every step.

        Inputs:
        - features: v, of shape (N, F); A: spatial features (N, R, C), needed with attention
        - mask: optional bool (N, R), True where attention may look (see ``init_state``)
        - captions_in: input word ids, of shape (N, T), starting with <START>
        Returns a tuple of:
        - scores: (N, T, V)
        - alphas: attention weights, of shape (N, T, R), or None without attention
        """
        captions_in = torch.as_tensor(captions_in, device=self.W_embed.device).long()
        state = self.init_state(features, A, mask)
        x = self.W_embed[captions_in]  # (N, T, E)
        if self.use_attention:
            hs, alphas = [], []
            for x_t in x.unbind(1):
                state, alpha = self._advance(state, x_t)
                hs.append(state["h"])
                alphas.append(alpha)
            h, alphas = torch.stack(hs, 1), torch.stack(alphas, 1)  # (N, T, H), (N, T, R)
        else:
            if self.condition != "h0":
                x = torch.cat([x, features[:, None].expand(-1, x.shape[1], -1)], dim=2)
            run = getattr(self.cell, "fast_forward", self.cell.forward)
            if self.cell_type == "gru" and not self.cell.reset_after:
                run = self.cell.forward
            h0 = state["h"] if self.cell_type != "lstm" else (state["h"], state["c"])
            h, _ = run(x, h0)  # (N, T, H)
            alphas = None
        return h @ self.W_vocab + self.b_vocab, alphas

    def loss(self, features, captions, A=None) -> torch.Tensor:
        """CS231n's loss: captions (N, T+1) -> in = [:, :-1], out = [:, 1:], mask = out != <NULL>;
        temporal softmax loss summed over unmasked steps, divided by N. A scalar tensor."""
        captions = torch.as_tensor(captions, device=self.W_embed.device).long()
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        scores, _ = self(features, captions_in, A)
        return temporal_softmax_loss(scores, captions_out, captions_out != self.null)

    @torch.no_grad()
    def load_numpy_params(self, params: dict) -> None:
        """Copy weights given under the NumPy assignment's names (arrays or tensors):
        W_proj, b_proj, W_embed, W_vocab, b_vocab, Wx, Wh, b (GRU: b_x, b_h), and with attention
        W_A, W_ha, b_a, w_a. Every parameter must be given, each with its shape."""
        own = dict(self.named_parameters())
        names = {k.split(".")[-1]: k for k in own}
        missing = sorted(set(names) - set(params))
        unknown = sorted(set(params) - set(names))
        if missing or unknown:
            raise KeyError(f"load_numpy_params: missing {missing}, unknown {unknown}; expected "
                           f"exactly {sorted(names)}.")
        for short, full in names.items():
            value = torch.as_tensor(np.asarray(params[short]))
            check_shape(value, tuple(own[full].shape), short, "abc"[:own[full].ndim])
            own[full].copy_(value)

    def extra_repr(self) -> str:
        return f"cell={self.cell_type}, condition={self.condition}, attention={self.attention_kind}"


class Captioner(nn.Module):
    """Encoder + decoder. ``encoder`` maps images to (v, A); None means the inputs already are
    feature vectors v (N, F), e.g. CS231n's VGG features, and there is no A."""

    def __init__(self, encoder: nn.Module | None, decoder: CaptionModel):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, images):
        """(v (N, F), A (N, R, C) or None) for a batch of images (or feature vectors)."""
        if self.encoder is None:
            W_proj = self.decoder.W_proj
            return torch.as_tensor(images, device=W_proj.device, dtype=W_proj.dtype), None
        return self.encoder(images)

    def forward(self, images, captions_in):
        """Teacher-forced (scores (N, T, V), alphas (N, T, R) or None)."""
        v, A = self.encode(images)
        return self.decoder(v, captions_in, A)

    def loss(self, images, captions) -> torch.Tensor:
        """CaptionModel.loss on the encoded images; captions (N, T+1)."""
        v, A = self.encode(images)
        return self.decoder.loss(v, captions, A)
