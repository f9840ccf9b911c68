"""course_lib.linear_rnn in complex128/float64: the loops against a hand-written loop, the parallel scan
and the FFT convolution against the loop, gradients, the LRU parametrisation, the layer, and errors."""
import cmath
import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

from course_lib.linear_rnn import (LinearRecurrentLayer, convolution_kernel, fft_convolution,
                                   linear_recurrence_loop, linear_recurrence_loop_np, lru_init, lru_lambda,
                                   parallel_scan)

C128, F64 = torch.complex128, torch.float64
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def stable_lam(H, g, r=0.97):
    """Random complex lam (H,) with |lam| <= r and any phase, made here (not with lru_init)."""
    return torch.polar(r * torch.rand(H, dtype=F64, generator=g), 2 * math.pi * torch.rand(H, dtype=F64, generator=g))


def problem(N, T, H, seed=0):
    """lam (H,), u (N, T, H), h0 (N, H), complex128."""
    g = torch.Generator().manual_seed(seed)
    return stable_lam(H, g), torch.randn(N, T, H, dtype=C128, generator=g), torch.randn(N, H, dtype=C128, generator=g)


def recurrence_by_hand(lam_at, u, h0):
    """The reference: Python complex numbers, one element at a time; lam_at(n, t, p) gives lam."""
    N, T, H = len(u), len(u[0]), len(h0[0])
    h = [[[0j] * H for _ in range(T)] for _ in range(N)]
    for n in range(N):
        for p in range(H):
            prev = complex(h0[n][p])
            for t in range(T):
                prev = complex(lam_at(n, t, p)) * prev + complex(u[n][t][p])
                h[n][t][p] = prev
    return np.array(h, dtype=np.complex128).reshape(N, T, H)


def test_loops_match_the_hand_written_loop():
    lam, u, h0 = (a.numpy() for a in problem(2, 4, 3))
    h_ref = recurrence_by_hand(lambda n, t, p: lam[p], u, h0)
    np.testing.assert_allclose(linear_recurrence_loop_np(lam, u, h0), h_ref, rtol=1e-14, atol=1e-14)
    h = linear_recurrence_loop(*(torch.from_numpy(a) for a in (lam, u, h0)))
    np.testing.assert_allclose(h.numpy(), h_ref, rtol=1e-14, atol=1e-14)
    # a lam for every (n, t, p) follows the same rule
    lam_t = np.random.default_rng(0).uniform(-1, 1, size=u.shape) * np.exp(1j)
    np.testing.assert_allclose(linear_recurrence_loop_np(lam_t, u, h0),
                               recurrence_by_hand(lambda n, t, p: lam_t[n, t, p], u, h0), rtol=1e-14, atol=1e-14)


def test_loop_closed_form():
    """lam = 1/2, u_t = 1, h0 = 0: h_t = 2 (1 - 2^-(t+1)), and the result stays real."""
    h = linear_recurrence_loop_np(np.full(1, 0.5), np.ones((1, 6, 1)))
    expected = np.array([1, 1.5, 1.75, 1.875, 1.9375, 1.96875])
    assert h.dtype == np.float64
    np.testing.assert_array_equal(h[0, :, 0], expected)


