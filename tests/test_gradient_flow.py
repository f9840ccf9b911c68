"""course_lib.gradient_flow: Jacobians against finite differences and autograd, spectra against NumPy,
matrices with a chosen spectrum against their closed forms."""
import math

import numpy as np
import pytest
import torch

from course_lib import gradient_flow as gf
from course_lib.gradcheck import eval_numerical_gradient_array, rel_error
from course_lib.rnn import RNN

N, T, D, H = 3, 6, 4, 5
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def params(seed=0, rho=None):
    g = torch.Generator().manual_seed(seed)
    Wx = torch.randn(D, H, generator=g, dtype=torch.float64) / D ** 0.5  # unsaturated: tanh' well above 0
    Wh = torch.randn(H, H, generator=g, dtype=torch.float64) / H ** 0.5
    if rho is not None:
        Wh = gf.rescale_spectral_radius(Wh, rho)
    b = 0.1 * torch.randn(H, generator=g, dtype=torch.float64)
    x = torch.randn(N, T, D, generator=g, dtype=torch.float64)
    h0 = torch.randn(N, H, generator=g, dtype=torch.float64)
    return x, Wx, Wh, b, h0


@pytest.mark.parametrize("phi", sorted(gf.NONLINEARITIES))
def test_step_jacobians_match_finite_differences(phi):
    x, Wx, Wh, b, h0 = params(1)
    J = gf.step_jacobians(h0, x[:, 0], Wx, Wh, b, phi)
    assert J.shape == (N, H, H)
    for n in range(N):
        def f(h):  # numpy (H,) -> numpy (H,)
            return gf.rnn_cell(torch.from_numpy(h), x[n, 0], Wx, Wh, b, phi).numpy()
        h = h0[n].numpy().copy()
        J_num = np.stack([eval_numerical_gradient_array(f, h, e) for e in np.eye(H)])  # row i: dh_next[i]/dh
        assert rel_error(J[n].numpy(), J_num) < 1e-7, phi


