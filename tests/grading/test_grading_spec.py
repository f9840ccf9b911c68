"""The grading boundary: what the kernel sends is read as data only, and judged by the grader's code."""
import base64
import io

import numpy as np
import pytest
import torch

from course_lib.grading import probe, spec


def roundtrip(value):
    return spec.decode(probe.encode_result(value))


def test_nested_results_cross_as_arrays():
    got = roundtrip((np.ones((2, 3)), {"loss": 1.5, "ids": [1, 2]}, None, torch.arange(3.0), "text"))
    assert isinstance(got, tuple) and len(got) == 5
    assert np.array_equal(got[0], np.ones((2, 3))) and got[2] is None
    assert float(got[1]["loss"]) == 1.5 and [int(i) for i in got[1]["ids"]] == [1, 2]
    assert np.array_equal(got[3], np.arange(3.0)) and str(got[4]) == "text"


def test_objects_are_refused_in_the_kernel_and_pickles_in_the_grader():
    class Yes:
        def __eq__(self, other):
            return True

    with pytest.raises(TypeError, match="not numbers"):
        probe.encode_result(Yes())
    buf = io.BytesIO()
    np.savez(buf, **{"": np.array([{"a": 1}], dtype=object)})  # a pickle: never loaded
    with pytest.raises(ValueError):
        spec.decode(base64.b64encode(buf.getvalue()).decode())
    with pytest.raises(ValueError):
        spec.decode("not base64 at all!")


def test_inputs_cross_both_ways():
    given = {"x": np.arange(6.0).reshape(2, 3), "ids": np.array([[0, 3]], dtype=np.int32), "n": 4,
             "word_to_idx": {"<NULL>": 0}}
    back = probe.decode_inputs(spec.encode_inputs(given))
    assert back["n"] == 4 and back["word_to_idx"] == {"<NULL>": 0}
    assert back["ids"].dtype == np.int32 and np.array_equal(back["x"], given["x"])


@pytest.mark.parametrize("got, want, fragment", [
    (np.ones(3), np.ones(4), "shape (3,), expected (4,)"),
    (np.array([1.0, np.nan]), np.ones(2), "NaN"),
    ((np.ones(2),), (np.ones(2), np.ones(2)), "tuple of 2"),
    ({"a": np.ones(1)}, {"b": np.ones(1)}, "keys ['b']"),
    (np.array(["x"]), np.ones(1), "numbers"),
    (np.ones(2) + 1e-6, np.ones(2), "max abs error 1e-06"),
])
def test_compare_says_what_is_wrong(got, want, fragment):
    why = spec.compare(got, want, 1e-8)
    assert why is not None and fragment in why, why


def test_tolerance_scales_with_the_size_of_the_expected_values():
    assert spec.compare(np.array([1e6 + 1e-3]), np.array([1e6]), 1e-8) is None      # 1e-3 <= 1e-8 * (1 + 1e6)
    assert spec.compare(np.array([1e6 + 1e-1]), np.array([1e6]), 1e-8) is not None
    assert spec.compare(np.array([1e-9]), np.array([0.0]), 1e-8) is None            # absolute near 0


def run_in_namespace(check, functions):
    inputs = check.make_inputs()
    namespace = dict(functions, **inputs)
    exec(check.run, namespace)
    return check.verdict(inputs, roundtrip(namespace["result"]))


def affine_check():
    return spec.Check.of("affine", ["x", "W"], ["out", None], lambda x, W: x @ W,
                         inputs=lambda rng: {"x": rng.standard_normal((2, 3)), "W": rng.standard_normal((3, 4))})


def test_check_of_passes_a_right_answer_and_names_what_failed():
    assert run_in_namespace(affine_check(), {"affine": lambda x, W: (x @ W, "cache")}) is None
    why = run_in_namespace(affine_check(), {"affine": lambda x, W: (x @ W + 1, None)})
    assert why.startswith("out differs")


def test_check_of_catches_an_input_changed_in_place():
    def sneaky(x, W):
        out = x @ W
        W *= 0
        return out, None

    assert run_in_namespace(affine_check(), {"affine": sneaky}) == "the function changed its input W (it should leave it as it is)"

    def slightly(x, W):
        out = x @ W
        W += 1e-15  # far below the outputs' tolerance, and still a change
        return out, None

    assert "changed its input W" in run_in_namespace(affine_check(), {"affine": slightly})


def test_check_of_wants_every_output():
    with pytest.raises(ValueError, match=r"should return 2 values \(out, \.\.\.\), got ndarray"):
        run_in_namespace(affine_check(), {"affine": lambda x, W: x @ W})


def test_missing_checks_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no grading checks"):
        spec.load_checks(tmp_path / "nothing_checks.py")