@pytest.mark.parametrize("N,T,H", [(1, 1, 1), (2, 2, 3), (3, 3, 2), (2, 7, 4), (1, 8, 5), (4, 64, 3), (2, 100, 6)])
def test_parallel_scan_matches_loop(N, T, H):
    lam, u, h0 = problem(N, T, H, seed=T)
    torch.testing.assert_close(parallel_scan(lam, u, h0), linear_recurrence_loop(lam, u, h0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(parallel_scan(lam, u), linear_recurrence_loop(lam, u), rtol=1e-12, atol=1e-12)


def test_parallel_scan_time_varying_and_empty():
    _, u, h0 = problem(3, 13, 4)
    lam_t = problem(3, 13, 4, seed=1)[1] / 3  # a different lam at each (n, t, p), |lam| mostly < 1
    torch.testing.assert_close(parallel_scan(lam_t, u, h0), linear_recurrence_loop(lam_t, u, h0),
                               rtol=1e-12, atol=1e-12)
    lam, u, h0 = problem(2, 0, 3)
    for run in (parallel_scan, linear_recurrence_loop, fft_convolution):
        assert run(lam, u, h0).shape == (2, 0, 3)


@pytest.mark.parametrize("T", [1, 2, 5, 64, 100])
def test_fft_convolution_matches_loop(T):
    lam, u, h0 = problem(3, T, 4, seed=T)
    torch.testing.assert_close(fft_convolution(lam, u, h0), linear_recurrence_loop(lam, u, h0), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fft_convolution(lam, u), linear_recurrence_loop(lam, u), rtol=1e-10, atol=1e-10)


def test_fft_convolution_has_no_wrap_around():
    """An impulse at the last step must not leak into the first steps (it would with a length-T circular FFT)."""
    lam = torch.tensor([0.9 + 0.1j], dtype=C128)
    u = torch.zeros(1, 8, 1, dtype=C128)
    u[0, -1, 0] = 1
    h = fft_convolution(lam, u)
    assert h[0, :-1].abs().max() < 1e-14 and abs(h[0, -1, 0] - 1) < 1e-14


def test_convolution_kernel_is_powers_of_lam():
    lam = problem(1, 1, 3)[0]
    K = convolution_kernel(lam, 12)
    expected = torch.tensor([[complex(l) ** k for l in lam] for k in range(12)], dtype=C128)
    torch.testing.assert_close(K, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("run", [parallel_scan, fft_convolution, linear_recurrence_loop])
def test_gradcheck_recurrences(run):
    inputs = tuple(a.requires_grad_() for a in problem(2, 5, 3))
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-7)


def test_scan_gradients_match_loop_gradients():
    lam, u, h0 = (a.requires_grad_() for a in problem(3, 37, 4))
    w = problem(3, 37, 4, seed=9)[1]
    grads = [torch.autograd.grad((run(lam, u, h0) * w).real.sum(), (lam, u, h0))
             for run in (parallel_scan, linear_recurrence_loop)]
    for name, g_scan, g_loop in zip(("dlam", "du", "dh0"), *grads):
        torch.testing.assert_close(g_scan, g_loop, rtol=1e-11, atol=1e-11, msg=name)


def test_lru_lambda_is_stable_for_any_nu():
    nu_log = torch.linspace(-30, 30, 601, dtype=F64)
    lam = lru_lambda(nu_log, torch.zeros_like(nu_log))
    assert (lam.abs() < 1).all() and (lam.abs() > 0).any()
    extreme = lru_lambda(torch.tensor([-1e3, -50.0, 50.0, 1e3], dtype=F64), torch.zeros(4, dtype=F64))
    assert torch.isfinite(extreme.real).all() and (extreme.abs() <= 1).all()  # rounds to 1 or 0 at the ends
    nu, th = 0.3, -0.7
    assert abs(complex(lru_lambda(torch.tensor([nu], dtype=F64), torch.tensor([th], dtype=F64))[0])
               - cmath.exp(-math.exp(nu) + 1j * math.exp(th))) < 1e-15


def test_lru_init_ring_and_phase():
    r_min, r_max, max_phase = 0.5, 0.9, math.pi / 4
    nu_log, omega_log, beta_log = lru_init(20000, r_min, r_max, max_phase, torch.Generator().manual_seed(0), F64)
    r, omega = torch.exp(-torch.exp(nu_log)), torch.exp(omega_log)
    assert r.min() >= r_min - 1e-12 and r.max() <= r_max + 1e-12
    assert omega.min() > 0 and omega.max() <= max_phase + 1e-12
    # uniform in area: half the draws lie inside the circle that splits the ring's area in two
    r_half = math.sqrt((r_min ** 2 + r_max ** 2) / 2)
    assert abs((r < r_half).double().mean() - 0.5) < 0.02
    assert abs((omega < max_phase / 2).double().mean() - 0.5) < 0.02
    torch.testing.assert_close(torch.exp(beta_log), torch.sqrt(1 - r ** 2))


def make_layer(beta_norm=True, skip=True, seed=0):
    return LinearRecurrentLayer(3, 4, 2, r_min=0.5, r_max=0.99, beta_norm=beta_norm, skip=skip, dtype=F64,
                                generator=torch.Generator().manual_seed(seed))


def test_layer_is_the_equation():
    """y_t = Re(h_t W_y) + x_t W_skip with h from the hand-written loop and complex matrices built here."""
    layer = make_layer()
    g = torch.Generator().manual_seed(1)
    x, h0 = torch.randn(2, 6, 3, dtype=F64, generator=g), torch.randn(2, 4, dtype=C128, generator=g)
    with torch.no_grad():
        p = {k: v.detach() for k, v in layer.named_parameters()}
        lam = torch.exp(-torch.exp(p["nu_log"]) + 1j * torch.exp(p["omega_log"]))
        B = (p["Wx_re"] + 1j * p["Wx_im"]) * torch.sqrt(1 - lam.abs() ** 2)  # beta from |lam|, as initialised
        C = p["Wy_re"] + 1j * p["Wy_im"]
        h = recurrence_by_hand(lambda n, t, q: lam[q], (x.to(C128) @ B).numpy(), h0.numpy())
        y_ref = (torch.from_numpy(h) @ C).real + x @ p["W_skip"]
        for mode in ("scan", "loop", "fft"):
            y = layer(x, h0, mode=mode)
            assert y.shape == (2, 6, 2) and y.dtype == F64
            torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10, msg=mode)


@pytest.mark.parametrize("beta_norm,skip", [(True, True), (False, False)])
def test_layer_modes_agree(beta_norm, skip):
    layer = make_layer(beta_norm, skip)
    x = torch.randn(3, 50, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    y_loop = layer(x, mode="loop")
    assert (layer.W_skip is None) == (not skip) and (layer.beta_log is None) == (not beta_norm)
    torch.testing.assert_close(layer(x, mode="scan"), y_loop, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer(x, mode="fft"), y_loop, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["scan", "fft"])
def test_gradcheck_layer_parameters(mode):
    layer = make_layer()
    names = [k for k, _ in layer.named_parameters()]
    x = torch.randn(2, 5, 3, dtype=F64, generator=torch.Generator().manual_seed(4))

    def f(*params):
        return functional_call(layer, dict(zip(names, params)), (x,), {"mode": mode})
    params = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-7)


def test_errors_say_what_to_do():
    lam, u, h0 = problem(2, 5, 3)
    with pytest.raises(ValueError, match=r"u should have shape \(N, T, H\).*batch first"):
        parallel_scan(lam, u[0])
    with pytest.raises(ValueError, match=r"lam should have shape \(H=3\)"):
        linear_recurrence_loop(lam[:2], u)
    with pytest.raises(ValueError, match=r"h0 should have shape \(N=2, H=3\)"):
        linear_recurrence_loop_np(lam.numpy(), u.numpy(), h0[:, :2].numpy())
    with pytest.raises(ValueError, match=r"lam should have shape \(H=3\).*one lam for all steps.*parallel_scan"):
        fft_convolution(u, u)  # the convolution view needs a lam fixed in time
    with pytest.raises(ValueError, match="0 <= r_min < r_max <= 1"):
        lru_init(4, r_min=0.5, r_max=1.5)
    layer = make_layer()
    with pytest.raises(ValueError, match=r"x should have shape \(N, T, D=3\)"):
        layer(torch.zeros(2, 5, 4, dtype=F64))
    with pytest.raises(ValueError, match="mode should be one of"):
        layer(torch.zeros(2, 5, 3, dtype=F64), mode="conv")


@cuda_only
def test_layer_runs_on_cuda():
    layer = make_layer().cuda()
    x = torch.randn(2, 33, 3, dtype=F64, device="cuda")
    y = layer(x, mode="scan")
    assert y.device.type == "cuda"
    torch.testing.assert_close(y, layer(x, mode="loop"), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer(x, mode="fft"), y, rtol=1e-10, atol=1e-10)


def test_layer_step_by_step_equals_forward():
    layer = LinearRecurrentLayer(3, 5, 2, r_min=0.5, r_max=0.99, dtype=torch.float64,
                                 generator=torch.Generator().manual_seed(4))
    x = torch.randn(2, 9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    h, ys = None, []
    with torch.no_grad():
        for t in range(9):
            y_t, h = layer.step(x[:, t], h)
            ys.append(y_t)
        torch.testing.assert_close(torch.stack(ys, dim=1), layer(x, mode="loop"), rtol=1e-12, atol=1e-12)
    assert h.shape == (2, 5) and h.is_complex()
    with pytest.raises(ValueError, match="x_t"):
        layer.step(x[:, :2, :2])