def test_tanh_jacobian_is_diag_dtanh_times_Wh_transposed():
    """The documented layout: J[i, j] = (1 - h_next[i]^2) Wh[j, i]; Wh without the transpose is wrong."""
    x, Wx, Wh, b, h0 = params(2)
    J = gf.step_jacobians(h0, x[:, 0], Wx, Wh, b)
    dtanh = 1 - gf.rnn_cell(h0, x[:, 0], Wx, Wh, b) ** 2  # (N, H)
    torch.testing.assert_close(J / dtanh[:, :, None], Wh.T.expand(N, H, H), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(J / dtanh[:, :, None], Wh.expand(N, H, H))


def test_unroll_is_course_rnn_forward():
    x, Wx, Wh, b, h0 = params(3)
    layer = RNN(D, H, dtype=torch.float64)
    layer.load_state_dict({"Wx": Wx, "Wh": Wh, "b": b})
    h_ref, _ = layer(x, h0)
    torch.testing.assert_close(gf.unroll(x, Wx, Wh, b, h0), h_ref.detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("phi", ["tanh", "sigmoid"])
def test_backward_products_match_autograd_through_the_unrolled_network(phi):
    x, Wx, Wh, b, h0 = params(4, rho=1.3)
    h, J = gf.trajectory_jacobians(x, Wx, Wh, b, h0, phi)
    assert h.shape == (N, T, H) and J.shape == (N, T, H, H)
    P = gf.backward_products(J)
    for n in range(N):
        # dh_T / dh_{T-k} for every k, by autograd with respect to the state k steps back
        for k in range(1, T + 1):
            start = h0[n] if k == T else h[n, T - k - 1]
            auto = torch.autograd.functional.jacobian(
                lambda s: gf.unroll(x[n:n + 1, T - k:], Wx, Wh, b, s[None], phi)[0, -1], start)
            torch.testing.assert_close(P[n, k - 1], auto, rtol=1e-10, atol=1e-13)
    norms = gf.backward_product_norms(J)
    torch.testing.assert_close(norms, torch.linalg.matrix_norm(P, ord=2))


def test_linear_products_are_powers_of_Wh_transposed():
    x, Wx, Wh, b, h0 = params(5)
    _, J = gf.trajectory_jacobians(x, Wx, Wh, b, h0, "linear")
    P = gf.backward_products(J)
    for k in range(1, T + 1):
        torch.testing.assert_close(P[0, k - 1], torch.linalg.matrix_power(Wh.T, k), rtol=1e-10, atol=1e-13)
    want = [np.linalg.norm(np.linalg.matrix_power(Wh.numpy(), k), 2) for k in range(T + 1)]
    np.testing.assert_allclose(gf.matrix_power_norms(Wh, T).numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(gf.backward_product_norms(J)[0].numpy(), want[1:], rtol=1e-10)


def test_batched_spectra_equal_per_matrix_numpy():
    Ws = gf.gaussian_matrices(20, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    eig, sv = gf.spectra(Ws)
    assert eig.shape == (20, 8) and eig.is_complex() and sv.shape == (20, 8)
    for W, e, s in zip(Ws.numpy(), eig.numpy(), sv.numpy()):
        np.testing.assert_allclose(np.sort_complex(e), np.sort_complex(np.linalg.eigvals(W)), atol=1e-12)
        np.testing.assert_allclose(s, np.linalg.svd(W, compute_uv=False), rtol=1e-12)


def test_spectral_radius_and_two_norm_match_numpy_one_and_many():
    Ws = np.random.default_rng(0).standard_normal((5, 7, 7))
    rho_np = [max(abs(np.linalg.eigvals(W))) for W in Ws]
    sigma_np = [np.linalg.norm(W, 2) for W in Ws]
    np.testing.assert_allclose(gf.spectral_radius(torch.from_numpy(Ws)).numpy(), rho_np, rtol=1e-12)
    np.testing.assert_allclose(gf.two_norm(torch.from_numpy(Ws)).numpy(), sigma_np, rtol=1e-12)
    one = torch.from_numpy(Ws[0])
    assert gf.spectral_radius(one).shape == () and gf.two_norm(one).shape == ()
    assert gf.spectral_radius(one).item() == pytest.approx(rho_np[0], rel=1e-12)
    assert gf.two_norm(one).item() == pytest.approx(sigma_np[0], rel=1e-12)
    assert all(s >= r for s, r in zip(sigma_np, rho_np))  # the fixture is not degenerate


def test_non_square_says_what_it_expected():
    with pytest.raises(ValueError, match=r"\(H, H\).*\(3, 4\)"):
        gf.spectral_radius(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="square"):
        gf.two_norm(torch.zeros(4))


def test_gaussian_matrices_are_reproducible_and_near_the_circular_law():
    W = gf.gaussian_matrices(1, 400, scale=0.8, generator=torch.Generator().manual_seed(3),
                             dtype=torch.float64)
    assert W.shape == (1, 400, 400) and W.dtype == torch.float64
    again = gf.gaussian_matrices(1, 400, scale=0.8, generator=torch.Generator().manual_seed(3),
                                 dtype=torch.float64)
    assert torch.equal(W, again)
    W = W[0].numpy()
    assert W.std() == pytest.approx(0.8 / 20, rel=0.02)
    assert max(abs(np.linalg.eigvals(W))) == pytest.approx(0.8, rel=0.05)  # circular law: rho ~ scale
    assert np.linalg.norm(W, 2) == pytest.approx(1.6, rel=0.05)             # sigma_max ~ 2 scale


EIGS = [0.9, -0.5, 0.3 + 0.6j, 0.85j, 0.1]  # two complex entries stand for two pairs: H = 7


def test_matrix_with_spectrum_has_exactly_those_eigenvalues():
    want = np.sort_complex(np.array([0.9, -0.5, 0.3 + 0.6j, 0.3 - 0.6j, 0.85j, -0.85j, 0.1]))
    for coupling in (0.0, 3.0):
        for eigenvalues in (EIGS, np.array(EIGS), torch.tensor(EIGS, dtype=torch.complex128)):
            W = gf.matrix_with_spectrum(eigenvalues, coupling)
            assert W.shape == (7, 7) and W.dtype == torch.float64
            np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(W.numpy())), want, atol=1e-12)
    W = gf.matrix_with_spectrum(EIGS, 3.0, dtype=torch.float32, device="cpu")
    assert W.dtype == torch.float32 and W.device.type == "cpu"


def test_zero_coupling_is_normal_and_its_powers_decay_as_rho_k():
    W = gf.matrix_with_spectrum(EIGS).numpy()
    np.testing.assert_allclose(W @ W.T, W.T @ W, atol=1e-15)
    assert np.linalg.norm(W, 2) == pytest.approx(0.9, rel=1e-12)  # sigma_max = rho for a normal matrix
    norms = [np.linalg.norm(np.linalg.matrix_power(W, k), 2) for k in range(30)]
    np.testing.assert_allclose(norms, 0.9 ** np.arange(30), rtol=1e-10)
    np.testing.assert_allclose(gf.matrix_power_norms(torch.from_numpy(W), 29).numpy(), norms, rtol=1e-10)


def test_non_normal_powers_grow_first_although_rho_is_below_one():
    W = gf.matrix_with_spectrum(EIGS, coupling=3.0).numpy()
    assert max(abs(np.linalg.eigvals(W))) == pytest.approx(0.9)
    norms = np.array([np.linalg.norm(np.linalg.matrix_power(W, k), 2) for k in range(200)])
    assert norms.max() > 1 and norms.argmax() > 1   # a transient: growth over several steps
    assert norms[-1] < 1e-3                          # ... and the eventual decay rho^k wins


def test_bad_eigenvalues_say_what_they_expected():
    for bad in ([], [[0.5]], [float("nan")]):
        with pytest.raises(ValueError, match="1-D list of finite numbers"):
            gf.matrix_with_spectrum(bad)


def test_rescale_spectral_radius_per_matrix():
    Ws = gf.gaussian_matrices(4, 10, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    target = torch.tensor([0.5, 1.0, 1.5, 3.0], dtype=torch.float64)
    out = gf.rescale_spectral_radius(Ws, target)
    torch.testing.assert_close(gf.spectral_radius(out), target)
    ratio = out / Ws  # one positive factor per matrix
    assert torch.allclose(ratio, ratio[:, :1, :1].expand_as(ratio)) and bool((ratio > 0).all())


def test_growth_rate_recovers_log_rho_of_a_normal_matrix():
    k = torch.arange(1, 51, dtype=torch.float64)
    norms = torch.stack([3.0 * 0.8 ** k, 0.5 * 1.2 ** k])  # constant prefactors do not change the slope
    torch.testing.assert_close(gf.growth_rate(norms), torch.log(torch.tensor([0.8, 1.2], dtype=torch.float64)))
    Wh = torch.diag(torch.tensor([0.9, -0.5, 0.2], dtype=torch.float64))
    assert gf.growth_rate(gf.matrix_power_norms(Wh, 40)[1:]).item() == pytest.approx(math.log(0.9))


def test_unknown_nonlinearity_names_the_choices():
    x, Wx, Wh, b, h0 = params()
    with pytest.raises(ValueError, match="linear.*relu.*sigmoid.*tanh.*'softsign'"):
        gf.rnn_cell(h0, x[:, 0], Wx, Wh, b, "softsign")


@cuda_only
def test_cuda_matches_cpu():
    x, Wx, Wh, b, h0 = params(8)
    _, J = gf.trajectory_jacobians(x, Wx, Wh, b, h0)
    _, J_gpu = gf.trajectory_jacobians(*(t.cuda() for t in (x, Wx, Wh, b, h0)))
    torch.testing.assert_close(J_gpu.cpu(), J, rtol=1e-10, atol=1e-12)
    Ws = gf.gaussian_matrices(50, 16, generator=torch.Generator().manual_seed(9), device="cuda")
    assert Ws.device.type == "cuda"
    eig, sv = gf.spectra(Ws)
    eig_cpu, sv_cpu = gf.spectra(Ws.cpu())
    torch.testing.assert_close(sv.cpu(), sv_cpu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(eig.abs().amax(-1).cpu(), eig_cpu.abs().amax(-1), rtol=1e-4, atol=1e-5)
    rho, sigma = gf.spectral_radius(Ws), gf.two_norm(Ws)
    assert rho.device.type == "cuda" and sigma.device.type == "cuda"
    torch.testing.assert_close(rho.cpu(), eig_cpu.abs().amax(-1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(sigma.cpu(), sv_cpu[:, 0], rtol=1e-4, atol=1e-5)
    W = gf.matrix_with_spectrum(EIGS, coupling=3.0, device="cuda")
    assert W.device.type == "cuda"
    torch.testing.assert_close(W.cpu(), gf.matrix_with_spectrum(EIGS, coupling=3.0), rtol=0, atol=0)
