"""course_lib.sequences: padding, masks, last valid states, masked runs against torch.nn's packed runs."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_lib.gru import GRU, to_torch_gru_state_dict
from course_lib.lstm import LSTM, to_torch_lstm_state_dict
from course_lib.rnn import RNN, to_torch_rnn_state_dict
from course_lib.sequences import (SequenceClassifier, first_token_task, last_valid, length_mask,
                                  masked_forward, pad_sequences, reverse_padded)

f64 = torch.float64
LENGTHS = (3, 6, 1, 4)  # unsorted on purpose
D, H = 3, 5


def _seqs(seed=0, lengths=LENGTHS):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(T_i, D, dtype=f64, generator=gen) for T_i in lengths]


def _layer(kind, seed=1):
    cls = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind]
    return cls(D, H, dtype=f64, generator=torch.Generator().manual_seed(seed))


def _torch_twin(layer):
    """The torch.nn layer with the course layer's weights (one direction)."""
    if isinstance(layer, LSTM):
        twin = nn.LSTM(D, H, batch_first=True, dtype=f64)
        sd = to_torch_lstm_state_dict(layer.Wx, layer.Wh, layer.b)
    elif isinstance(layer, GRU):
        twin = nn.GRU(D, H, batch_first=True, dtype=f64)
        sd = to_torch_gru_state_dict(layer.Wx, layer.Wh, layer.b_x, layer.b_h)
    else:
        twin = nn.RNN(D, H, batch_first=True, dtype=f64)
        sd = to_torch_rnn_state_dict(layer.Wx, layer.Wh, layer.b)
    twin.load_state_dict(sd)
    return twin


def _final_h(state):
    return state[0] if isinstance(state, tuple) else state


def test_pad_sequences_layout_and_lengths():
    seqs = [np.ones((2, 2)), 2 * np.ones((3, 2)), 3 * np.ones((1, 2))]
    x, lengths = pad_sequences(seqs, pad_value=-1.0)
    assert lengths.tolist() == [2, 3, 1] and lengths.dtype == torch.int64
    expected = torch.tensor([[[1, 1], [1, 1], [-1, -1]],
                             [[2, 2], [2, 2], [2, 2]],
                             [[3, 3], [-1, -1], [-1, -1]]], dtype=x.dtype)
    assert torch.equal(x, expected)


def test_pad_sequences_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(T_i, D\)"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"\(T_i, D\)"):
        pad_sequences([np.ones((0, 3))])
    with pytest.raises(ValueError, match="at least one"):
        pad_sequences([])


def test_length_mask_by_hand():
    mask = length_mask(torch.tensor([2, 0, 4]), 4)
    assert mask.dtype == torch.bool
    assert mask.int().tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]


def test_last_valid_picks_each_rows_own_last_step():
    h = torch.arange(3 * 4 * 2).reshape(3, 4, 2)  # h[i, t] = [8i + 2t, 8i + 2t + 1]
    out = last_valid(h, torch.tensor([2, 4, 1]))
    assert out.tolist() == [[2, 3], [14, 15], [16, 17]]  # steps t = 1, 3, 0
    with pytest.raises(ValueError, match="lengths"):
        last_valid(h, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="lengths"):
        last_valid(h, torch.tensor([5, 1, 1]))


