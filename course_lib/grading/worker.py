"""Grade one student in a process of its own:  python -m course_lib.grading.worker WORKDIR ASSIGNMENT STUDENT

Runs nbgrader's autograde and feedback for the student (through nbgrader's API), with the
student's kernel started by the sandbox kernelspec of the work directory and every autograded
cell scored by the grader's verdicts (judged.py); notes what the static scan found and holds the
score at 0 only for what is clearly an attack on the grading; writes WORKDIR/results/<student>.json last, atomically, so a
result on disk always means a finished grade. Whatever the kernel started is killed at the end.
"""
import json
import os
import sys
import time
from pathlib import Path

import nbformat

from course_lib.grading import feedback, tamper
from course_lib.grading.procs import PR_SET_CHILD_SUBREAPER, kill_descendants, prctl, tie_to_parent
from course_lib.grading.submissions import read_notebook
from course_lib.grading.workdir import digest, make_api, write_json


# Read by OpenMP (torch's intra-op threads), MKL, OpenBLAS (NumPy), numexpr and Accelerate at start.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def sandbox_env(workdir: Path, assignment: str, student: str, settings: dict) -> Path:
    """Set the environment the sandbox kernel reads; returns the refusal log's path."""
    here = workdir / "autograded" / student / assignment
    scratch = workdir / "scratch" / student
    logs = workdir / "logs"
    for d in (here, scratch, logs):
        d.mkdir(parents=True, exist_ok=True)
    log = logs / f"{student}.sandbox.jsonl"
    log.write_text("")
    course_lib_dir = Path(__file__).resolve().parents[1]
    repo = course_lib_dir.parent  # solutions/ and any gradebook of the course checkout
    cfg = {
        "deny_read": [settings["course_root"], str(repo), str(workdir), settings["submissions"]],
        "allow": [str(here), str(scratch)],
        "allow_read": [sys.prefix, sys.base_prefix, str(course_lib_dir)],
        "log": str(log),
        "memory_bytes": settings["memory_mb"] * 2**20,
        "file_bytes": settings["file_mb"] * 2**20,
        "cpu_seconds": 4 * settings["notebook_timeout"],  # CPU time of all threads together
        "output_chars": settings["output_chars"],
    }
    os.environ.update(COURSE_SANDBOX=json.dumps(cfg), JUPYTER_PATH=str(workdir / "jupyter"),
                      IPYTHONDIR=str(scratch / "ipython"), MPLCONFIGDIR=str(scratch / "mpl"),
                      TMPDIR=str(scratch), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    threads = str(int(settings.get("threads") or 1))  # the kernel's share of the cores (batch.threads_per_worker)
    os.environ.update({name: threads for name in THREAD_VARIABLES})
    return log


def refusals(log: Path) -> list[str]:
    seen = []
    for line in log.read_text().splitlines():
        reason = json.loads(line)["refused"]
        if reason not in seen:
            seen.append(reason)
    return seen


def hold(api, assignment: str, student: str) -> None:
    """Set every grade of the submission to 0 by hand, as nbgrader's formgrader would."""
    with api.gradebook as gb:
        for nb in gb.find_submission(assignment, student).notebooks:
            for grade in nb.grades:
                grade.manual_score = 0
        gb.db.commit()


def failure_reason(log: str, cell_timeout: int) -> str:
    """What to tell the student and the instructor when nbgrader could not finish a notebook."""
    if "Timeout waiting" in log or "CellTimeoutError" in log:
        return (f"a cell ran past the {cell_timeout} s limit and did not stop when interrupted, "
                f"so the rest of the notebook could not run")
    if "DeadKernelError" in log or "Kernel died" in log or "UnresponsiveKernelError" in log:
        return "the notebook's kernel died while it ran (it exited, crashed or ran out of memory)"
    return "nbgrader could not autograde this notebook (see the grading log)"


def grade_one(workdir: Path, assignment: str, student: str) -> dict:
    settings = json.loads((workdir / "settings.json").read_text())
    log = sandbox_env(workdir, assignment, student, settings)
    submitted = workdir / "submitted" / student / assignment
    start = time.perf_counter()
    findings = []
    for path in sorted(submitted.glob("*.ipynb")):
        release = nbformat.read(workdir / "assignments" / assignment / path.name, as_version=4)
        findings += [(path.name, f) for f in tamper.scan_notebook(read_notebook(path), release)]
    notes_file = workdir / "logs" / f"{student}.notes.jsonl"
    notes_file.write_text("")
    api = make_api(workdir, cell_timeout=settings["cell_timeout"], db_url=settings.get("db_url"),
                   assignment=assignment, notes_file=notes_file)
    graded = api.autograde(assignment, student, force=True, create=True)
    (workdir / "logs" / f"{student}.nbgrader.log").write_text(
        (graded.get("log") or "") + "\n" + (graded.get("error") or ""))
    result = {"student": student, "assignment": assignment, "digest": digest(submitted),
              "status": "graded", "notes": [], "score": 0.0}
    if not graded["success"]:
        result["status"] = "error"
        result["notes"].append(failure_reason((graded.get("error") or "") + (graded.get("log") or ""),
                                              settings["cell_timeout"]))
    result["notes"] += [json.loads(line) for line in notes_file.read_text().splitlines()]
    blocked = refusals(log)
    result["notes"] += [f"sandbox refused {r}" for r in blocked]
    attacks = [f"{name}: {f}" for name, f in findings if f.attack]
    result["notes"] += [f"for review (score not changed): {name}: {f}" for name, f in findings if not f.attack]
    if attacks:
        result["status"] = "held"
        result["notes"] += [f"score held at 0 for review: {f}" for f in attacks]
    if graded["success"]:
        if attacks:
            hold(api, assignment, student)
        api.generate_feedback(assignment, student, force=True)
        sub = api.get_submission(assignment, student)
        result["score"], result["max_score"] = sub["score"], sub["max_score"]
    else:
        with api.gradebook as gb:
            result["max_score"] = gb.find_assignment(assignment).max_score
    if result["notes"]:
        for path in sorted(submitted.glob("*.ipynb")):
            page = workdir / "feedback" / student / assignment / path.with_suffix(".html").name
            feedback.add_banner(page, "Notes from the grader", result["notes"])
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def main(argv: list[str]) -> int:
    workdir, assignment, student = Path(argv[0]), argv[1], argv[2]
    tie_to_parent()
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of the kernel become ours, to be killed below
    try:
        result = grade_one(workdir, assignment, student)
        write_json(workdir / "results" / f"{student}.json", result)
    finally:
        kill_descendants()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
