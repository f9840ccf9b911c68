"""course_lib.gru against torch.nn.GRU in float64: gate order, the two reset forms, conversion, errors."""
import math

import pytest
import torch

from course_lib.gru import GATES, GRU, from_torch_gru_state_dict, to_torch_gru_state_dict

N, T, D, H = 3, 5, 4, 6
F64 = torch.float64
NAMES = ("Wx", "Wh", "b_x", "b_h")
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def make_pair(seed=0, reset_after=True):
    """Our GRU and a torch.nn.GRU with the same weights (ours -> torch), in float64."""
    ours = GRU(D, H, reset_after=reset_after, dtype=F64, generator=torch.Generator().manual_seed(seed))
    ref = torch.nn.GRU(D, H, batch_first=True, dtype=F64)
    ref.load_state_dict(to_torch_gru_state_dict(*(getattr(ours, k).detach() for k in NAMES)))
    return ours, ref


def inputs(seed=1):
    """x (N, T, D) and h0 (N, H), requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*s, dtype=F64, generator=g, requires_grad=True) for s in ((N, T, D), (N, H)))


def loss(h, h_T, seed=2):
    g = torch.Generator().manual_seed(seed)
    return (h * torch.randn(N, T, H, dtype=F64, generator=g)).sum() + \
        (h_T * torch.randn(N, H, dtype=F64, generator=g)).sum()


def test_forward_matches_torch_gru():
    ours, ref = make_pair()
    x, h0 = inputs()
    h, h_T = ours(x, h0)
    h_ref, h_T_ref = ref(x, h0[None])
    assert h.shape == (N, T, H) and h_T.shape == (N, H)
    torch.testing.assert_close(h, h_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_T, h_T_ref[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_T, h[:, -1])


def step_by_hand(gru, x_t, h_prev):
    """One step from the module docstring's equations, in either form."""
    Wx, Wh, b_x, b_h = (getattr(gru, k) for k in NAMES)
    r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    r = torch.sigmoid(x_t @ Wx[:, r_] + b_x[r_] + h_prev @ Wh[:, r_] + b_h[r_])
    z = torch.sigmoid(x_t @ Wx[:, z_] + b_x[z_] + h_prev @ Wh[:, z_] + b_h[z_])
    if gru.reset_after:
        n = torch.tanh(x_t @ Wx[:, n_] + b_x[n_] + r * (h_prev @ Wh[:, n_] + b_h[n_]))
    else:
        n = torch.tanh(x_t @ Wx[:, n_] + b_x[n_] + (r * h_prev) @ Wh[:, n_] + b_h[n_])
    return (1 - z) * n + z * h_prev


@pytest.mark.parametrize("reset_after", [True, False])
def test_forward_is_the_equation(reset_after):
    ours, _ = make_pair(reset_after=reset_after)
    x, h0 = inputs()
    h, _ = ours(x, h0)
    torch.testing.assert_close(h[:, 0], step_by_hand(ours, x[:, 0], h0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h[:, 1], step_by_hand(ours, x[:, 1], h[:, 0]), rtol=1e-12, atol=1e-12)


def test_reset_before_gradients_match_the_equations():
    """torch has no reset-before GRU: compare with autograd through step_by_hand over all T steps."""
    ours, _ = make_pair(reset_after=False)
    x, h0 = inputs()
    params = tuple(getattr(ours, k) for k in NAMES)
    h, h_T = ours(x, h0)
    grads = torch.autograd.grad(loss(h, h_T), (x, h0, *params))
    hs, h_prev = [], h0
    for t in range(T):
        h_prev = step_by_hand(ours, x[:, t], h_prev)
        hs.append(h_prev)
    grads_ref = torch.autograd.grad(loss(torch.stack(hs, dim=1), h_prev), (x, h0, *params))
    for name, grad, grad_ref in zip(("x", "h0") + NAMES, grads, grads_ref):
        torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-12, msg=f"d{name}")


def test_gradients_match_torch_gru():
    ours, ref = make_pair()
    x, h0 = inputs()
    x_ref, h0_ref = (a.detach().clone().requires_grad_() for a in (x, h0))
    loss(*ours(x, h0)).backward()
    h_ref, h_T_ref = ref(x_ref, h0_ref[None])
    loss(h_ref, h_T_ref[0]).backward()
    close = dict(rtol=1e-10, atol=1e-12)
    for ours_grad, ref_grad in ((x.grad, x_ref.grad), (h0.grad, h0_ref.grad),
                                (ours.Wx.grad, ref.weight_ih_l0.grad.T),
                                (ours.Wh.grad, ref.weight_hh_l0.grad.T),
                                (ours.b_x.grad, ref.bias_ih_l0.grad), (ours.b_h.grad, ref.bias_hh_l0.grad)):
        torch.testing.assert_close(ours_grad, ref_grad, **close)


def one_step(pre: dict, h0: float, b_hn: float):
    """h1 from h0 when x and every weight are 0: pre holds the input-side biases of r, z, n."""
    r, z = (1 / (1 + math.exp(-pre[k])) for k in "rz")
    n = math.tanh(pre["n"] + r * b_hn)
    return (1 - z) * n + z * h0


