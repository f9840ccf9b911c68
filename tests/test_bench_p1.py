"""P1 (benchmarks/p1_charlm.py) in quick mode, and the pieces its comparison rests on: (b) computes the
same loss and gradients as CharRNN, its NumPy Adam and clip are torch's, and (a)'s weights evaluate
as a CharRNN exactly as min-char-rnn evaluates them."""
import json
import math
import sys

import numpy as np
import pytest
import torch

from course_lib.charlm import CharRNN, evaluate, sequence_loss


@pytest.fixture(scope="module")
def p1(root):
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import p1_charlm
        return p1_charlm
    finally:
        sys.path.remove(str(root / "benchmarks"))


@pytest.fixture(scope="module")
def section(p1):
    return p1.run(quick=True)


def test_rows_and_curves_have_the_contract_shape(section, p1):
    assert [r["contender"] for r in section["rows"]] == list("abcd")
    assert json.loads(json.dumps(section)) == section
    title, columns, cells, closing = p1.TABLE
    assert title.startswith("P1") and all(len(cells(r)) == len(columns) for r in section["rows"])
    assert "Level L*" in closing(section) and section["peak_rss_mib"] > 0
    assert set(section["curves"]) == set("abcd")
    for curve in section["curves"].values():
        assert 2 <= len(curve["seconds"]) == len(curve["smooth_loss"]) <= 300
        assert all(0 < a <= b for a, b in zip(curve["seconds"], curve["seconds"][1:]))
        assert 2 <= len(curve["heldout_seconds"]) == len(curve["heldout"])
        assert all(0 < a < b for a, b in zip(curve["heldout_seconds"], curve["heldout_seconds"][1:]))
        assert curve["heldout_seconds"][-1] == curve["seconds"][-1]   # the last snapshot is the end


def test_every_contender_learns(section):
    """The smoothed loss starts at log V and goes down; the held-out loss ends below log V."""
    log_V = math.log(section["vocab_size"])
    for r in section["rows"]:
        curve = section["curves"][r["contender"]]["smooth_loss"]
        assert abs(curve[0] - log_V) < 0.05, (r["contender"], curve[0])
        assert curve[-1] < log_V - 0.05 and r["final_smooth_loss"] == curve[-1], (r["contender"], curve[-1])
        assert r["heldout_at_end"] < log_V, (r["contender"], r["heldout_at_end"])
        assert r["updates"] >= 20 and r["updates_per_s"] > 0 and r["chars_per_s"] > r["updates_per_s"]


def test_the_level_and_the_ratios(section):
    a, *others = section["rows"]
    assert section["level"] == a["final_smooth_loss"] < math.log(section["vocab_size"])
    assert 0 < a["time_to_level_s"] <= a["seconds_trained"] <= section["budget_s"] + 1.0
    assert a["speed_up_vs_min_char_rnn"] == 1.0
    for c in section["checkpoints_s"]:
        assert a[f"heldout_at_{c:g}s"] is not None   # (a) ran past every checkpoint
    assert section["heldout_level"] == a["heldout_at_end"] == section["curves"]["a"]["heldout"][-1]
    assert 0 < a["time_to_heldout_level_s"] <= a["seconds_trained"]
    for r in others:
        if r["time_to_level_s"] is None:
            assert r["speed_up_vs_min_char_rnn"] is None
        else:
            assert 0 < r["time_to_level_s"] <= r["seconds_trained"]
            assert r["speed_up_vs_min_char_rnn"] == pytest.approx(a["time_to_level_s"] / r["time_to_level_s"])
            assert r["heldout_at_level"] is not None
        curve = section["curves"][r["contender"]]
        below = [t for t, loss in zip(curve["heldout_seconds"], curve["heldout"]) if loss <= section["heldout_level"]]
        assert r["time_to_heldout_level_s"] == (below[0] if below else None)
    assert section["goal_c_50x_a"] in (True, False, None) and section["budget_s"] == 2.0


def test_b_is_charrnn_in_numpy(p1):
    """char_rnn_loss of the reference layers, divided by T, is CharRNN's mean loss, gradients too."""
    V, D, H, N, T = 7, 4, 5, 3, 6
    model = CharRNN(V, D, H, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randint(V, (N, T), generator=g), torch.randint(V, (N, T), generator=g)
    h0 = torch.randn(N, H, dtype=torch.float64, generator=g)
    scores, h_T = model(x, h0)
    loss = sequence_loss(scores, y)
    loss.backward()
    params = {k.removeprefix("rnn."): v.detach().numpy().copy() for k, v in model.state_dict().items()}
    loss_b, grads_b, h_T_b = p1.reference_layers()["char_rnn_loss"](params, x.numpy(), y.numpy(), h0.numpy())
    assert loss_b / T == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(h_T_b, h_T.detach().numpy(), rtol=1e-12)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(grads_b[name.removeprefix("rnn.")] / T, p.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_numpy_adam_and_clip_are_torchs(p1):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    ours = {k: v.copy() for k, v in params.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    optimizer = torch.optim.Adam(theirs.values(), lr=0.01)
    state = {}
    for step in range(3):
        grads = {k: 10 * rng.standard_normal(v.shape) for k, v in params.items()}  # norm > 5: clipped
        for k, p in theirs.items():
            p.grad = torch.tensor(grads[k])
        torch.nn.utils.clip_grad_norm_(theirs.values(), 5.0)
        optimizer.step()
        p1.clip_grad_norm(grads, 5.0)
        p1.adam_step(ours, grads, state, lr=0.01)
        for k in params:
            np.testing.assert_allclose(ours[k], theirs[k].detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
    assert not np.allclose(ours["W"], params["W"])


def test_min_char_rnn_weights_evaluate_as_min_char_rnn_does(p1):
    """(a)'s weights as a CharRNN give min-char-rnn's own held-out loss (one stream, chunks of 25)."""
    import min_char_rnn  # solutions/minchar, on sys.path once p1_charlm is imported
    V, H = 6, 5
    params = min_char_rnn.init_params(V, H, np.random.default_rng(0))
    params = {k: v + 0.3 * np.random.default_rng(1).standard_normal(v.shape) for k, v in params.items()}
    ids = np.random.default_rng(2).integers(V, size=120)
    weights = p1.min_char_rnn_weights(params)
    model = CharRNN(V, H, H, dtype=torch.float64)
    model.load_state_dict({k: torch.as_tensor(w) for k, w in weights.items()})
    expected = min_char_rnn.evaluate(ids, params, seq_length=25)
    assert evaluate(model, ids, seq_len=25, batch_size=1) == pytest.approx(expected, rel=1e-12)
    assert p1.heldout_loss(weights, ids) > 0
