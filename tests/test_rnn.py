"""course_lib.rnn against torch.nn.RNN in float64 (forward and fast_forward), the layout conversion,
and shape errors."""
import pytest
import torch

from course_lib.rnn import RNN, from_torch_rnn_state_dict, to_torch_rnn_state_dict

N, T, D, H = 3, 5, 4, 6
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def make_pair(seed=0):
    """Our RNN and a torch.nn.RNN with the same weights (ours -> torch), in float64."""
    ours = RNN(D, H, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    ref = torch.nn.RNN(D, H, batch_first=True, nonlinearity="tanh", dtype=torch.float64)
    ref.load_state_dict(to_torch_rnn_state_dict(ours.Wx.detach(), ours.Wh.detach(), ours.b.detach()))
    return ours, ref


def inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, T, D, dtype=torch.float64, generator=g, requires_grad=True)
    h0 = torch.randn(N, H, dtype=torch.float64, generator=g, requires_grad=True)
    return x, h0


def test_forward_matches_torch_rnn():
    ours, ref = make_pair()
    x, h0 = inputs()
    h, h_T = ours(x, h0)
    h_ref, h_T_ref = ref(x, h0[None])
    assert h.shape == (N, T, H) and h_T.shape == (N, H)
    torch.testing.assert_close(h, h_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_T, h_T_ref[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_T, h[:, -1])


def test_forward_is_the_equation():
    """One step written out by hand, independently of the module's loop."""
    ours, _ = make_pair()
    x, h0 = inputs()
    h, _ = ours(x, h0)
    h1 = torch.tanh(x[:, 0] @ ours.Wx + h0 @ ours.Wh + ours.b)
    torch.testing.assert_close(h[:, 0], h1, rtol=1e-12, atol=1e-12)


def test_gradients_match_torch_rnn():
    ours, ref = make_pair()
    x, h0 = inputs()
    x_ref, h0_ref = (a.detach().clone().requires_grad_() for a in (x, h0))
    g = torch.Generator().manual_seed(2)
    dh = torch.randn(N, T, H, dtype=torch.float64, generator=g)
    dh_T = torch.randn(N, H, dtype=torch.float64, generator=g)
    h, h_T = ours(x, h0)
    ((h * dh).sum() + (h_T * dh_T).sum()).backward()
    h_ref, h_T_ref = ref(x_ref, h0_ref[None])
    ((h_ref * dh).sum() + (h_T_ref[0] * dh_T).sum()).backward()
    close = dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(x.grad, x_ref.grad, **close)
    torch.testing.assert_close(h0.grad, h0_ref.grad, **close)
    torch.testing.assert_close(ours.Wx.grad, ref.weight_ih_l0.grad.T, **close)
    torch.testing.assert_close(ours.Wh.grad, ref.weight_hh_l0.grad.T, **close)
    torch.testing.assert_close(ours.b.grad, ref.bias_ih_l0.grad, **close)
    torch.testing.assert_close(ours.b.grad, ref.bias_hh_l0.grad, **close)


def test_from_torch_loads_into_ours_and_matches():
    ref = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.bias_hh_l0.uniform_(-1, 1)  # both torch biases non-zero: they must be summed
    ours = RNN(D, H, dtype=torch.float64)
    ours.load_state_dict(from_torch_rnn_state_dict(ref))
    x, h0 = inputs()
    torch.testing.assert_close(ours(x, h0)[0], ref(x, h0[None])[0], rtol=1e-12, atol=1e-12)


def test_conversion_round_trip():
    g = torch.Generator().manual_seed(3)
    Wx, Wh, b = (torch.randn(*s, dtype=torch.float64, generator=g) for s in ((D, H), (H, H), (H,)))
    sd = to_torch_rnn_state_dict(Wx, Wh, b)
    assert sd["weight_ih_l0"].shape == (H, D) and sd["weight_hh_l0"].shape == (H, H)
    assert torch.equal(sd["bias_hh_l0"], torch.zeros(H, dtype=torch.float64))
    back = from_torch_rnn_state_dict(sd)
    for name, want in (("Wx", Wx), ("Wh", Wh), ("b", b)):
        assert torch.equal(back[name], want), name
    again = to_torch_rnn_state_dict(**back)
    for key in sd:
        assert torch.equal(again[key], sd[key]), key


def test_conversion_takes_numpy_arrays():
    Wx, Wh, b = torch.randn(D, H), torch.randn(H, H), torch.randn(H)
    sd = to_torch_rnn_state_dict(Wx.numpy(), Wh.numpy(), b.numpy())
    assert torch.equal(sd["weight_ih_l0"], Wx.T)


def test_default_h0_is_zeros():
    ours, _ = make_pair()
    x, _ = inputs()
    torch.testing.assert_close(ours(x)[0], ours(x, torch.zeros(N, H, dtype=torch.float64))[0])


def test_same_generator_seed_gives_same_weights():
    a = RNN(D, H, generator=torch.Generator().manual_seed(7))
    b = RNN(D, H, generator=torch.Generator().manual_seed(7))
    c = RNN(D, H, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.Wh, b.Wh) and not torch.equal(a.Wh, c.Wh)
    assert a.Wh.abs().max() <= 1 / H ** 0.5


@pytest.mark.parametrize("shape, words", [((N, D), ["x", "(N, T, D=4)", "(3, 4)", "x[None]"]),
                                          ((N, T, D + 1), ["x", "D=4", "(3, 5, 5)"])])
def test_bad_x_shape_says_expected_and_found(shape, words):
    with pytest.raises(ValueError) as err:
        RNN(D, H)(torch.zeros(shape))
    for word in words:
        assert word in str(err.value)


def test_bad_h0_shape_says_expected_and_found():
    with pytest.raises(ValueError) as err:
        RNN(D, H)(torch.zeros(N, T, D), torch.zeros(1, N, H))
    assert "h0" in str(err.value) and "(N=3, H=6)" in str(err.value) and "(1, 3, 6)" in str(err.value)


def test_conversion_shape_errors():
    with pytest.raises(ValueError, match=r"Wh should have shape \(H=6, H=6\), but has shape \(6, 5\)"):
        to_torch_rnn_state_dict(torch.zeros(D, H), torch.zeros(H, H - 1), torch.zeros(H))
    with pytest.raises(ValueError, match="b should have shape"):
        to_torch_rnn_state_dict(torch.zeros(D, H), torch.zeros(H, H), torch.zeros(H + 1))


def test_from_torch_rejects_other_state_dicts():
    with pytest.raises(KeyError, match="bias_ih_l0"):
        from_torch_rnn_state_dict(torch.nn.RNN(D, H, bias=False).state_dict())
    with pytest.raises(ValueError, match="num_layers=1"):
        from_torch_rnn_state_dict(torch.nn.RNN(D, H, num_layers=2).state_dict())


@cuda_only
def test_cuda_matches_cpu():
    ours, _ = make_pair()
    x, h0 = inputs()
    on_gpu = RNN(D, H, device="cuda", dtype=torch.float64)
    on_gpu.load_state_dict(ours.state_dict())
    assert on_gpu.Wx.device.type == "cuda"
    h_gpu, _ = on_gpu(x.detach().cuda(), h0.detach().cuda())
    torch.testing.assert_close(h_gpu.cpu(), ours(x, h0)[0].detach(), rtol=1e-10, atol=1e-12)


def test_fast_forward_equals_forward_values_and_gradients():
    """fast_forward (torch.nn.RNN with our weights swapped in) is forward: the same h and h_T, and
    the same gradients with respect to x, h0, Wx, Wh and b, in float64."""
    ours, _ = make_pair()
    g = torch.Generator().manual_seed(2)
    dh = torch.randn(N, T, H, dtype=torch.float64, generator=g)
    dh_T = torch.randn(N, H, dtype=torch.float64, generator=g)
    results = []
    for run in (ours.forward, ours.fast_forward):
        x, h0 = inputs()
        ours.zero_grad(set_to_none=True)
        h, h_T = run(x, h0)
        ((h * dh).sum() + (h_T * dh_T).sum()).backward()
        results.append((h.detach(), h_T.detach(), x.grad, h0.grad, ours.Wx.grad, ours.Wh.grad, ours.b.grad))
    names = ("h", "h_T", "dx", "dh0", "dWx", "dWh", "db")
    for name, slow, fast in zip(names, *results):
        assert fast is not None, f"no gradient reached {name} through fast_forward"
        torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-12, msg=name)


