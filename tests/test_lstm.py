"""course_lib.lstm against torch.nn.LSTM in float64: gate order, conversion, fast path, errors."""
import copy
import math

import pytest
import torch

from course_lib.lstm import GATES, LSTM, from_torch_lstm_state_dict, to_torch_lstm_state_dict

N, T, D, H = 3, 5, 4, 6
F64 = torch.float64
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def make_pair(seed=0):
    """Our LSTM and a torch.nn.LSTM with the same weights (ours -> torch), in float64."""
    ours = LSTM(D, H, dtype=F64, generator=torch.Generator().manual_seed(seed))
    ref = torch.nn.LSTM(D, H, batch_first=True, dtype=F64)
    ref.load_state_dict(to_torch_lstm_state_dict(ours.Wx.detach(), ours.Wh.detach(), ours.b.detach()))
    return ours, ref


def inputs(seed=1):
    """x (N, T, D), h0 and c0 (N, H), all requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*s, dtype=F64, generator=g, requires_grad=True)
                 for s in ((N, T, D), (N, H), (N, H)))


def upstream(seed=2):
    """Random upstream gradients for h (N, T, H), h_T and c_T (N, H)."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*s, dtype=F64, generator=g) for s in ((N, T, H), (N, H), (N, H)))


def loss(h, state, ups):
    dh, dh_T, dc_T = ups
    return (h * dh).sum() + (state[0] * dh_T).sum() + (state[1] * dc_T).sum()


def test_forward_matches_torch_lstm():
    ours, ref = make_pair()
    x, h0, c0 = inputs()
    h, (h_T, c_T) = ours(x, (h0, c0))
    h_ref, (h_T_ref, c_T_ref) = ref(x, (h0[None], c0[None]))
    assert h.shape == (N, T, H) and h_T.shape == c_T.shape == (N, H)
    close = dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h, h_ref, **close)
    torch.testing.assert_close(h_T, h_T_ref[0], **close)
    torch.testing.assert_close(c_T, c_T_ref[0], **close)
    torch.testing.assert_close(h_T, h[:, -1])


def test_forward_is_the_equation():
    """One step written out from the docstring's equations, independently of the module's loop."""
    ours, _ = make_pair()
    x, h0, c0 = inputs()
    h, _ = ours(x, (h0, c0))
    a = x[:, 0] @ ours.Wx + h0 @ ours.Wh + ours.b
    i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H])
    g, o = torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:])
    c1 = f * c0 + i * g
    torch.testing.assert_close(h[:, 0], o * torch.tanh(c1), rtol=1e-12, atol=1e-12)


def test_gradients_match_torch_lstm():
    ours, ref = make_pair()
    x, h0, c0 = inputs()
    x_ref, h0_ref, c0_ref = (a.detach().clone().requires_grad_() for a in (x, h0, c0))
    loss(*ours(x, (h0, c0)), upstream()).backward()
    h_ref, (h_T_ref, c_T_ref) = ref(x_ref, (h0_ref[None], c0_ref[None]))
    loss(h_ref, (h_T_ref[0], c_T_ref[0]), upstream()).backward()
    close = dict(rtol=1e-10, atol=1e-12)
    for ours_grad, ref_grad in ((x.grad, x_ref.grad), (h0.grad, h0_ref.grad), (c0.grad, c0_ref.grad),
                                (ours.Wx.grad, ref.weight_ih_l0.grad.T),
                                (ours.Wh.grad, ref.weight_hh_l0.grad.T),
                                (ours.b.grad, ref.bias_ih_l0.grad), (ours.b.grad, ref.bias_hh_l0.grad)):
        torch.testing.assert_close(ours_grad, ref_grad, **close)


def one_step(pre: dict, c0: float):
    """(h1, c1) after one step from the named pre-activations {'i': .., 'f': .., 'g': .., 'o': ..}."""
    i, f, o = (1 / (1 + math.exp(-pre[k])) for k in "ifo")
    c1 = f * c0 + i * math.tanh(pre["g"])
    return o * math.tanh(c1), c1


# Only one block of b is non-zero (plus, for i, a g "carrier": with g = 0 the input gate has
# nothing to let in). Each case moves exactly one gate, so a swapped order gives other numbers.
GATE_CASES = {"i": {"i": 3.0, "g": 1.0}, "f": {"f": 3.0}, "g": {"g": 3.0}, "o": {"o": 3.0}}


