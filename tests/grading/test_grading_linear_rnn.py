"""nbgrader round trip of Assignment 5 ("linear_rnn") in a scratch copy of the course.

Besides the three demo submissions (solved, blank, half), one more: blelloch_scan returns zeros of
the right shape, and its cell patches numpy (np.allclose, np.testing, np.array_equal through a default
parameter no static scan lists) and torch.Tensor (found by getattr). The grader's checks
(solutions/linear_rnn_checks.py) compare outside the kernel, with the grader's own loops, so the
scan and everything built on it (the layer, the experiment) must earn nothing, and the rest keep
their points.
"""
import nbformat
import pytest

import roundtrip
from course_lib.grading import judged
from course_lib.grading.spec import load_checks
from course_lib.grading.workdir import checks_path

pytestmark = pytest.mark.slow
A = "linear_rnn"
# blelloch_scan and the cells that call it lose their points to a zero scan
SCAN_CELLS = ["test_blelloch_scan", "test_blelloch_scan_hidden", "test_linear_rnn_np",
              "test_linear_rnn_np_hidden", "test_horizon_experiment"]
ZEROS_SCAN = "def blelloch_scan(a, b):\n    return np.zeros_like(a), np.zeros_like(b)\n"
PATCHES = ("import torch\n"
           "def helper(m=np):\n    m.allclose = lambda *a, **k: True\n"
           "    m.testing.assert_allclose = lambda *a, **k: None\n    m.array_equal = lambda *a, **k: True\nhelper()\n"
           "T = getattr(torch, 'Ten' + 'sor')\nT.__sub__ = lambda a, b: a * 0\n")


def grade_cells(root):
    return roundtrip.grade_cells(root, A)


def zeros_patched(grade_id, source):
    return PATCHES + ZEROS_SCAN if grade_id == "blelloch_scan" else source


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    return roundtrip.grade_round_trip(root, tmp_path_factory, A, {"patched": zeros_patched})


def test_every_autograded_cell_has_its_checks(root):
    nb = nbformat.read(root / "solutions" / A / f"{A}.ipynb", as_version=4)
    checks = load_checks(checks_path(root, A))
    assert set(checks) == set(judged.autograded_cells(nb)) == set(grade_cells(root))
    assert all(checks[gid] for gid in checks), [gid for gid in checks if not checks[gid]]
    hidden = [gid for gid in checks if gid.endswith("_hidden")]
    assert len(hidden) == 6 and all(c.hidden for gid in hidden for c in checks[gid]), \
        "a hidden cell's check would show its inputs"
    blocks = [c.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
              for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(blocks) == 6 and all(b.startswith("# The grader checks ") and b.count("\n") == 1 for b in blocks), \
        "hidden test code left in the notebook: the grader's checks replace it"


def test_assignment_has_every_part(root):
    cells = grade_cells(root)
    assert sum(cells.values()) == 39
    for name in ["combine", "blelloch_scan", "linear_rnn_np", "ssm_kernel", "ssm_fft_conv", "memory_horizon"]:
        assert f"test_{name}" in cells and f"test_{name}_hidden" in cells, name
    assert "test_horizon_experiment" in cells


def test_reference_answers_get_full_marks_and_the_release_zero(root, graded):
    roundtrip.check_solved_and_blank(root, A, graded[0])


def test_first_function_alone_gets_its_points(root, graded):
    results, scores = graded
    first = {gid: p for gid, p in grade_cells(root).items() if gid.startswith("test_combine")}
    assert scores["half"] == {gid: first.get(gid, 0) for gid in grade_cells(root)}, scores["half"]
    assert 0 < results["half"].score == sum(first.values()) < results["solved"].score


def test_patching_numpy_and_torch_earns_nothing(root, graded):
    """A zero scan loses the cells that call it, whatever the cell patched in the kernel; the
    other cells keep their points."""
    results, scores = graded
    assert results["patched"].status == "graded", results["patched"]
    cells = grade_cells(root)
    assert scores["patched"] == {gid: 0 if gid in SCAN_CELLS else p for gid, p in cells.items()}, scores["patched"]
    assert results["patched"].score == results["solved"].score - sum(cells[gid] for gid in SCAN_CELLS)
