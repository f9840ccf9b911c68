"""Decoding a sequence from a model one word at a time: greedy, temperature sampling, beam search.

Each function is generic over a *step function*, so captioning, language models and seq2seq share it:

    step_fn(state, words) -> (scores, next_state)

``decode`` (greedy and sampling) runs N sequences at once: words is an int64 tensor (N,) and scores
(N, V) are log-probabilities or unnormalised scores (softmax is shift-invariant, so either works).
``beam_search`` keeps ``beam_width`` hypotheses for each of N sequences, stacked in one batch of
N * beam_width rows. ``decode`` never looks inside the state; ``beam_search`` only picks rows of
its tensors (dim 0) as hypotheses are kept or dropped.
Words in ``banned`` (e.g. <NULL> and <START>) get score -inf, so they are never emitted.
"""
import math
from collections.abc import Callable, Iterable

import numpy as np
import torch


def decode(step_fn: Callable, state0, start: int, end: int, N: int, max_length: int, *,
           temperature: float = 0.0, banned: Iterable[int] = (), null: int = 0,
           generator: torch.Generator | None = None) -> np.ndarray:
    """Greedy (temperature=0) or sampled (temperature > 0) decoding of N sequences in a batch.

    Inputs:
    - step_fn: step_fn(state, words (N,) int64 on the CPU) -> (scores (N, V), next_state);
      it moves words to its own device
    - state0: the state before the first word; start, end: ids of <START> and <END>
    - N: number of sequences; max_length: number of words generated at most
    - temperature: 0 takes the argmax (ties -> lowest id); > 0 samples from softmax(scores / T)
    - banned: ids never emitted; null: the id written after a sequence's <END>
    - generator: torch.Generator for reproducible samples (on the device of the scores)
    Returns words, int64 array of shape (N, max_length): the generated ids (START not included,
    END included), ``null`` after END, like CS231n's CaptioningRNN.sample.
    """
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be 0 (greedy) or a finite number > 0, got {temperature!r}.")
    banned = sorted(set(int(w) for w in banned))
    if end in banned:
        raise ValueError(f"the end id {end} is banned, so no sequence could stop; remove it from banned.")
    state, out = state0, []
    words = torch.full((N,), start, dtype=torch.long)
    done = torch.zeros(N, dtype=torch.bool)
    for _ in range(max_length):
        scores, state = step_fn(state, words)
        scores = scores.detach().double().clone()  # (N, V)
        scores[:, banned] = -math.inf
        if temperature == 0:
            words = scores.argmax(dim=1)
        else:
            p = torch.softmax(scores / temperature, dim=1)
            words = torch.multinomial(p.to(generator.device) if generator else p, 1, generator=generator)[:, 0]
        words = words.cpu()
        out.append(torch.where(done, torch.full_like(words, null), words))
        done |= words == end
        if bool(done.all()):
            break
    out += [torch.full((N,), null, dtype=torch.long)] * (max_length - len(out))
    return torch.stack(out, dim=1).numpy() if out else np.zeros((N, 0), dtype=np.int64)


