"""Sequence to sequence (course_lib.seq2seq): padding invariance, batching, a copy task, decoding, errors."""
import itertools

import numpy as np
import pytest
import torch

from course_lib.seq2seq import Seq2Seq, by_length, exact_match, train_seq2seq, translate

SPECIALS = ["<NULL>", "<START>", "<END>"]
SRC_W2I = {w: i for i, w in enumerate(SPECIALS + ["s0", "s1", "s2", "s3", "s4"])}
TGT_W2I = {w: i for i, w in enumerate(SPECIALS + ["t0", "t1", "t2", "t3", "t4", "t5"])}
CELLS = ["rnn", "lstm", "gru"]
ATTENTIONS = [None, "additive", "dot"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: one CPU thread for small models


def _model(cell, attention, seed=0, **kw):
    return Seq2Seq(SRC_W2I, TGT_W2I, wordvec_dim=kw.pop("E", 4), hidden_dim=kw.pop("H", 6), cell_type=cell,
                   attention=attention, attention_dim=kw.pop("K", 5), dtype=torch.float64,
                   generator=torch.Generator().manual_seed(seed), **kw)


def _batch(seed=0):
    """src (3, 5) with lengths 5, 2, 3 and <NULL> after; tgt (3, 7) = [<START>, 5, 2, 4 words, <END>, <NULL>...]."""
    rng = np.random.default_rng(seed)
    src_len, tgt_len = np.array([5, 2, 3]), np.array([5, 2, 4])
    src = np.zeros((3, 5), dtype=np.int64)
    tgt = np.zeros((3, 7), dtype=np.int64)
    for n in range(3):
        src[n, :src_len[n]] = rng.integers(3, len(SRC_W2I), src_len[n])
        tgt[n, 0], tgt[n, tgt_len[n] + 1] = 1, 2
        tgt[n, 1:tgt_len[n] + 1] = rng.integers(3, len(TGT_W2I), tgt_len[n])
    return torch.as_tensor(src), torch.as_tensor(src_len), torch.as_tensor(tgt)


def _loss_and_grads(model, src, lengths, tgt):
    model.zero_grad(set_to_none=True)
    loss = model.loss(src, lengths, tgt)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("cell, attention", list(itertools.product(CELLS, ATTENTIONS)))
def test_padding_changes_no_loss_or_gradient(cell, attention):
    model = _model(cell, attention)
    src, lengths, tgt = _batch()
    loss, grads = _loss_and_grads(model, src, lengths, tgt)
    assert loss > 0 and all(g.abs().sum() > 0 for g in grads.values())  # every gradient is compared
    padded = torch.cat([src, torch.zeros(3, 3, dtype=torch.long)], dim=1)   # 3 more <NULL> columns
    pad_positions = torch.arange(8) >= lengths[:, None]
    garbage = torch.where(pad_positions, torch.randint(0, len(SRC_W2I), (3, 8),
                                                       generator=torch.Generator().manual_seed(1)), padded)
    assert (garbage[pad_positions] != 0).any()
    longer_tgt = torch.cat([tgt, torch.zeros(3, 4, dtype=torch.long)], dim=1)  # 4 more <NULL> columns
    for s, t in ((padded, tgt), (garbage, tgt), (src, longer_tgt), (garbage, longer_tgt)):
        loss2, grads2 = _loss_and_grads(model, s, lengths, t)
        torch.testing.assert_close(loss2, loss, rtol=1e-12, atol=1e-12)
        assert grads2.keys() == grads.keys()
        for name in grads:
            torch.testing.assert_close(grads2[name], grads[name], rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("cell, attention", [("gru", None), ("lstm", "additive"), ("rnn", "dot"), ("gru", "dot")])
def test_batch_equals_sentences_one_at_a_time(cell, attention):
    model = _model(cell, attention, seed=2)
    src, lengths, tgt = _batch(seed=3)
    tgt_len = (tgt != 0).sum(1) - 2
    scores, alphas = model(src, lengths, tgt[:, :-1])
    assert scores.shape == (3, 6, len(TGT_W2I))
    assert (alphas is None) == (attention is None)
    singles = []
    for n in range(3):
        S, T = int(lengths[n]), int(tgt_len[n])
        one_src, one_tgt = src[n:n + 1, :S], tgt[n:n + 1, :T + 2]
        s1, a1 = model(one_src, lengths[n:n + 1], one_tgt[:, :-1])
        torch.testing.assert_close(scores[n, :T + 1], s1[0], rtol=1e-12, atol=1e-12)
        if attention:
            assert alphas.shape == (3, 6, 5)
            torch.testing.assert_close(alphas[n, :T + 1, :S], a1[0], rtol=1e-12, atol=1e-12)
            assert (alphas[n, :, S:] == 0).all()
        singles.append(model.loss(one_src, lengths[n:n + 1], one_tgt))
    torch.testing.assert_close(model.loss(src, lengths, tgt), sum(singles) / 3, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_encode_bottleneck_is_last_valid_state(cell):
    model = _model(cell, "dot")
    src, lengths, _ = _batch()
    v, A, mask = model.encode(src, lengths)
    assert v.shape == (3, 6) and A.shape == (3, 5, 6) and mask.shape == (3, 5)
    torch.testing.assert_close(v, A[torch.arange(3), lengths - 1], rtol=0, atol=0)
    assert mask.tolist() == [[True] * 5, [True, True, False, False, False], [True, True, True, False, False]]
    assert (A[~mask] == 0).all() and (A[mask] != 0).any(dim=-1).all()


def test_by_length_on_hand_made_arrays():
    Ls, means = by_length(np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.5]), np.array([3, 2, 3, 5, 3, 2]))
    np.testing.assert_array_equal(Ls, [2, 3, 5])
    np.testing.assert_allclose(means, [0.25, 2 / 3, 1.0])
    Ls, means = by_length([4, 8], [7, 7])
    assert Ls.tolist() == [7] and means.tolist() == [6.0]


def test_errors():
    with pytest.raises(ValueError, match="cell_type"):
        _model("transformer", None)
    with pytest.raises(ValueError, match="attention should be"):
        _model("gru", "luong")
    model = _model("gru", "additive")
    src, lengths, tgt = _batch()
    for bad in (torch.tensor([5, 0, 3]), torch.tensor([6, 2, 3]), torch.tensor([5, 2]), torch.tensor([[5, 2, 3]])):
        with pytest.raises(ValueError, match="lengths should be"):
            model.loss(src, bad, tgt)
        with pytest.raises(ValueError, match="lengths should be"):
            translate(model, src, bad)
    with pytest.raises(ValueError, match="src should have shape"):
        model.encode(src[0], lengths[:1])
    with pytest.raises(ValueError, match="needs a model with attention"):
        translate(_model("gru", None), src, lengths, return_attention=True)
    with pytest.raises(ValueError, match="greedy"):
        translate(_model("gru", "dot"), src, lengths, beam_width=2, return_attention=True)


# ---- a copy task: the target is the source, word for word ----

COPY_WORDS = SPECIALS + [f"w{i}" for i in range(6)]
COPY_W2I = {w: i for i, w in enumerate(COPY_WORDS)}
COPY_MAX = 6


def _copy_data(seed=0, sizes=(("train", 1000), ("val", 20), ("test", 200))):
    """translation_dataset's layout; each sentence 2..6 distinct words, no sentence in two splits."""
    rng, seen, data = np.random.default_rng(seed), set(), {"src_word_to_idx": COPY_W2I, "tgt_word_to_idx": COPY_W2I}
    for split, n in sizes:
        src = np.zeros((n, COPY_MAX), dtype=np.int64)
        tgt = np.zeros((n, COPY_MAX + 2), dtype=np.int64)
        lengths = np.zeros(n, dtype=np.int64)
        i = 0
        while i < n:
            L = int(rng.integers(2, COPY_MAX + 1))
            words = tuple(int(w) + 3 for w in rng.permutation(6)[:L])
            if words in seen:
                continue
            seen.add(words)
            src[i, :L], lengths[i] = words, L
            tgt[i, 0], tgt[i, 1:L + 1], tgt[i, L + 1] = 1, words, 2
            i += 1
        data[f"{split}_src"], data[f"{split}_lengths"], data[f"{split}_tgt"] = src, lengths, tgt
    return data


@pytest.fixture(scope="module")
def copy_model():
    """(model, data, exact match before training, history): GRU, H=32, dot attention, about 5 s of training."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    data = _copy_data()
    model = Seq2Seq(COPY_W2I, COPY_W2I, wordvec_dim=16, hidden_dim=32, cell_type="gru", attention="dot",
                    generator=torch.Generator().manual_seed(0))
    before = float(exact_match(model, data, "test").mean())
    # Adam's steps at a constant rate leave a little noise; a few epochs at a lower rate settle it
    history = train_seq2seq(model, data, epochs=8, batch_size=32, lr=5e-3, seed=0, device="cpu", progress=False)
    history2 = train_seq2seq(model, data, epochs=4, batch_size=32, lr=1e-3, seed=1, device="cpu", progress=False)
    torch.set_num_threads(old)
    return model, data, before, {k: history[k] + history2[k] for k in ("loss", "val_exact")}


def test_copy_task_is_learned_perfectly(copy_model):
    model, data, before, history = copy_model
    assert before < 0.1
    assert len(history["val_exact"]) == 12 and len(history["loss"]) == 12 * 32  # ceil(1000 / 32) updates per epoch
    assert np.mean(history["loss"][-32:]) < 0.1 * np.mean(history["loss"][:5])
    ok = exact_match(model, data, "test")
    assert ok.shape == (200,) and ok.mean() == 1.0
    ids = translate(model, data["test_src"], data["test_lengths"])
    assert ids.shape == (200, COPY_MAX + 2)
    for n in range(5):
        L = data["test_lengths"][n]
        assert ids[n].tolist() == data["test_src"][n, :L].tolist() + [2] + [0] * (COPY_MAX + 1 - L)


def test_exact_match_counts_wrong_translations(copy_model):
    """exact_match compares against the reference, so a reference the model cannot know scores 0."""
    model, data, _, _ = copy_model
    wrong = {**data, "test_tgt": data["test_tgt"].copy()}
    wrong["test_tgt"][:50, 1] = np.where(wrong["test_tgt"][:50, 1] == 3, 4, 3)  # first word changed
    rows = exact_match(model, wrong, "test")
    assert rows[:50].sum() == 0 and rows[50:].mean() == 1.0


def test_greedy_equals_beam_search_on_the_copy_task(copy_model):
    model, data, _, _ = copy_model
    src, lengths = data["test_src"], data["test_lengths"]
    greedy = translate(model, src, lengths)
    beam = translate(model, src, lengths, beam_width=3)
    np.testing.assert_array_equal(beam, greedy)
    assert exact_match(model, data, "test", beam_width=3).mean() == 1.0


def test_attention_weights_from_translate(copy_model):
    model, data, _, _ = copy_model
    src, lengths = data["test_src"][:40], data["test_lengths"][:40]
    ids, alphas = translate(model, src, lengths, return_attention=True)
    np.testing.assert_array_equal(ids, translate(model, src, lengths))
    N, S = src.shape
    assert alphas.shape == (N, S + 2, S)
    generated = ids != 0  # the words (and <END>) that were emitted
    np.testing.assert_allclose(alphas.sum(2)[generated], 1.0, rtol=1e-5)
    padded = np.arange(S)[None, :] >= lengths[:, None]  # (N, S)
    assert (alphas.transpose(0, 2, 1)[padded] == 0).all()
    steps = int(generated.sum(1).max())  # decoding stops when every sentence has ended
    assert (alphas[:, steps:] == 0).all()
    ids3, alphas3 = translate(model, src, lengths, return_attention=True, max_length=3)
    assert ids3.shape == (N, 3) and alphas3.shape == (N, 3, S)
