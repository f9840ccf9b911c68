"""Grade a batch of submissions: a scratch nbgrader course, parallel workers, resume, CSV, table.

The work directory is an nbgrader course of its own: nbgrader_config.py and the assignment's
source copied in, the gradebook, submitted/ (copies: the input is never written), autograded/,
feedback/, results/<student>.json (one per finished student), grades.csv and logs/.
Running again resumes: a student whose result is on disk for the same notebooks is not graded
again unless ``force``. Each student is graded by ``course_lib.grading.worker`` in a process of
its own, so a crash, a kill or a runaway notebook costs that student's grade and nobody else's.
nbgrader's API on the work directory and its result files come from ``workdir``, which the worker
shares; the worker imports nothing from here.
"""
import csv
import fcntl
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.grading.procs import kill_tree
from course_lib.grading.submissions import Submission, collect, copy_in, safe_student_id, source_notebooks
from course_lib.grading.workdir import checks_path, create_gradebook, digest, failed_result, make_api, write_json

COURSE_ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = {"cell_timeout": 120, "notebook_timeout": 600, "memory_mb": 4096, "file_mb": 64,
            "output_chars": 1_000_000}


@dataclass
class Result:
    student: str
    score: float | None = None
    max_score: float | None = None
    status: str = "graded"
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    reused: bool = False
    worker: str = ""  # with --scheduler: the Dask worker that graded the student


_HELD: set[Path] = set()


@contextmanager
def exclusive(workdir: Path):
    """One grading run at a time per work directory; a second one is refused with the first's pid.

    The lock is an flock on workdir/.grading.lock: the kernel drops it when the holder exits,
    however it exits, so a run killed with SIGKILL leaves no stale lock behind."""
    workdir = workdir.resolve()
    if workdir in _HELD:  # this process holds it already (the command line takes it first)
        yield
        return
    workdir.mkdir(parents=True, exist_ok=True)
    handle = open(workdir / ".grading.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process that has not written its pid yet"
        handle.close()
        raise SystemExit(f"error: another grading run is using {workdir} ({holder}). Wait for it to "
                         f"finish, or grade into another --workdir.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    _HELD.add(workdir)
    try:
        yield
    finally:
        _HELD.discard(workdir)
        handle.truncate(0)
        handle.close()


def write_kernelspec(workdir: Path) -> None:
    """The 'python3' kernel of the grading run starts inside the sandbox (see sandbox.py)."""
    spec = workdir / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "course_lib.grading.sandbox", "-f", "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)", "language": "python"}, indent=1))


def prepare_course(course_root: Path, workdir: Path, assignment: str, settings: dict) -> None:
    """Create or update the scratch course; release the assignment into its gradebook."""
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("results", "logs", "submitted"):
        (workdir / sub).mkdir(exist_ok=True)
    shutil.copy(course_root / "nbgrader_config.py", workdir / "nbgrader_config.py")
    shutil.copytree(course_root / "solutions" / assignment, workdir / "solutions" / assignment,
                    dirs_exist_ok=True)
    shutil.copy(checks_path(course_root, assignment), checks_path(workdir, assignment))
    check_coverage(workdir, assignment)
    write_kernelspec(workdir)
    write_json(workdir / "settings.json", settings)
    api = make_api(workdir, db_url=settings.get("db_url"))
    create_gradebook(api.coursedir.db_url)
    made = api.generate_assignment(assignment, force=True, create=True)
    if not made["success"]:
        raise SystemExit(f"error: nbgrader could not generate '{assignment}':\n{made['log'][-4000:]}")


def check_coverage(workdir: Path, assignment: str) -> None:
    """Every autograded test cell of the source has checks; refuse to grade otherwise."""
    import nbformat

    from course_lib.grading.judged import autograded_cells
    from course_lib.grading.spec import load_checks

    checks = load_checks(checks_path(workdir, assignment))
    for path in sorted((workdir / "solutions" / assignment).glob("*.ipynb")):
        missing = [g for g in autograded_cells(nbformat.read(path, as_version=4)) if not checks.get(g)]
        if missing:
            raise SystemExit(f"error: {checks_path(workdir, assignment).name} declares no check for the "
                             f"autograded cells {', '.join(missing)} of {path.name}: add them to CHECKS")