@pytest.mark.parametrize("gate", GATES)
def test_gate_order_matches_torch_lstm(gate):
    """b's block k drives the gate named GATES[k], in our LSTM and in torch.nn.LSTM alike."""
    assert GATES == ("i", "f", "g", "o")
    pre = dict.fromkeys(GATES, 0.0) | GATE_CASES[gate]
    b = torch.cat([torch.full((H,), pre[k], dtype=F64) for k in GATES])  # block k is gate GATES[k]
    ours = LSTM(D, H, dtype=F64)
    ours.load_state_dict({"Wx": torch.zeros(D, 4 * H, dtype=F64),
                          "Wh": torch.zeros(H, 4 * H, dtype=F64), "b": b})
    ref = torch.nn.LSTM(D, H, batch_first=True, dtype=F64)
    ref.load_state_dict(to_torch_lstm_state_dict(ours.Wx, ours.Wh, ours.b))
    x, c0 = torch.zeros(1, 1, D, dtype=F64), torch.full((1, H), 0.5, dtype=F64)
    h1_ref, (_, c1_ref) = ref(x, (torch.zeros(1, 1, H, dtype=F64), c0[None]))
    h1, (_, c1) = ours(x, (torch.zeros(1, H, dtype=F64), c0))
    want_h1, want_c1 = one_step(pre, 0.5)
    for got_h1, got_c1 in ((h1_ref[0, 0], c1_ref[0, 0]), (h1[0, 0], c1[0])):
        torch.testing.assert_close(got_h1, torch.full((H,), want_h1, dtype=F64), rtol=1e-12, atol=0)
        torch.testing.assert_close(got_c1, torch.full((H,), want_c1, dtype=F64), rtol=1e-12, atol=0)
    for other in GATES:  # the test can fail: the same values in any other block give other numbers
        if other != gate:
            moved = dict(pre) | {gate: pre[other], other: pre[gate]}
            assert not math.isclose(one_step(moved, 0.5)[0], want_h1, rel_tol=1e-6), other


def test_fast_forward_matches_forward_with_gradients():
    ours, _ = make_pair()
    x, h0, c0 = inputs()
    h, state = ours(x, (h0, c0))
    grads = torch.autograd.grad(loss(h, state, upstream()), (x, h0, c0, ours.Wx, ours.Wh, ours.b))
    h_fast, state_fast = ours.fast_forward(x, (h0, c0))
    torch.testing.assert_close(h_fast, h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state_fast, state, rtol=1e-12, atol=1e-12)
    grads_fast = torch.autograd.grad(loss(h_fast, state_fast, upstream()),
                                     (x, h0, c0, ours.Wx, ours.Wh, ours.b))
    for name, got, want in zip(("x", "h0", "c0", "Wx", "Wh", "b"), grads_fast, grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=name)


def test_fast_forward_sees_changed_parameters():
    ours, _ = make_pair()
    x, h0, c0 = (a.detach() for a in inputs())
    before = ours.fast_forward(x, (h0, c0))[0]
    with torch.no_grad():
        ours.Wh.mul_(-1)
    torch.testing.assert_close(ours.fast_forward(x, (h0, c0))[0], ours(x, (h0, c0))[0])
    assert not torch.allclose(ours.fast_forward(x, (h0, c0))[0], before)


def test_fast_path_module_is_not_part_of_ours():
    """The torch.nn.LSTM behind fast_forward holds no weights: not in state_dict, unaffected by .to()."""
    ours = LSTM(D, H)
    assert set(ours.state_dict()) == {"Wx", "Wh", "b"} and len(list(ours.children())) == 0
    moved = copy.deepcopy(ours).to(F64)
    x = torch.randn(N, T, D, dtype=F64)
    torch.testing.assert_close(moved.fast_forward(x)[0], moved(x)[0], rtol=1e-12, atol=1e-12)


def test_from_torch_loads_into_ours_and_matches():
    ref = torch.nn.LSTM(D, H, batch_first=True, dtype=F64)
    with torch.no_grad():
        ref.bias_hh_l0.uniform_(-1, 1)  # both torch biases non-zero: they must be summed
    ours = LSTM(D, H, dtype=F64)
    ours.load_state_dict(from_torch_lstm_state_dict(ref))
    x, h0, c0 = inputs()
    torch.testing.assert_close(ours(x, (h0, c0))[0], ref(x, (h0[None], c0[None]))[0],
                               rtol=1e-12, atol=1e-12)