# One block of b_x is non-zero; for r, b_h_n = 1 is the carrier (r only scales h Wh_n + b_h_n).
GATE_CASES = {"r": ({"r": 3.0}, 1.0), "z": ({"z": 3.0}, 0.0), "n": ({"n": 3.0}, 0.0)}


@pytest.mark.parametrize("gate", GATES)
def test_gate_order_matches_torch_gru(gate):
    """b_x's block k drives the gate named GATES[k], in our GRU and in torch.nn.GRU alike."""
    assert GATES == ("r", "z", "n")
    case, b_hn = GATE_CASES[gate]
    pre = dict.fromkeys(GATES, 0.0) | case
    b_x = torch.cat([torch.full((H,), pre[k], dtype=F64) for k in GATES])  # block k is GATES[k]
    b_h = torch.cat([torch.zeros(2 * H, dtype=F64), torch.full((H,), b_hn, dtype=F64)])
    ours = GRU(D, H, dtype=F64)
    ours.load_state_dict({"Wx": torch.zeros(D, 3 * H, dtype=F64), "Wh": torch.zeros(H, 3 * H, dtype=F64),
                          "b_x": b_x, "b_h": b_h})
    ref = torch.nn.GRU(D, H, batch_first=True, dtype=F64)
    ref.load_state_dict(to_torch_gru_state_dict(*(getattr(ours, k) for k in NAMES)))
    x, h0 = torch.zeros(1, 1, D, dtype=F64), torch.full((1, H), 0.5, dtype=F64)
    want = torch.full((H,), one_step(pre, 0.5, b_hn), dtype=F64)
    torch.testing.assert_close(ref(x, h0[None])[0][0, 0], want, rtol=1e-12, atol=0)
    torch.testing.assert_close(ours(x, h0)[0][0, 0], want, rtol=1e-12, atol=0)
    for other in GATES:  # the test can fail: the same values in any other block give other numbers
        if other != gate:
            moved = dict(pre) | {gate: pre[other], other: pre[gate]}
            assert not math.isclose(one_step(moved, 0.5, b_hn), want[0].item(), rel_tol=1e-6), other


def test_reset_forms_differ_in_general():
    after, _ = make_pair(reset_after=True)
    before = GRU(D, H, reset_after=False, dtype=F64)
    before.load_state_dict(after.state_dict())
    x, h0 = inputs()
    assert (after(x, h0)[0] - before(x, h0)[0]).abs().max() > 1e-3


def test_reset_forms_agree_when_r_is_one():
    after, _ = make_pair(reset_after=True)
    with torch.no_grad():
        after.b_x[:H] = 50.0  # sigmoid(50 + O(1)) == 1.0 in float64: r = 1
    before = GRU(D, H, reset_after=False, dtype=F64)
    before.load_state_dict(after.state_dict())
    x, h0 = inputs()
    torch.testing.assert_close(before(x, h0)[0], after(x, h0)[0], rtol=1e-12, atol=1e-12)


def test_reset_forms_agree_at_h_zero_only_without_b_hn():
    """At h_{t-1} = 0: r * (0 + b_h_n) against 0 + b_h_n. Equal iff b_h_n = 0 (or r = 1)."""
    after, _ = make_pair(reset_after=True)
    before = GRU(D, H, reset_after=False, dtype=F64)
    before.load_state_dict(after.state_dict())
    x, _ = inputs()
    first = lambda gru: gru(x)[0][:, 0]  # the first step, from h0 = 0
    assert (first(after) - first(before)).abs().max() > 1e-3
    with torch.no_grad():
        after.b_h[2 * H:] = 0.0
        before.b_h[2 * H:] = 0.0
    torch.testing.assert_close(first(before), first(after), rtol=1e-12, atol=1e-12)


def test_biases_are_not_interchangeable():
    """Moving b_h_r, b_h_z into b_x changes nothing; moving b_h_n does: keep b_x and b_h apart."""
    ours, _ = make_pair()
    x, h0 = inputs()
    h = ours(x, h0)[0]
    merged = GRU(D, H, dtype=F64)
    for keep in (2 * H, 3 * H):  # first only the r and z blocks, then all three
        sd = {k: v.detach().clone() for k, v in ours.state_dict().items()}
        sd["b_x"][:keep] += sd["b_h"][:keep]
        sd["b_h"][:keep] = 0
        merged.load_state_dict(sd)
        differs = (merged(x, h0)[0] - h).abs().max() > 1e-6
        assert differs == (keep == 3 * H), keep