def cpu_cores() -> int:
    """Cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Intra-op threads (OpenMP, BLAS, torch) for each worker's kernel: the cores shared out.

    Without a cap every kernel's torch and BLAS use all cores, so two workers on two cores fight
    over them (and over caches) instead of grading side by side."""
    return max(1, cpu_cores() // max(1, workers))


_CONTEXT = None
# Imported once by the fork server, so that each student's worker starts in milliseconds instead of
# importing nbgrader again (seconds of CPU per student); torch is what the checks files import (the
# grader's references; a missing module is skipped). The student's kernel is a fresh process (the
# sandbox kernelspec), never a fork of this server: nothing here is shared with a submission.
PRELOAD = ["course_lib.grading.worker", "course_lib.grading.judged", "course_lib.grading.batch", "nbgrader.apps",
           "nbconvert.exporters.html", "torch"]


def worker_context():
    """Workers are forked from a server process that has the grading modules loaded already."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def start_worker_server() -> None:
    """Start the fork server now; it imports PRELOAD while this process goes on."""
    from multiprocessing import forkserver

    worker_context()
    forkserver.ensure_running()


def worker_entry(workdir: str, assignment: str, student: str, log: str) -> None:
    """A worker process: its own session, its output in the student's log, then worker.main."""
    from course_lib.grading import worker

    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    os._exit(worker.main([workdir, assignment, student]))


def run_worker(workdir: Path, assignment: str, student: str, timeout: float) -> Result:
    """Grade one student in a worker process; a worker that fails still yields a Result."""
    result_file = workdir / "results" / f"{student}.json"
    result_file.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = worker_context().Process(target=worker_entry, args=(str(workdir), assignment, student,
                                                               str(workdir / "logs" / f"{student}.log")))
    proc.start()
    proc.join(timeout)
    why = f"the grading process stopped with exit status {proc.exitcode}"
    if proc.is_alive():
        why = f"the notebook ran longer than the {timeout:.0f} s limit and was stopped"
        kill_tree(proc.pid)
        proc.join()
    if result_file.exists():
        return result_from(json.loads(result_file.read_text()))
    return result_from(failed_result(workdir, assignment, student, why, time.perf_counter() - start))


def result_from(data: dict, reused: bool = False) -> Result:
    keys = {"student", "score", "max_score", "status", "seconds", "notes", "worker"}
    return Result(**{k: v for k, v in data.items() if k in keys}, reused=reused)


def grade(submissions: Path, workdir: Path, assignment: str, course_root: Path = COURSE_ROOT, *,
          workers: int | None = None, force: bool = False, progress: bool = False,
          settings: dict | None = None, named_regexp: str | None = None, runner=None) -> list[Result]:
    """Autograde every submission in ``submissions``; one Result per student (or problem).

    ``runner`` grades the students to grade (``run_all``'s arguments); by default ``run_all``, the
    local pool; ``cluster.grade`` passes its own, which grades them on a Dask cluster.
    Local workers are forked from a server process (multiprocessing "forkserver"): a script that calls
    this must keep its own top-level code under ``if __name__ == "__main__":``."""
    settings = {**DEFAULTS, **(settings or {}), "course_root": str(course_root.resolve()),
                "submissions": str(submissions.resolve())}
    with exclusive(workdir):
        return _grade(submissions, workdir, assignment, course_root, workers, force, progress, settings,
                      named_regexp, runner)


def _grade(submissions, workdir, assignment, course_root, workers, force, progress, settings, named_regexp,
           runner):
    expected = [p.name for p in source_notebooks(course_root, assignment)]
    kwargs = {"named_regexp": named_regexp} if named_regexp else {}
    found = collect(submissions, assignment, expected, **kwargs)
    workers = workers or cpu_cores()
    settings.setdefault("threads", threads_per_worker(min(workers, max(1, len(found)))))
    if found and runner is None:
        start_worker_server()  # its imports (seconds) overlap the course's preparation
    prepare_course(course_root, workdir, assignment, settings)
    results, todo = [], []
    for sub in found:
        if not safe_student_id(sub.student):
            sub.problems.append(f"student id {sub.student!r} is not a plain name (letters, digits, . _ - @ +)")
        if sub.problems:
            results.append(Result(sub.student, status="skipped", notes=sub.problems + sub.notes))
            continue
        copy_in(sub, workdir / "submitted", assignment, workdir / "assignments" / assignment)
        done = workdir / "results" / f"{sub.student}.json"
        if done.exists() and not force:
            old = json.loads(done.read_text())
            if old.get("digest") == digest(workdir / "submitted" / sub.student / assignment):
                results.append(result_from(old, reused=True))
                continue
        todo.append(sub)
    results += (runner or run_all)(workdir, assignment, todo, workers, settings, progress)
    notes = {sub.student: sub.notes for sub in found if not sub.problems}
    for r in results:
        r.notes += [n for n in notes.get(r.student, []) if n not in r.notes]
    results.sort(key=lambda r: r.student)
    write_csv(results, workdir / "grades.csv", assignment)
    return results


def time_limit(workdir: Path, assignment: str, settings: dict) -> float:
    """Seconds one student's grading may take: the notebook limit per notebook of the assignment."""
    return settings["notebook_timeout"] * max(1, len(source_notebooks(workdir, assignment)))


def run_all(workdir: Path, assignment: str, todo: list[Submission], workers: int,
            settings: dict, progress: bool) -> list[Result]:
    from tqdm import tqdm

    timeout = time_limit(workdir, assignment, settings)
    out = []
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(todo), desc=f"grading {assignment}", unit="student", disable=not progress,
                 file=sys.stderr) as bar:
        futures = [pool.submit(run_worker, workdir, assignment, s.student, timeout) for s in todo]
        for future in as_completed(futures):
            out.append(future.result())
            bar.update()
    return out


def write_csv(results: list[Result], path: Path, assignment: str) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", "status", "seconds", "notes"])
        for r in results:
            writer.writerow([r.student, assignment, "" if r.score is None else r.score,
                             "" if r.max_score is None else r.max_score, r.status, r.seconds,
                             " | ".join(r.notes)])


def table(results: list[Result]) -> str:
    rows = [("student", "score", "max", "status", "seconds")]
    for r in results:
        rows.append((r.student, "-" if r.score is None else f"{r.score:g}",
                     "-" if r.max_score is None else f"{r.max_score:g}",
                     r.status + (" (earlier run)" if r.reused else ""), f"{r.seconds:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)
