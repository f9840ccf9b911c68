"""course_lib.spectra against numpy.linalg, and the spectra of the matrices it builds."""
import numpy as np
import pytest

from course_lib.spectra import (largest_singular_value, matrix_with_spectrum, scaled_gaussian,
                                spectral_radius)


def stack(seed=0, n=5, H=7):
    return np.random.default_rng(seed).standard_normal((n, H, H))


def test_spectral_radius_matches_numpy_one_and_many():
    Ws = stack()
    for W in Ws:
        assert spectral_radius(W) == pytest.approx(max(abs(np.linalg.eigvals(W))), rel=1e-12)
    np.testing.assert_allclose(spectral_radius(Ws), [max(abs(np.linalg.eigvals(W))) for W in Ws], rtol=1e-12)


def test_largest_singular_value_is_the_two_norm():
    Ws = stack(1)
    np.testing.assert_allclose(largest_singular_value(Ws), [np.linalg.norm(W, 2) for W in Ws], rtol=1e-12)
    W = Ws[0]
    assert largest_singular_value(W) >= spectral_radius(W)  # ||W|| >= rho for every matrix


def test_non_square_says_what_it_expected():
    with pytest.raises(ValueError, match=r"\(H, H\).*\(3, 4\)"):
        spectral_radius(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="square"):
        largest_singular_value(np.zeros(4))


def test_scaled_gaussian_is_reproducible_and_near_the_circular_law():
    W = scaled_gaussian(np.random.default_rng(3), 400, scale=0.8)
    assert W.shape == (400, 400)
    np.testing.assert_array_equal(W, scaled_gaussian(np.random.default_rng(3), 400, scale=0.8))
    assert W.std() == pytest.approx(0.8 / 20, rel=0.02)
    assert spectral_radius(W) == pytest.approx(0.8, rel=0.05)
    assert largest_singular_value(W) == pytest.approx(1.6, rel=0.05)
    with pytest.raises(ValueError, match="positive int"):
        scaled_gaussian(np.random.default_rng(0), 0)


EIGS = [0.9, -0.5, 0.3 + 0.6j, 0.85j, 0.1]  # two complex entries stand for two pairs: H = 7


def test_matrix_with_spectrum_has_exactly_those_eigenvalues():
    want = np.sort_complex(np.array([0.9, -0.5, 0.3 + 0.6j, 0.3 - 0.6j, 0.85j, -0.85j, 0.1]))
    for coupling in (0.0, 3.0):
        W = matrix_with_spectrum(EIGS, coupling)
        assert W.shape == (7, 7) and W.dtype == np.float64
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(W)), want, atol=1e-12)


def test_zero_coupling_is_normal_and_its_powers_decay_as_rho_k():
    W = matrix_with_spectrum(EIGS)
    np.testing.assert_allclose(W @ W.T, W.T @ W, atol=1e-15)
    assert largest_singular_value(W) == pytest.approx(spectral_radius(W), rel=1e-12)
    norms = [np.linalg.norm(np.linalg.matrix_power(W, k), 2) for k in range(30)]
    np.testing.assert_allclose(norms, 0.9 ** np.arange(30), rtol=1e-10)


def test_non_normal_powers_grow_first_although_rho_is_below_one():
    W = matrix_with_spectrum(EIGS, coupling=3.0)
    assert spectral_radius(W) == pytest.approx(0.9)
    norms = np.array([np.linalg.norm(np.linalg.matrix_power(W, k), 2) for k in range(200)])
    assert norms.max() > 1 and norms.argmax() > 1   # a transient: growth over several steps
    assert norms[-1] < 1e-3                          # ... and the eventual decay rho^k wins


def test_bad_eigenvalues_say_what_they_expected():
    for bad in ([], [[0.5]], [np.nan]):
        with pytest.raises(ValueError, match="1-D list of finite numbers"):
            matrix_with_spectrum(bad)