@pytest.mark.parametrize("with_h0", [True, False])
def test_fast_forward_matches_forward_with_gradients(with_h0):
    ours, _ = make_pair()
    x, h0 = inputs()
    wrt = (x, h0, *ours.parameters()) if with_h0 else (x, *ours.parameters())
    h, h_T = ours(x, h0 if with_h0 else None)
    grads = torch.autograd.grad(loss(h, h_T), wrt)
    h_fast, h_T_fast = ours.fast_forward(x, h0 if with_h0 else None)
    torch.testing.assert_close(h_fast, h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_T_fast, h_T, rtol=1e-12, atol=1e-12)
    for got, want in zip(torch.autograd.grad(loss(h_fast, h_T_fast), wrt), grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_fast_forward_refuses_the_lectures_form():
    with pytest.raises(ValueError, match="reset_after=False"):
        GRU(D, H, reset_after=False).fast_forward(torch.zeros(N, T, D))


def test_from_torch_loads_into_ours_and_matches():
    ref = torch.nn.GRU(D, H, batch_first=True, dtype=F64)
    ours = GRU(D, H, dtype=F64)
    ours.load_state_dict(from_torch_gru_state_dict(ref))
    assert set(ours.state_dict()) == set(NAMES)
    x, h0 = inputs()
    torch.testing.assert_close(ours(x, h0)[0], ref(x, h0[None])[0], rtol=1e-12, atol=1e-12)


def test_conversion_round_trip():
    g = torch.Generator().manual_seed(3)
    shapes = ((D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,))
    params = dict(zip(NAMES, (torch.randn(*s, dtype=F64, generator=g) for s in shapes)))
    sd = to_torch_gru_state_dict(**params)
    assert sd["weight_ih_l0"].shape == (3 * H, D) and sd["weight_hh_l0"].shape == (3 * H, H)
    assert torch.equal(sd["bias_ih_l0"], params["b_x"]) and torch.equal(sd["bias_hh_l0"], params["b_h"])
    back = from_torch_gru_state_dict(sd)
    for name in NAMES:
        assert torch.equal(back[name], params[name]), name
    again = to_torch_gru_state_dict(**back)
    for key in sd:
        assert torch.equal(again[key], sd[key]), key


def test_conversion_takes_numpy_arrays():
    Wx, Wh, b_x, b_h = torch.randn(D, 3 * H), torch.randn(H, 3 * H), torch.randn(3 * H), torch.randn(3 * H)
    sd = to_torch_gru_state_dict(Wx.numpy(), Wh.numpy(), b_x.numpy(), b_h.numpy())
    assert torch.equal(sd["weight_ih_l0"], Wx.T) and torch.equal(sd["bias_hh_l0"], b_h)


def test_default_h0_is_zeros_and_init_like_torch():
    ours, _ = make_pair()
    x, _ = inputs()
    torch.testing.assert_close(ours(x)[0], ours(x, torch.zeros(N, H, dtype=F64))[0])
    a, b = (GRU(D, H, generator=torch.Generator().manual_seed(7)) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert max(p.abs().max() for p in a.parameters()) <= 1 / H ** 0.5


@pytest.mark.parametrize("shape, words", [((N, D), ["x", "(N, T, D=4)", "(3, 4)", "x[None]"]),
                                          ((N, T, D + 1), ["x", "D=4", "(3, 5, 5)"])])
def test_bad_x_shape_says_expected_and_found(shape, words):
    for run in (GRU(D, H), GRU(D, H).fast_forward):
        with pytest.raises(ValueError) as err:
            run(torch.zeros(shape))
        for word in words:
            assert word in str(err.value)


def test_bad_h0_and_conversion_shapes_say_expected_and_found():
    with pytest.raises(ValueError, match=r"h0 should have shape \(N=3, H=6\), but has shape \(1, 3, 6\)"):
        GRU(D, H)(torch.zeros(N, T, D), torch.zeros(1, N, H))
    with pytest.raises(ValueError, match=r"b_h should have shape \(3H=18\), but has shape \(24,\)"):
        to_torch_gru_state_dict(torch.zeros(D, 3 * H), torch.zeros(H, 3 * H),
                                torch.zeros(3 * H), torch.zeros(4 * H))
    with pytest.raises(ValueError, match=r"weight_hh_l0 should have shape \(3H=18, H=6\)"):
        from_torch_gru_state_dict(torch.nn.LSTM(D, H))  # an LSTM's 4H rows are not a GRU's 3H
    with pytest.raises(ValueError, match="bidirectional=False"):
        from_torch_gru_state_dict(torch.nn.GRU(D, H, bidirectional=True))


@cuda_only
def test_cuda_matches_cpu_and_fast_path_uses_torch():
    ours, _ = make_pair()
    x, h0 = inputs()
    on_gpu = GRU(D, H, device="cuda", dtype=F64)
    on_gpu.load_state_dict(ours.state_dict())
    h_cpu, _ = ours(x, h0)
    x_gpu, h0_gpu = (a.detach().cuda().requires_grad_() for a in (x, h0))
    grads = []
    for run in (on_gpu, on_gpu.fast_forward):
        h_gpu, h_T_gpu = run(x_gpu, h0_gpu)
        torch.testing.assert_close(h_gpu.cpu(), h_cpu.detach(), rtol=1e-10, atol=1e-12)
        grads.append(torch.autograd.grad(loss(h_gpu.cpu(), h_T_gpu.cpu()), list(on_gpu.parameters())))
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)
