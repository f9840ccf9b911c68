"""course_lib.charlm: initial loss, overfitting, sampling, TBPTT borders, fast paths, LSTM and GRU cells."""
import math

import numpy as np
import pytest
import torch

from torch import nn

from course_lib.charlm import CharRNN, evaluate, make_streams, sample, tbptt_step, train
from course_lib.gru import to_torch_gru_state_dict
from course_lib.lstm import to_torch_lstm_state_dict
from course_lib.rnn import to_torch_rnn_state_dict
from course_lib.text import CharVocab

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
HELLO = "hello " * 200


def seeded(seed):
    return torch.Generator().manual_seed(seed)



def small_model(V=5, seed=0, dtype=None):
    return CharRNN(V, 8, 32, dtype=dtype, generator=seeded(seed))


def test_initial_loss_is_log_V():
    V = 20
    ids = np.random.default_rng(0).integers(V, size=2000)
    loss = evaluate(small_model(V), ids)
    assert abs(loss - math.log(V)) < 0.02, (loss, math.log(V))


def test_overfits_hello_and_samples_it_back(one_thread):
    vocab = CharVocab(HELLO)
    model = small_model(vocab.size)
    ids = vocab.encode(HELLO)
    history = train(model, ids, seq_len=12, batch_size=8, steps=150, lr=1e-2, device="cpu",
                    progress=False)
    first, last = history["loss"][0], np.mean(history["loss"][-10:])
    assert abs(first - math.log(vocab.size)) < 0.05
    assert last < 0.1, history["loss"][::10]
    assert evaluate(model, ids) < 0.1
    # near-greedy (the next character's probability is one-hot to rounding at this temperature),
    # so the text continues "hel" as the training text does, whatever the random stream
    out = sample(model, vocab.encode("hel"), 15, temperature=1e-3, generator=seeded(0))
    assert "hel" + vocab.decode(out) in HELLO


def test_history_has_one_entry_per_step(one_thread):
    model = small_model()
    ids = np.random.default_rng(0).integers(5, size=500)
    history = train(model, ids, seq_len=10, batch_size=4, steps=7, device="cpu", progress=True)
    assert history["step"] == list(range(1, 8))
    assert len(history["loss"]) == 7 and all(np.isfinite(history["loss"]))
    assert np.all(np.diff(history["seconds"]) >= 0) and history["seconds"][0] >= 0


