"""Sequence to sequence: a recurrent encoder, Chapter 6's decoder, optional attention over the encoder.

    x_i = W_embed_src[src_i]                         source word vectors, i = 1..S_n (N, S, E)
    A_i = cell_enc(x_i, A_{i-1})                     encoder states, frozen after S_n  (N, S, H)
    v = A_{S_n}                                      the last valid state: the bottleneck (N, H)
    decoder = CaptionModel(condition="h0")           h_0 = v W_proj + b_proj, then Chapter 6's steps,
                                                     with z_t = attend(h_{t-1}, A, mask) if attention

Without attention the decoder sees the source only through v. With attention ('additive' for
Bahdanau et al. 2015, 'dot' for Luong et al. 2015) every step reads a weighted mean of all S_n encoder
states; the mask gives padded positions weight exactly zero. The encoder runs the course_lib cell
with ``masked_forward`` (Chapter 5), so padding changes neither the states nor the loss.
Shapes: src (N, S) ids with <NULL> = 0 after each sentence, lengths (N,), tgt (N, T + 2) ids
[<START>, words, <END>, <NULL>...] as captions. Decoding (greedy, beam) is course_lib.decoding's.
"""
import time

import numpy as np
import torch
from torch import nn

from course_lib.captioning import CELLS, CaptionModel, temporal_softmax_loss
from course_lib.decoding import beam_search, decode
from course_lib.device import get_device
from course_lib.layer_utils import check_shape
from course_lib.progress import progress_bar
from course_lib.sequences import length_mask, masked_forward