def test_fast_forward_matches_torch_rnn():
    ours, ref = make_pair()
    x, h0 = inputs()
    h, h_T = ours.fast_forward(x, h0)
    h_ref, h_T_ref = ref(x, h0[None])
    torch.testing.assert_close(h, h_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_T, h_T_ref[0], rtol=1e-12, atol=1e-12)


def test_fast_forward_empty_sequence_and_default_h0():
    """torch.nn.RNN refuses T = 0: fast_forward falls back to forward and returns h0."""
    ours, _ = make_pair()
    _, h0 = inputs()
    h, h_T = ours.fast_forward(torch.zeros(N, 0, D, dtype=torch.float64), h0)
    assert h.shape == (N, 0, H)
    torch.testing.assert_close(h_T, h0)
    x, _ = inputs()
    torch.testing.assert_close(ours.fast_forward(x)[0], ours(x, torch.zeros(N, H, dtype=torch.float64))[0])


def test_fast_forward_checks_shapes_and_keeps_state_dict_clean():
    ours, _ = make_pair()
    with pytest.raises(ValueError, match=r"h0 should have shape \(N=3, H=6\)"):
        ours.fast_forward(torch.zeros(N, T, D, dtype=torch.float64), torch.zeros(1, N, H))
    assert sorted(ours.state_dict()) == ["Wh", "Wx", "b"]  # the meta torch.nn.RNN is not a submodule


@cuda_only
def test_fast_forward_cuda_matches_cpu():
    ours, _ = make_pair()
    x, h0 = inputs()
    on_gpu = RNN(D, H, device="cuda", dtype=torch.float64)
    on_gpu.load_state_dict(ours.state_dict())
    h_gpu, h_T_gpu = on_gpu.fast_forward(x.detach().cuda(), h0.detach().cuda())
    h, h_T = ours(x, h0)
    torch.testing.assert_close(h_gpu.cpu(), h.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_T_gpu.cpu(), h_T.detach(), rtol=1e-10, atol=1e-12)