def test_callback_sees_every_update_and_an_optimizer_carries_on(one_thread):
    ids = np.random.default_rng(0).integers(5, size=600)
    model = small_model()
    seen = []
    history = train(model, ids, seq_len=10, batch_size=4, steps=5, device="cpu", progress=False,
                    callback=lambda step, loss: seen.append((step, loss)))
    assert seen == list(zip(history["step"], history["loss"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        train(model, ids, seq_len=10, batch_size=4, steps=3, device="cpu", progress=False,
              optimizer=optimizer)
    assert optimizer.state[model.W_vocab]["step"].item() == 6  # Adam's state went on, not restarted


def test_training_is_reproducible_on_cpu(one_thread):
    ids = np.random.default_rng(0).integers(5, size=600)
    runs = [train(small_model(seed=1), ids, seq_len=10, batch_size=4, steps=20, seed=s,
                  device="cpu", progress=False)["loss"] for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_train_rejects_too_little_text():
    with pytest.raises(ValueError, match=r"need at least \(batch_size \+ 1\) \* seq_len = 90"):
        train(small_model(), np.zeros(89, dtype=np.int64), seq_len=10, batch_size=8, progress=False)


def test_make_streams_layout():
    x, y = make_streams(np.arange(23), batch_size=3, offset=1)
    # 23 ids, skip 1, keep one for the last target: 21 inputs = 3 streams of 7
    assert torch.equal(x, torch.arange(1, 22).view(3, 7))
    assert torch.equal(y, x + 1)


def test_chunks_carry_the_state_but_detach_it():
    """Each chunk starts from the previous chunk's final state, cut from its graph."""
    model = small_model()
    seen = []  # (h0 given to the RNN, h_T it returned)
    model.rnn.register_forward_hook(lambda mod, args, out: seen.append((args[1], out[1])))
    ids = np.random.default_rng(0).integers(5, size=4 * 3 * 10 + 10)  # 3 chunks per pass
    train(model, ids, seq_len=10, batch_size=4, steps=7, device="cpu", progress=False)
    assert len(seen) == 7
    carried = 0
    for (h0, _), (_, h_prev_last) in zip(seen[1:], seen[:-1]):
        if h0 is None:  # a new pass over the text starts from zeros
            continue
        carried += 1
        assert h0.grad_fn is None and not h0.requires_grad
        torch.testing.assert_close(h0, h_prev_last.detach())
        assert h_prev_last.grad_fn is not None  # it was part of a graph before the cut
    assert carried >= 4


def test_evaluate_carries_state_across_chunks():
    ids = np.random.default_rng(1).integers(5, size=301)
    model = small_model(dtype=torch.float64)
    with torch.no_grad():
        model.W_vocab.normal_(generator=seeded(2))  # make predictions depend on the state
    assert evaluate(model, ids, seq_len=7, batch_size=4) == pytest.approx(
        evaluate(model, ids, seq_len=1000, batch_size=4), rel=1e-12)


def test_sample_length_range_and_seed():
    model = small_model(V=7)
    a = sample(model, [1, 2], 50, generator=seeded(5))
    assert a.shape == (50,) and a.dtype == np.int64
    assert a.min() >= 0 and a.max() < 7
    assert np.array_equal(a, sample(model, [1, 2], 50, generator=seeded(5)))
    assert not np.array_equal(a, sample(model, [1, 2], 50, generator=seeded(6)))
    assert sample(model, [0], 0).shape == (0,)


def test_low_temperature_picks_the_most_likely():
    model = small_model(V=7)
    with torch.no_grad():
        model.b_vocab[3] = 5.0
    assert set(sample(model, [0], 20, temperature=1e-3, generator=seeded(0)).tolist()) == {3}


def fixed_distribution_model(p):
    """A CharRNN whose scores are log p at every step, whatever the input and state."""
    model = CharRNN(len(p), 2, 3, dtype=torch.float64, generator=seeded(0))
    with torch.no_grad():
        model.W_vocab.zero_()
        model.b_vocab.copy_(torch.log(torch.as_tensor(p, dtype=torch.float64)))
    return model


def assert_frequencies(draws, p, n_sd=5.0):
    """Empirical frequencies of the ids in draws within n_sd binomial standard deviations of p."""
    p = np.asarray(p, dtype=float)
    freq = np.bincount(draws, minlength=len(p)) / len(draws)
    sd = np.sqrt(p * (1 - p) / len(draws))
    assert np.all(np.abs(freq - p) <= n_sd * sd + 1e-12), (freq, p, sd)


def test_sample_certain_character():
    p = np.full(5, 1e-30)
    p[2] = 1.0
    out = sample(fixed_distribution_model(p / p.sum()), [0], 200, generator=seeded(1))
    assert set(out.tolist()) == {2}


P_FIXED = [0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_sample_frequencies_follow_softmax_over_temperature(temperature, one_thread):
    p = np.array(P_FIXED) ** (1 / temperature)  # softmax(log p / tau) = p^(1/tau), normalised
    draws = sample(fixed_distribution_model(P_FIXED), [0], 4000, temperature=temperature,
                   generator=seeded(2))
    assert_frequencies(draws, p / p.sum())


def test_temperature_limits(one_thread):
    model = fixed_distribution_model(P_FIXED)
    assert set(sample(model, [0], 100, temperature=1e-3, generator=seeded(3)).tolist()) == {3}
    assert_frequencies(sample(model, [0], 4000, temperature=1e3, generator=seeded(4)), [0.25] * 4)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_match_a_hand_built_reference(cell):
    """CharRNN(cell=...) is W_embed -> torch.nn.LSTM / GRU with the same weights -> W_vocab."""
    V, D, H, N, T = 7, 4, 5, 3, 6
    model = CharRNN(V, D, H, cell=cell, dtype=torch.float64, generator=seeded(0))
    ids = torch.randint(V, (N, T), generator=seeded(1))
    if cell == "lstm":
        reference = nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
        reference.load_state_dict(to_torch_lstm_state_dict(model.rnn.Wx, model.rnn.Wh, model.rnn.b))
        state0 = tuple(torch.randn(N, H, generator=seeded(k), dtype=torch.float64) for k in (2, 3))
        torch_state0 = tuple(s[None] for s in state0)
    else:
        reference = nn.GRU(D, H, batch_first=True, dtype=torch.float64)
        reference.load_state_dict(to_torch_gru_state_dict(model.rnn.Wx, model.rnn.Wh,
                                                          model.rnn.b_x, model.rnn.b_h))
        state0 = torch.randn(N, H, generator=seeded(2), dtype=torch.float64)
        torch_state0 = state0[None]
    with torch.no_grad():
        h, torch_state = reference(model.W_embed[ids], torch_state0)
        expected = h @ model.W_vocab + model.b_vocab
        for fast in (False, True):
            model.fast = fast
            scores, state = model(ids, state0)
            torch.testing.assert_close(scores, expected, rtol=1e-10, atol=1e-12)
            if cell == "lstm":
                torch.testing.assert_close(state[0], torch_state[0][0], rtol=1e-10, atol=1e-12)
                torch.testing.assert_close(state[1], torch_state[1][0], rtol=1e-10, atol=1e-12)
            else:
                torch.testing.assert_close(state, torch_state[0], rtol=1e-10, atol=1e-12)


def test_rnn_charrnn_fast_is_torch_rnn():
    """CharRNN(cell='rnn') is W_embed -> torch.nn.RNN with the same weights -> W_vocab, with
    fast=False (the equation-level layer) and fast=True (RNN.fast_forward), values and gradients."""
    V, D, H, N, T = 7, 4, 5, 3, 6
    model = CharRNN(V, D, H, dtype=torch.float64, generator=seeded(0))
    ids = torch.randint(V, (N, T), generator=seeded(1))
    h0 = torch.randn(N, H, generator=seeded(2), dtype=torch.float64)
    reference = nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    reference.load_state_dict(to_torch_rnn_state_dict(model.rnn.Wx, model.rnn.Wh, model.rnn.b))
    with torch.no_grad():
        h, h_T = reference(model.W_embed[ids], h0[None])
        expected = h @ model.W_vocab + model.b_vocab
    grads = []
    for fast in (False, True):
        model.fast = fast
        model.zero_grad(set_to_none=True)
        scores, state = model(ids, h0)
        torch.testing.assert_close(scores, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(state, h_T[0], rtol=1e-10, atol=1e-12)
        (scores * torch.linspace(-1, 1, V, dtype=torch.float64)).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for (name, _), slow, quick in zip(model.named_parameters(), *grads):
        torch.testing.assert_close(quick, slow, rtol=1e-10, atol=1e-12, msg=name)


def test_lstm_charrnn_forget_bias_and_errors():
    model = CharRNN(5, 3, 4, cell="lstm", forget_bias=1.0, generator=seeded(0))
    plain = CharRNN(5, 3, 4, cell="lstm", generator=seeded(0))
    torch.testing.assert_close(model.rnn.b[4:8] - plain.rnn.b[4:8], torch.ones(4))
    with pytest.raises(ValueError, match="cell should be one of"):
        CharRNN(5, 3, 4, cell="transformer")


def test_tbptt_step_detaches_tuple_states():
    """The next chunk's graph does not reach the previous chunk: after the cut, a backward on
    the second chunk leaves the first chunk's initial state without a gradient."""
    model = CharRNN(5, 3, 4, cell="lstm", dtype=torch.float64, generator=seeded(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay as drawn
    x = torch.randint(5, (2, 2, 6), generator=seeded(1))     # two chunks of (N=2, T=6)
    y = torch.randint(5, (2, 2, 6), generator=seeded(2))
    probe = tuple(torch.randn(2, 4, dtype=torch.float64, requires_grad=True) for _ in range(2))
    _, state = tbptt_step(model, optimizer, x[0], y[0], probe)
    assert isinstance(state, tuple) and len(state) == 2
    assert all(s.grad_fn is None and not s.requires_grad for s in state)
    # without the cut, the second chunk's loss would reach the probe (so the check below can fail)
    scores, _ = model(x[1], model(x[0], probe)[1])
    scores.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in probe)
    for p in probe:
        p.grad = None
    tbptt_step(model, optimizer, x[1], y[1], state)
    assert all(p.grad is None for p in probe)
    # the carried state is the value the first chunk ended with
    with torch.no_grad():
        torch.testing.assert_close(state, model(x[0], probe)[1])


def test_lstm_model_trains_and_samples(one_thread):
    vocab = CharVocab(HELLO)
    model = CharRNN(vocab.size, 8, 16, cell="lstm", fast=True, forget_bias=1.0, generator=seeded(0))
    ids = vocab.encode(HELLO)
    history = train(model, ids, seq_len=12, batch_size=8, steps=150, lr=1e-2, device="cpu",
                    progress=False)
    assert np.mean(history["loss"][-10:]) < 0.2, history["loss"][::10]
    assert evaluate(model, ids) < 0.2
    assert sample(model, [0], 5, generator=seeded(0)).shape == (5,)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "1"])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        sample(small_model(), [0], 5, temperature=temperature)


@pytest.mark.parametrize("start", [[], [5], [-1]])
def test_bad_start_ids(start):
    with pytest.raises(ValueError, match=r"start_ids should be at least one id in 0\.\.4"):
        sample(small_model(), start, 5)


def test_forward_wants_batched_ids():
    with pytest.raises(ValueError, match=r"ids should have shape \(N, T\), but has shape \(4,\)"):
        small_model()(torch.zeros(4, dtype=torch.long))


@cuda_only
def test_trains_and_samples_on_cuda():
    model = small_model()
    ids = np.random.default_rng(0).integers(5, size=500)
    history = train(model, ids, seq_len=10, batch_size=4, steps=5, device="cuda", progress=False)
    assert model.W_embed.device.type == "cuda" and len(history["loss"]) == 5
    assert sample(model, [0], 10, generator=seeded(0)).shape == (10,)