class Seq2Seq(nn.Module):
    """Encoder-decoder for translation, optionally with attention.

    Inputs:
    - src_word_to_idx, tgt_word_to_idx: vocabularies, each with '<NULL>' = 0, '<START>', '<END>'
    - wordvec_dim: E (both sides); hidden_dim: H (encoder and decoder)
    - cell_type: 'rnn', 'lstm' or 'gru' (course_lib's cells), for encoder and decoder
    - attention: None, 'additive' or 'dot'; attention_dim: K of the additive score (default H)
    - dtype, device, generator: as for the course_lib cells
    Parameters: W_embed_src (V_src, E) ~ N(0, 1), encoder (the cell's Wx, Wh, b), decoder (a
    CaptionModel with F = C = H: W_proj, W_embed, cell, W_vocab, attention).
    """

    def __init__(self, src_word_to_idx: dict, tgt_word_to_idx: dict, *, wordvec_dim: int = 32,
                 hidden_dim: int = 128, cell_type: str = "gru", attention: str | None = None,
                 attention_dim: int | None = None, dtype=None, device=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        if cell_type not in CELLS:
            raise ValueError(f"cell_type should be one of {sorted(CELLS)}, got {cell_type!r}.")
        kw = dict(dtype=dtype, device=device)
        self.src_null = src_word_to_idx["<NULL>"]
        self.W_embed_src = nn.Parameter(torch.randn(len(src_word_to_idx), wordvec_dim,
                                                    generator=generator, dtype=dtype).to(device))
        self.encoder = CELLS[cell_type](wordvec_dim, hidden_dim, generator=generator, **kw)
        self.decoder = CaptionModel(tgt_word_to_idx, input_dim=hidden_dim, wordvec_dim=wordvec_dim,
                                    hidden_dim=hidden_dim, cell_type=cell_type, condition="h0",
                                    attention=attention or False, spatial_dim=hidden_dim,
                                    attention_dim=attention_dim, generator=generator, **kw)

    def encode(self, src, lengths):
        """(v (N, H), A (N, S, H), mask (N, S)) for source ids src (N, S) of the given lengths (N,)."""
        src = torch.as_tensor(src, device=self.W_embed_src.device).long()
        check_shape(src, (None, None), "src", "NS")
        lengths = torch.as_tensor(lengths, device=src.device)
        if lengths.shape != (src.shape[0],) or lengths.min() < 1 or lengths.max() > src.shape[1]:
            raise ValueError(f"lengths should be (N,) = ({src.shape[0]},) values in 1..S = 1..{src.shape[1]}; "
                             f"got shape {tuple(lengths.shape)}.")
        return self.encode_vectors(self.W_embed_src[src], lengths)

    def encode_vectors(self, x: torch.Tensor, lengths):
        """``encode`` from the source word vectors x (N, S, E) instead of ids."""
        lengths = torch.as_tensor(lengths, device=x.device)
        A, h_T = masked_forward(self.encoder, x, lengths)  # (N, S, H), frozen after each end
        v = h_T[0] if isinstance(h_T, tuple) else h_T      # the LSTM's h_T, not its c_T
        return v, A, length_mask(lengths, x.shape[1])

    def init_state(self, src, lengths) -> dict:
        """The decoder's state before <START> (a dict of tensors, batch in dim 0)."""
        v, A, mask = self.encode(src, lengths)
        if not self.decoder.use_attention:
            return self.decoder.init_state(v)
        return self.decoder.init_state(v, A, mask)

    def forward(self, src, lengths, tgt_in, x: torch.Tensor | None = None):
        """Teacher-forced (scores (N, T, V_tgt), alphas (N, T, S) or None); tgt_in (N, T) starts
        with <START>. x: the source word vectors (N, S, E), if given, are used instead of src's."""
        v, A, mask = self.encode(src, lengths) if x is None else self.encode_vectors(x, lengths)
        if not self.decoder.use_attention:
            return self.decoder(v, tgt_in)
        return self.decoder(v, tgt_in, A, mask)

    def loss(self, src, lengths, tgt) -> torch.Tensor:
        """Chapter 6's loss on tgt (N, T + 2): per-sentence sum of cross-entropies over real words
        and <END>, averaged over the batch."""
        tgt = torch.as_tensor(tgt, device=self.W_embed_src.device).long()
        scores, _ = self(src, lengths, tgt[:, :-1])
        out = tgt[:, 1:]
        return temporal_softmax_loss(scores, out, out != self.decoder.null)


def _batches(data: dict, split: str, rows: np.ndarray):
    """(src, lengths, tgt) of the given rows, trimmed to the longest sentence among them."""
    lengths = data[f"{split}_lengths"][rows]
    L = int(lengths.max())
    return (torch.as_tensor(data[f"{split}_src"][rows, :L]), torch.as_tensor(lengths),
            torch.as_tensor(data[f"{split}_tgt"][rows, :L + 2]))


def train_seq2seq(model: Seq2Seq, data: dict, *, epochs: int = 5, batch_size: int = 64, lr: float = 3e-3,
                  clip: float = 5.0, seed: int = 0, device=None, progress: bool = True) -> dict:
    """Teacher forcing and Adam on data's train split, seeded batch order; val exact match per epoch.

    Returns a history: per update 'loss' and 'seconds' since the start; per epoch 'val_exact'
    (greedy exact-match accuracy on the val split).
    """
    device = get_device(None if device is None else str(device))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng, n = np.random.default_rng(seed), len(data["train_lengths"])
    history, start = {"loss": [], "seconds": [], "val_exact": []}, time.perf_counter()
    bar = progress_bar(total=epochs * -(-n // batch_size), desc="train", show=progress)
    for _ in range(epochs):
        model.train()
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            src, lengths, tgt = _batches(data, "train", order[i:i + batch_size])
            loss = model.loss(src.to(device), lengths, tgt.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            history["loss"].append(loss.item())
            history["seconds"].append(time.perf_counter() - start)
            bar.update()
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", refresh=False)
        history["val_exact"].append(float(exact_match(model, data, "val").mean()))
    bar.close()
    return history


@torch.no_grad()
def translate(model: Seq2Seq, src, lengths, *, beam_width: int = 1, length_penalty: float = 0.0,
              max_length: int | None = None, return_attention: bool = False):
    """Target ids (N, max_length) for source ids src (N, S): greedy (beam_width=1) or beam search.

    max_length defaults to S + 2 (the target has as many words as the source, plus <END>, plus one).
    With return_attention (greedy only) also returns alphas (N, max_length, S): the weights used
    before each generated word.
    """
    model.eval()
    dec = model.decoder
    state0 = model.init_state(src, lengths)
    N, S = state0["h"].shape[0], torch.as_tensor(src).shape[1]
    max_length = max_length or S + 2
    banned = (dec.null, dec.start)
    if return_attention and beam_width > 1:
        raise ValueError("return_attention=True works with greedy decoding (beam_width=1) only.")
    if beam_width > 1:
        return beam_search(lambda st, w: dec.step(st, w)[:2], state0, dec.start, dec.end, N, beam_width,
                           max_length, length_penalty=length_penalty, banned=banned, null=dec.null)[0]
    alphas = []

    def step(state, words):
        scores, state, alpha = dec.step(state, words)
        alphas.append(alpha)
        return scores, state

    ids = decode(step, state0, dec.start, dec.end, N, max_length, banned=banned, null=dec.null)
    if not return_attention:
        return ids
    if not dec.use_attention:
        raise ValueError("return_attention=True needs a model with attention.")
    out = torch.zeros(N, max_length, S)
    out[:, :len(alphas)] = torch.stack(alphas, dim=1).cpu().float()
    return ids, out.numpy()


def exact_match(model: Seq2Seq, data: dict, split: str, *, batch_size: int = 500, **decoding) -> np.ndarray:
    """Per sentence of ``split``: 1.0 if the decoded translation equals the reference word for word."""
    out = []
    for i in range(0, len(data[f"{split}_lengths"]), batch_size):
        src, lengths, tgt = _batches(data, split, np.arange(i, min(i + batch_size, len(data[f"{split}_lengths"]))))
        ids = translate(model, src, lengths, max_length=tgt.shape[1], **decoding)
        ref = tgt[:, 1:].numpy()
        out.append(np.all((ids[:, :ref.shape[1]] == ref) | (ref == model.decoder.null), axis=1)
                   & np.all(ids[:, ref.shape[1]:] == model.decoder.null, axis=1))
    return np.concatenate(out).astype(float)


def by_length(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct lengths, the mean of ``values`` at each)."""
    lengths = np.asarray(lengths)
    Ls = np.unique(lengths)
    return Ls, np.array([np.asarray(values)[lengths == L].mean() for L in Ls])


def source_gradient_norms(model: Seq2Seq, src, lengths, tgt) -> np.ndarray:
    """||dL/dx_i|| for every source position: how strongly the loss reaches back to each source
    word's vector x_i = W_embed_src[src_i]. Returns (N, S), zero at the padding. L is ``Seq2Seq.loss``
    per sentence (not divided by N)."""
    src, tgt = torch.as_tensor(src).long(), torch.as_tensor(tgt).long()
    x = model.W_embed_src[src].detach().requires_grad_(True)  # (N, S, E), a leaf
    scores, _ = model(src, lengths, tgt[:, :-1], x=x)
    out = tgt[:, 1:]
    (temporal_softmax_loss(scores, out, out != model.decoder.null) * len(src)).backward()
    return x.grad.norm(dim=2).numpy()
