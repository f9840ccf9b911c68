"""Each worker's kernel gets its share of the cores (OpenMP, MKL and OpenBLAS threads, and torch's),
and none of the grader's other environment variables."""
import ast
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from course_lib import grading
from course_lib.grading.batch import threads_per_worker
from course_lib.grading.sandbox import KEEP_ENV, KEEP_PREFIXES
from tiny_course import A, CORRECT, NB

pytestmark = pytest.mark.slow
# ipykernel sets these itself when it starts (terminal and pager settings)
SET_BY_IPYKERNEL = ("CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "GIT_PAGER", "PAGER", "TERM", "PYDEVD_USE_FRAME_EVAL")
CORES = len(os.sched_getaffinity(0))
REPORT = ("import os, torch\n"
          "print('THREADS', *[os.environ.get(v) for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', "
          "'OPENBLAS_NUM_THREADS')], torch.get_num_threads())\n"
          "print('ENV', sorted(os.environ))\n"
          "print('OWN', len(open('/proc/self/status').read()) > 0)")


def test_cores_are_shared_out():
    assert threads_per_worker(1) == CORES
    assert threads_per_worker(CORES) == 1
    assert threads_per_worker(4 * CORES) == 1  # never 0: a kernel always has a thread
    assert threads_per_worker(2) == max(1, CORES // 2)


def test_thread_variables_reach_the_kernel(tiny_course, tmp_path):
    release = nbformat.read(tiny_course / "assignments" / A / NB, as_version=4)
    for student in ("s1", "s2"):
        nb = grading.fill_answers(release, {"add_one": CORRECT})
        nb.cells.append(new_code_cell(REPORT))
        (tmp_path / "subs" / student / A).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / student / A / NB)
    results = grading.grade(tmp_path / "subs", tmp_path / "work", A, course_root=tiny_course, workers=2)
    assert [(r.student, r.status, r.score) for r in results] == [("s1", "graded", 3.0), ("s2", "graded", 3.0)], results
    want = str(max(1, CORES // 2))
    for student in ("s1", "s2"):
        nb = nbformat.read(tmp_path / "work" / "autograded" / student / A / NB, as_version=4)
        said = "".join(o.text for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                       if o.get("name") == "stdout").splitlines()
        assert [line for line in said if line.startswith("THREADS")] == [f"THREADS {want} {want} {want} {want}"], student
        names, = [line.removeprefix("ENV ") for line in said if line.startswith("ENV ")]
        extra = [k for k in ast.literal_eval(names) if k not in KEEP_ENV + SET_BY_IPYKERNEL
                 and not k.startswith(KEEP_PREFIXES)]
        assert extra == ["COURSE_SANDBOX_CLEAN"], extra  # the grader's other variables stayed behind
        assert "OWN True" in said, said  # reading other processes' /proc: tests/grading/test_sandbox.py