@torch.no_grad()
def beam_search(step_fn: Callable, state0, start: int, end: int, N: int, beam_width: int,
                max_length: int, *, length_penalty: float = 0.0, banned: Iterable[int] = (),
                null: int = 0):
    """Beam search for N sequences at once, the beams of all N stacked in one batch of N * B rows.

    Each sequence starts as [start] with score 0. At each of max_length steps every alive
    hypothesis is extended by every allowed word (score += log p); the best beam_width candidates
    are kept (by score; ties -> lower candidate index b * V + w, b the hypothesis' rank); those
    ending in ``end`` are finished, the rest stay alive, in rank order; a sequence's search stops
    when none of its hypotheses is alive. The answer is the best of the finished and the
    still-alive hypotheses by score / length**length_penalty (length = generated words, END
    included; ties -> the one finished first). Width 1 is greedy decoding; a width of at least
    V**max_length keeps every sequence, so it is exhaustive search.

    Inputs:
    - step_fn: step_fn(state, words (M,) int64 on the CPU) -> (scores (M, V), next_state), the
      protocol of ``decode``; scores are log-probabilities or logits (log_softmax is applied)
    - state0: the state of the N sequences before the first word: tensors (or arrays) with the
      batch in dim 0, possibly inside dicts, tuples or lists; anything else is passed unchanged
    - start, end: ids of <START> and <END>; N: number of sequences
    - beam_width: B >= 1; max_length: number of words generated at most
    - length_penalty: 0 ranks by total log-probability; 1 by mean log-probability per word
    - banned: ids never emitted (e.g. <NULL>, <START>); null: the id written after <END>
    Returns a tuple of:
    - words: int64 array (N, max_length), START not included, ``null`` after END (as ``decode``)
    - scores: float64 array (N,), the total log-probability of each answer
    """
    if beam_width < 1 or max_length < 1:
        raise ValueError(f"need beam_width >= 1 and max_length >= 1, got {beam_width} and {max_length}.")
    B, banned = beam_width, sorted(set(int(w) for w in banned))
    rows = torch.arange(N)
    state = _select(state0, rows.repeat_interleave(B))        # B copies of each sequence's state
    score = torch.full((N, B), -math.inf, dtype=torch.float64)
    score[:, 0] = 0.0                                          # one alive hypothesis; -inf: empty
    seqs = torch.zeros(N, B, 0, dtype=torch.long)              # (N, B, t) words so far
    last = torch.full((N * B,), start, dtype=torch.long)
    best_key = torch.full((N,), -math.inf, dtype=torch.float64)
    best_score = best_key.clone()
    best_words = torch.full((N, max_length), null, dtype=torch.long)
    for t in range(max_length):
        logits, next_state = step_fn(state, last)
        log_p = torch.log_softmax(logits.detach().cpu().double(), dim=1)  # (N * B, V)
        log_p[:, banned] = -math.inf
        V = log_p.shape[1]
        cand = (score[:, :, None] + log_p.view(N, B, V)).view(N, B * V)
        order = torch.sort(-cand, dim=1, stable=True).indices[:, :B]     # best first, ties -> lower
        top, b, w = cand.gather(1, order), order // V, order % V        # each (N, B)
        seqs = torch.cat([seqs.gather(1, b[:, :, None].expand(-1, -1, t)), w[:, :, None]], dim=2)
        finished = (top > -math.inf) & (w == end)
        key = torch.where(finished, top / (t + 1) ** length_penalty, -math.inf)
        _keep_best(key, top, seqs, best_key, best_score, best_words)
        alive = (top > -math.inf) & (w != end)
        rank = torch.sort((~alive).to(torch.int8), dim=1, stable=True).indices  # alive first, in order
        score = torch.where(alive, top, -math.inf).gather(1, rank)
        seqs, b, w = seqs.gather(1, rank[:, :, None].expand_as(seqs)), b.gather(1, rank), w.gather(1, rank)
        if t == 0 and not bool((finished | alive).any(dim=1).all()):
            raise ValueError("every word got log-probability -inf at the first step (all banned?).")
        if not bool(alive.any()):
            break
        state, last = _select(next_state, (rows[:, None] * B + b).reshape(-1)), w.reshape(-1)
    else:  # max_length reached: the alive hypotheses compete too (after the finished ones)
        _keep_best(score / max_length ** length_penalty, score, seqs, best_key, best_score, best_words)
    return best_words.numpy(), best_score.numpy()


def _keep_best(key, score, seqs, best_key, best_score, best_words) -> None:
    """Where the best of ``key`` (N, B) beats ``best_key`` (N,) strictly, take its score and words."""
    k, j = key.max(dim=1).values, key.argmax(dim=1)          # argmax: the first of equal keys
    better = k > best_key
    n = seqs.shape[2]
    best_key[better], best_score[better] = k[better], score.gather(1, j[:, None])[better, 0]
    best_words[better, :n] = seqs[better, j[better]]


def _select(state, index: torch.Tensor):
    """The rows ``index`` of every tensor or array in ``state`` (dicts, tuples and lists recursed)."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, np.ndarray):
        return state[index.numpy()]
    if isinstance(state, dict):
        return {k: _select(v, index) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(_select(v, index) for v in state)
    return state
