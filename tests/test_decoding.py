"""Greedy, sampled and beam-search decoding (course_lib.decoding) on tabular toy models."""
import itertools
import math

import numpy as np
import pytest
import torch

from course_lib.decoding import beam_search, decode

NULL, START, END = 0, 1, 2


def _table(V=6, T=4, seed=0):
    """A toy model whose next-word log-probabilities depend on the step t and the previous word."""
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(2 * torch.randn(T, V, V, dtype=torch.float64, generator=g), dim=2)


def _batched(table):
    return lambda t, words: (table[t, words], t + 1)  # state = step number


def test_greedy_pads_with_null_after_end_and_never_emits_null_or_start():
    table = _table(V=6, T=8, seed=3)
    table[:, :, NULL] = table[:, :, START] = 0.0  # the most probable words, but banned
    words = decode(_batched(table), 0, START, END, N=1, max_length=8, banned=(NULL, START))
    words_all = decode(_batched(table), 0, START, END, N=3, max_length=8, banned=(NULL, START))
    assert words.shape == (1, 8) and words_all.shape == (3, 8) and words.dtype == np.int64
    for row in words_all:
        ended = np.flatnonzero(row == END)
        body = row[:ended[0] + 1] if len(ended) else row
        assert not np.isin(body, (NULL, START)).any()
        assert (row[len(body):] == NULL).all()


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.5])
def test_sampling_never_emits_banned_words_and_is_reproducible(temperature):
    table = _table(V=5, T=10, seed=1)
    table[:, :, START] = 3.0
    run = lambda: decode(_batched(table), 0, START, END, N=50, max_length=10, temperature=temperature,
                         banned=(NULL, START), generator=torch.Generator().manual_seed(0))
    words = run()
    np.testing.assert_array_equal(words, run())
    for row in words:
        n = np.flatnonzero(row == END)[0] + 1 if (row == END).any() else len(row)
        assert not np.isin(row[:n], (NULL, START)).any() and (row[n:] == NULL).all()


def test_tiny_temperature_is_greedy():
    table = _table(seed=4)
    greedy = decode(_batched(table), 0, START, END, N=4, max_length=4, banned=(NULL, START))
    cold = decode(_batched(table), 0, START, END, N=4, max_length=4, banned=(NULL, START),
                  temperature=1e-4, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(greedy, cold)


def _per_row(tables):
    """A batched toy model whose log-probs depend on the row's own table (an 'image'), the step
    and the previous word; the state holds each row's table id, which beam search must reorder."""
    return lambda state, words: (tables[state["img"], state["t"], words],
                                 {"t": state["t"] + 1, "img": state["img"]})


def _log_p(table, words):
    return sum(float(table[t, prev, w]) for t, (prev, w) in enumerate(zip([START] + list(words), words)))


@pytest.mark.parametrize("seed", range(5))
def test_beam_width_one_is_greedy(seed):
    tables = torch.stack([_table(V=7, T=6, seed=10 * seed + i) for i in range(4)])
    state0 = {"t": 0, "img": torch.arange(4)}
    greedy = decode(_per_row(tables), state0, START, END, N=4, max_length=6, banned=(NULL, START))
    words, scores = beam_search(_per_row(tables), state0, START, END, 4, beam_width=1, max_length=6,
                                banned=(NULL, START))
    np.testing.assert_array_equal(words, greedy)
    for i in range(4):
        body = [int(w) for w in words[i] if w != NULL]
        assert scores[i] == pytest.approx(_log_p(tables[i], body))


def _exhaustive(table, max_length, allowed, length_penalty):
    """Best sequence by enumerating them all: END only last, or max_length words without END."""
    best = None
    for n in range(1, max_length + 1):
        for words in itertools.product(allowed, repeat=n):
            if END in words[:-1] or (words[-1] != END and n < max_length):
                continue
            logp = _log_p(table, words)
            key = logp / n ** length_penalty
            if best is None or key > best[0]:
                best = (key, list(words), logp)
    return best[1], best[2]


@pytest.mark.parametrize("seed,length_penalty", [(0, 0.0), (1, 0.0), (2, 1.0), (3, 0.5)])
def test_wide_beam_is_exhaustive_search(seed, length_penalty):
    V, L, N = 5, 3, 3  # words 2 (END), 3, 4 allowed
    tables = torch.stack([_table(V=V, T=L, seed=10 * seed + i) for i in range(N)])
    words, scores = beam_search(_per_row(tables), {"t": 0, "img": torch.arange(N)}, START, END, N,
                                beam_width=V ** L, max_length=L, length_penalty=length_penalty,
                                banned=(NULL, START))
    for i in range(N):
        best_words, best_logp = _exhaustive(tables[i], L, (END, 3, 4), length_penalty)
        assert [int(w) for w in words[i] if w != NULL] == best_words
        assert scores[i] == pytest.approx(best_logp)


def test_beam_of_two_beats_greedy_on_a_hand_built_example():
    # words: 2 = END, 3 = A, 4 = B. First word: A 0.5, B 0.4, END 0.1.
    # After A: END 0.34, A 0.33, B 0.33; after B: END 0.9, A 0.05, B 0.05.
    p = torch.zeros(2, 5, 5, dtype=torch.float64)
    p[0, START, [END, 3, 4]] = torch.tensor([0.1, 0.5, 0.4], dtype=torch.float64)
    p[1, 3, [END, 3, 4]] = torch.tensor([0.34, 0.33, 0.33], dtype=torch.float64)
    p[1, 4, [END, 3, 4]] = torch.tensor([0.9, 0.05, 0.05], dtype=torch.float64)
    step = _batched(p.log())
    greedy, g_score = beam_search(step, 0, START, END, 1, 1, 2, banned=(NULL, START))
    beam, b_score = beam_search(step, 0, START, END, 1, 2, 2, banned=(NULL, START))
    assert greedy.tolist() == [[3, END]] and g_score[0] == pytest.approx(math.log(0.5 * 0.34))
    assert beam.tolist() == [[4, END]] and b_score[0] == pytest.approx(math.log(0.4 * 0.9))


def test_beam_returns_unfinished_hypothesis_at_max_length_and_checks_arguments():
    log_p = torch.log(torch.tensor([[1e-9, 1e-9, 1e-6, 0.5, 0.5]], dtype=torch.float64))  # END almost never
    step = lambda s, w: (log_p.expand(len(w), -1), s)
    words, _ = beam_search(step, None, START, END, 1, 3, 4, banned=(NULL, START))
    assert words.shape == (1, 4) and END not in words and NULL not in words
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(step, None, START, END, 1, 0, 4)
    with pytest.raises(ValueError, match="banned"):
        beam_search(step, None, START, END, 1, 2, 4, banned=range(5))
    with pytest.raises(ValueError, match="end id"):
        decode(lambda s, w: (torch.zeros(1, 5), s), None, START, END, 1, 3, banned=(END,))
