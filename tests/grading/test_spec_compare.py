"""spec.compare's tolerance: absolute near zero, relative for large values, scaled by the array's
largest expected magnitude; non-finite values and shape mismatches never pass."""
import numpy as np
import pytest

from course_lib.grading.spec import compare

TOL = 1e-8


@pytest.mark.parametrize("scale, passes, fails", [
    # allowed error = TOL * (1 + max|want|): about TOL when the values are tiny (absolute) ...
    (1e-8, 0.9e-8, 1.1e-8),
    # ... 2 TOL at 1 ...
    (1.0, 1.9e-8, 2.1e-8),
    # ... and TOL * scale when they are large (relative): an error of 0.9 in 1e8 passes.
    (1e8, 0.9, 1.1),
])
def test_tolerance_is_absolute_small_and_relative_large(scale, passes, fails):
    want = scale * np.array([1.0, -0.5, 0.25])
    assert compare(want + passes, want, TOL) is None
    why = compare(want + np.array([0.0, fails, 0.0]), want, TOL)
    assert why is not None and "max abs error" in why, why


def test_tiny_values_get_no_relative_protection():
    """At scale 1e-8 a 50 % error is within TOL: checks of tiny outputs must scale them first."""
    want = np.full(3, 1e-8)
    assert compare(want * 1.5, want, TOL) is None
    assert compare(want * 3.5, want, TOL) is not None


def test_the_scale_is_the_largest_expected_value_of_the_array():
    want = np.array([1e8, 1e-8])
    assert compare(np.array([1e8, 0.5]), want, TOL) is None  # the small entry rides on the large one
    assert compare(np.array([1e8, 0.5]), np.array([1.0, 1e-8]), TOL) is not None


def test_zero_tolerance_is_exact_and_integers_compare_as_numbers():
    assert compare(np.arange(3), np.arange(3.0), 0.0) is None
    assert compare(np.arange(3.0) + 1e-15, np.arange(3.0), 0.0) is not None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_answers_never_pass(bad):
    want = np.array([1.0, 2.0])
    why = compare(np.array([1.0, bad]), want, TOL)
    assert why is not None and "NaN or inf" in why
    assert compare(np.array([1.0, bad]), np.array([1.0, bad]), TOL) is not None, "not even against itself"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_reference_is_reported_not_matched(bad):
    """With inf in the reference, TOL * inf would accept any finite answer."""
    why = compare(np.array([1.0, 1e300]), np.array([1.0, bad]), TOL)
    assert why is not None and "reference" in why and "instructor" in why


@pytest.mark.parametrize("got_shape, want_shape", [((3,), (3, 1)), ((1,), ()), ((2, 3), (3, 2)), ((0,), (1,))])
def test_shapes_must_match_exactly_no_broadcasting(got_shape, want_shape):
    why = compare(np.ones(got_shape), np.ones(want_shape), TOL)
    assert why == f"the result has shape {got_shape}, expected {want_shape}"


def test_scalars_and_nested_results_use_the_same_rule():
    assert compare(1e8 + 0.9, 1e8, TOL) is None
    assert compare((np.ones(2), {"loss": 1e8 + 0.9}), (np.ones(2), {"loss": 1e8}), TOL) is None
    why = compare((np.ones(2), {"loss": 1e8 + 1.1}), (np.ones(2), {"loss": 1e8}), TOL)
    assert why is not None and why.startswith("the result[1]['loss'] differs"), why