def test_conversion_round_trip():
    g = torch.Generator().manual_seed(3)
    Wx, Wh, b = (torch.randn(*s, dtype=F64, generator=g) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    sd = to_torch_lstm_state_dict(Wx, Wh, b)
    assert sd["weight_ih_l0"].shape == (4 * H, D) and sd["weight_hh_l0"].shape == (4 * H, H)
    assert torch.equal(sd["bias_ih_l0"], b) and torch.equal(sd["bias_hh_l0"], torch.zeros_like(b))
    back = from_torch_lstm_state_dict(sd)
    for name, want in (("Wx", Wx), ("Wh", Wh), ("b", b)):
        assert torch.equal(back[name], want), name
    again = to_torch_lstm_state_dict(**back)
    for key in sd:
        assert torch.equal(again[key], sd[key]), key


def test_conversion_takes_numpy_arrays():
    Wx, Wh, b = torch.randn(D, 4 * H), torch.randn(H, 4 * H), torch.randn(4 * H)
    sd = to_torch_lstm_state_dict(Wx.numpy(), Wh.numpy(), b.numpy())
    assert torch.equal(sd["weight_ih_l0"], Wx.T) and torch.equal(sd["weight_hh_l0"], Wh.T)


def test_default_state_is_zeros():
    ours, _ = make_pair()
    x, _, _ = inputs()
    zeros = torch.zeros(N, H, dtype=F64)
    torch.testing.assert_close(ours(x)[0], ours(x, (zeros, zeros))[0])


def test_init_like_torch_and_forget_bias():
    a = LSTM(D, H, generator=torch.Generator().manual_seed(7))
    b = LSTM(D, H, generator=torch.Generator().manual_seed(7), forget_bias=1.0)
    c = LSTM(D, H, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.Wh, b.Wh) and not torch.equal(a.Wh, c.Wh)
    assert max(p.abs().max() for p in a.parameters()) <= 1 / H ** 0.5
    shift = (b.b - a.b).detach()
    torch.testing.assert_close(shift[H:2 * H], torch.ones(H))  # only the f block moves
    assert torch.equal(shift[:H], torch.zeros(H)) and torch.equal(shift[2 * H:], torch.zeros(2 * H))


def test_empty_sequence_returns_the_initial_state():
    ours, _ = make_pair()
    _, h0, c0 = inputs()
    for run in (ours, ours.fast_forward):
        h, (h_T, c_T) = run(torch.zeros(N, 0, D, dtype=F64), (h0, c0))
        assert h.shape == (N, 0, H) and torch.equal(h_T, h0) and torch.equal(c_T, c0)


@pytest.mark.parametrize("shape, words", [((N, D), ["x", "(N, T, D=4)", "(3, 4)", "x[None]"]),
                                          ((N, T, D + 1), ["x", "D=4", "(3, 5, 5)"])])
def test_bad_x_shape_says_expected_and_found(shape, words):
    for run in (LSTM(D, H), LSTM(D, H).fast_forward):
        with pytest.raises(ValueError) as err:
            run(torch.zeros(shape))
        for word in words:
            assert word in str(err.value)


def test_bad_state_says_expected_and_found():
    x = torch.zeros(N, T, D)
    with pytest.raises(ValueError, match=r"c0 should have shape \(N=3, H=6\), but has shape \(1, 3, 6\)"):
        LSTM(D, H)(x, (torch.zeros(N, H), torch.zeros(1, N, H)))
    with pytest.raises(ValueError, match=r"state should be a pair \(h0, c0\)"):
        LSTM(D, H).fast_forward(x, torch.zeros(N, H))


def test_conversion_shape_errors():
    with pytest.raises(ValueError, match=r"Wx should have shape \(D, 4H=24\), but has shape \(4, 18\)"):
        to_torch_lstm_state_dict(torch.zeros(D, 3 * H), torch.zeros(H, 4 * H), torch.zeros(4 * H))
    with pytest.raises(ValueError, match=r"b should have shape \(4H=24\), but has shape \(6,\)"):
        to_torch_lstm_state_dict(torch.zeros(D, 4 * H), torch.zeros(H, 4 * H), torch.zeros(H))
    with pytest.raises(ValueError, match=r"weight_hh_l0 should have shape \(4H=24, H=6\)"):
        from_torch_lstm_state_dict(torch.nn.GRU(D, H))  # a GRU's 3H rows are not an LSTM's 4H


def test_from_torch_rejects_other_state_dicts():
    with pytest.raises(KeyError, match="bias_ih_l0"):
        from_torch_lstm_state_dict(torch.nn.LSTM(D, H, bias=False).state_dict())
    with pytest.raises(ValueError, match="num_layers=1"):
        from_torch_lstm_state_dict(torch.nn.LSTM(D, H, num_layers=2).state_dict())
    with pytest.raises(ValueError, match="proj_size=0"):
        from_torch_lstm_state_dict(torch.nn.LSTM(D, H, proj_size=2).state_dict())


@cuda_only
def test_cuda_matches_cpu_and_fast_path_uses_torch():
    ours, _ = make_pair()
    x, h0, c0 = inputs()
    on_gpu = LSTM(D, H, device="cuda", dtype=F64)
    on_gpu.load_state_dict(ours.state_dict())
    assert on_gpu.Wx.device.type == "cuda"
    h_cpu, _ = ours(x, (h0, c0))
    gpu_inputs = [a.detach().cuda().requires_grad_() for a in (x, h0, c0)]
    for run in (on_gpu, on_gpu.fast_forward):
        h_gpu, state = run(gpu_inputs[0], tuple(gpu_inputs[1:]))
        torch.testing.assert_close(h_gpu.cpu(), h_cpu.detach(), rtol=1e-10, atol=1e-12)
    grads = [torch.autograd.grad(loss(*run(gpu_inputs[0], tuple(gpu_inputs[1:])),
                                      [u.cuda() for u in upstream()]), list(on_gpu.parameters()))
             for run in (on_gpu, on_gpu.fast_forward)]
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)