def test_reverse_padded_by_hand():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])[..., None]
    y = reverse_padded(x, torch.tensor([3, 2, 4]))
    assert y[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]]
    assert torch.equal(reverse_padded(y, torch.tensor([3, 2, 4])), x)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_masked_forward_equals_each_sequence_alone(kind):
    layer, seqs = _layer(kind), _seqs()
    x, lengths = pad_sequences(seqs, pad_value=7.0)  # whatever sits in the padding must not matter
    h, state = masked_forward(layer, x, lengths)
    for i, s in enumerate(seqs):
        h_alone, state_alone = layer(s[None])
        T_i = len(s)
        torch.testing.assert_close(h[i, :T_i], h_alone[0], rtol=0, atol=1e-12)
        assert torch.all(h[i, T_i:] == 0)
        torch.testing.assert_close(_final_h(state)[i], _final_h(state_alone)[0], rtol=0, atol=1e-12)
        if kind == "lstm":
            torch.testing.assert_close(state[1][i], state_alone[1][0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_masked_forward_equals_torch_packed(kind):
    layer, seqs = _layer(kind), _seqs(seed=2)
    x, lengths = pad_sequences(seqs)
    h, state = masked_forward(layer, x, lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, torch_state = _torch_twin(layer)(packed)
    out, _ = pad_packed_sequence(out, batch_first=True)
    torch.testing.assert_close(h, out, rtol=0, atol=1e-12)
    torch.testing.assert_close(_final_h(state), _final_h(torch_state)[0], rtol=0, atol=1e-12)
    if kind == "lstm":
        torch.testing.assert_close(state[1], torch_state[1][0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_padding_changes_no_loss_or_gradient(kind):
    """A masked per-step loss and a loss on h_T: the padded batch's gradients, masked (course
    layer) and packed (torch.nn), are the sums of the gradients of each sequence run alone."""
    layer, seqs = _layer(kind), _seqs(seed=3)
    gen = torch.Generator().manual_seed(4)
    targets = [torch.randn(len(s), H, dtype=f64, generator=gen) for s in seqs]
    x, lengths = pad_sequences(seqs, pad_value=-3.0)
    y, _ = pad_sequences(targets)
    mask = length_mask(lengths, x.shape[1])[..., None]
    twin = _torch_twin(layer)

    def loss_of(h, h_T, y, m=1.0):  # a per-step loss on the valid steps, and one on the last state
        return ((h - y) ** 2 * m).sum() + (h_T ** 3).sum()

    h, state = masked_forward(layer, x, lengths)
    g_masked = torch.autograd.grad(loss_of(h, _final_h(state), y, mask), list(layer.parameters()))
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, torch_state = twin(packed)
    out, _ = pad_packed_sequence(out, batch_first=True)
    loss_packed = loss_of(out, _final_h(torch_state)[0], y, mask)
    g_packed = torch.autograd.grad(loss_packed, list(twin.parameters()))

    loss_alone, g_alone, g_twin_alone = 0.0, None, None
    for s, t in zip(seqs, targets):
        h_i, state_i = layer(s[None])
        l_i = loss_of(h_i[0], _final_h(state_i)[0], t)
        g_i = torch.autograd.grad(l_i, list(layer.parameters()))
        o_i, ts_i = twin(s[None])
        g_t = torch.autograd.grad(loss_of(o_i[0], _final_h(ts_i)[0, 0], t), list(twin.parameters()))
        loss_alone = loss_alone + l_i.item()
        g_alone = g_i if g_alone is None else [a + b for a, b in zip(g_alone, g_i)]
        g_twin_alone = g_t if g_twin_alone is None else [a + b for a, b in zip(g_twin_alone, g_t)]
    assert loss_packed.item() == pytest.approx(loss_alone, rel=1e-12)
    for a, b in zip(g_masked, g_alone):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(g_packed, g_twin_alone):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_unmasked_padding_does_change_the_last_state():
    """The bug the page shows: without the mask, h_T of a short sequence is read after the padding."""
    layer, seqs = _layer("gru"), _seqs()
    x, lengths = pad_sequences(seqs)
    _, h_T = layer(x)
    _, h_T_masked = masked_forward(layer, x, lengths)
    short = lengths < x.shape[1]
    assert (h_T[short] - h_T_masked[short]).abs().amax(1).min() > 1e-3
    torch.testing.assert_close(h_T[~short], h_T_masked[~short], rtol=0, atol=1e-12)


def test_bidirectional_torch_gru_equals_two_masked_runs():
    fwd, bwd, seqs = _layer("gru", 5), _layer("gru", 6), _seqs(seed=7)
    x, lengths = pad_sequences(seqs)
    bi = nn.GRU(D, H, batch_first=True, bidirectional=True, dtype=f64)
    sd = to_torch_gru_state_dict(fwd.Wx, fwd.Wh, fwd.b_x, fwd.b_h)
    sd |= {k + "_reverse": v for k, v in to_torch_gru_state_dict(bwd.Wx, bwd.Wh, bwd.b_x, bwd.b_h).items()}
    bi.load_state_dict(sd)
    out, h_n = bi(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, batch_first=True)  # (N, T, 2H)
    h_fwd, h_T = masked_forward(fwd, x, lengths)
    h_rev, h_1 = masked_forward(bwd, reverse_padded(x, lengths), lengths)
    h_bwd = reverse_padded(h_rev, lengths)  # back to time order
    torch.testing.assert_close(out, torch.cat([h_fwd, h_bwd], -1), rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n[0], h_T, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n[1], h_1, rtol=0, atol=1e-12)
    # the backward final state is the one that has read x_1 last: each sequence flipped, run alone
    for i, s in enumerate(seqs):
        torch.testing.assert_close(h_n[1, i], bwd(s.flip(0)[None])[1][0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_classifier_ignores_padding(bidirectional):
    gen = torch.Generator().manual_seed(0)
    model = SequenceClassifier(D, H, 4, bidirectional=bidirectional, packed=True, generator=gen).double()
    seqs = _seqs(seed=8)
    x, lengths = pad_sequences(seqs, pad_value=2.0)
    scores = model(x, lengths)
    alone = torch.cat([model(s[None], torch.tensor([len(s)])) for s in seqs])
    torch.testing.assert_close(scores, alone, rtol=0, atol=1e-12)
    unpacked = SequenceClassifier(D, H, 4, bidirectional=bidirectional, packed=False,
                                  generator=torch.Generator().manual_seed(0)).double()
    unpacked.load_state_dict(model.state_dict())
    assert (unpacked(x, lengths) - scores).abs().max() > 1e-3  # running over the padding changes them


def test_first_token_task_is_deterministic_and_labelled_by_its_first_token():
    seqs, labels = first_token_task(300, seed=5, min_len=3, max_len=9, n_classes=3, vocab=6)
    again, labels_again = first_token_task(300, seed=5, min_len=3, max_len=9, n_classes=3, vocab=6)
    other, labels_other = first_token_task(300, seed=6, min_len=3, max_len=9, n_classes=3, vocab=6)
    assert all(np.array_equal(a, b) for a, b in zip(seqs, again)) and np.array_equal(labels, labels_again)
    assert not (all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(seqs, other))
                and np.array_equal(labels, labels_other))
    assert labels.dtype == np.int64 and labels.shape == (300,)
    lengths = [len(s) for s in seqs]
    assert min(lengths) == 3 and max(lengths) == 9  # 300 draws cover the range
    for s, label in zip(seqs, labels):
        assert s.dtype == np.float32 and s.shape[1] == 6
        assert np.all(s.sum(1) == 1) and set(np.unique(s)) <= {0.0, 1.0}  # one-hot rows
        first = int(np.flatnonzero(s[0])[0])
        assert first == label < 3
    # every class occurs, and the tokens after the first use the whole vocabulary
    assert set(labels.tolist()) == {0, 1, 2}
    assert {int(np.flatnonzero(row)[0]) for s in seqs for row in s[1:]} == set(range(6))


def test_first_token_task_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        first_token_task(3, seed=0, n_classes=9, vocab=8)
    with pytest.raises(ValueError, match="min_len"):
        first_token_task(3, seed=0, min_len=5, max_len=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_masked_forward_on_cuda_matches_cpu():
    layer, seqs = _layer("lstm"), _seqs()
    x, lengths = pad_sequences(seqs)
    h_cpu, _ = masked_forward(layer, x, lengths)
    h_gpu, _ = masked_forward(layer.to("cuda"), x.to("cuda"), lengths)
    torch.testing.assert_close(h_gpu.cpu(), h_cpu, rtol=1e-9, atol=1e-9)
    assert last_valid(h_gpu, lengths).device.type == "cuda"
