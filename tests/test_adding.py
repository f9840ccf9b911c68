"""course_lib.adding: the adding problem's batches, the last-step read-out, training, the cache."""
import pytest
import torch

from course_lib import adding
from course_lib.adding import LastStep, adding_batch, first_solved, held_out, report, train_adding
from course_lib.gru import GRU
from course_lib.lstm import LSTM
from course_lib.rnn import RNN


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def test_batch_shapes_markers_and_targets_by_hand():
    n, T = 50, 9
    x, y = adding_batch(n, T, seeded(0))
    assert x.shape == (n, T, 2) and y.shape == (n,)
    assert x.dtype == y.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    for row in range(n):
        marked = [t for t in range(T) if markers[row, t].item() == 1.0]
        unmarked = [t for t in range(T) if markers[row, t].item() == 0.0]
        assert len(marked) == 2 and len(unmarked) == T - 2, markers[row]
        assert marked[0] < T // 2 <= marked[1]  # one marker in each half
        expected = values[row, marked[0]].item() + values[row, marked[1]].item()
        assert y[row].item() == pytest.approx(expected, abs=1e-6)


def test_batch_is_deterministic_per_generator():
    a, b, c = (adding_batch(8, 10, seeded(s)) for s in (3, 3, 4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    with pytest.raises(ValueError, match="needs T >= 2"):
        adding_batch(4, 1, seeded(0))


def test_held_out_baseline_is_the_variance_of_the_sum():
    _, y, baseline = held_out(T=20, n=4000)
    assert baseline == pytest.approx(((y - y.mean()) ** 2).mean().item())
    assert baseline == pytest.approx(2 / 12, rel=0.1)  # the variance of a sum of two U(0, 1)


@pytest.mark.parametrize("layer, fast", [(RNN(2, 5), False), (LSTM(2, 5), True), (GRU(2, 5), True),
                                         (LSTM(2, 5), False)])
def test_last_step_reads_out_h_T(layer, fast):
    model = LastStep(layer, 5, fast=fast)
    x, _ = adding_batch(7, 6, seeded(1))
    out = model(x)
    assert out.shape == (7,)
    h, _ = layer(x)  # the equations' forward, (N, T, H)
    torch.testing.assert_close(out, model.readout(h[:, -1]).squeeze(-1), rtol=1e-5, atol=1e-6)



def test_tiny_training_beats_the_baseline(one_thread):
    torch.manual_seed(0)
    model = LastStep(LSTM(2, 8, forget_bias=1.0, generator=seeded(0)), 8, fast=True)
    test = held_out(T=6, n=500)
    history = train_adding(model, T=6, steps=200, batch_size=32, lr=1e-2, every=50, test=test)
    assert history["step"] == [50, 100, 150, 200]
    assert history["seconds"] > 0
    assert history["test_mse"][-1] < 0.5 * test[2], (history["test_mse"], test[2])


def test_first_solved_and_report():
    history = {"step": [100, 200, 300], "test_mse": [0.2, 0.005, 0.001], "seconds": 1.5}
    assert first_solved(history) == 200
    assert first_solved(history, solved=0.001) is None
    line = report("LSTM", history, baseline=0.1)
    assert "final test MSE 0.0010" in line and "1.00% of the baseline" in line
    assert "first after 200 updates" in line


def test_trained_adding_model_is_cached(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    setup = dict(T=5, steps=20, every=10, H=4)
    model, history, from_cache = adding.trained_adding_model("GRU", setup)
    again, history_again, from_cache_again = adding.trained_adding_model("GRU", setup)
    assert (from_cache, from_cache_again) == (False, True)
    assert history_again["test_mse"] == history["test_mse"] and len(history["test_mse"]) == 2
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(KeyError, match="no adding-problem model"):
        adding.build_model("MUT1", 4)
