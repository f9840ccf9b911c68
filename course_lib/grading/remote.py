"""The task a Dask worker runs for one student (``grade_task``), with nothing shared but its arguments.

The arguments carry the course (nbgrader_config.py, the assignment's release and checks, not its
source notebooks; a gradebook that knows only the assignment; settings.json) and the student's notebooks, as tar
bytes (``transfer.pack``). The task unpacks them in a scratch folder of its own under the
worker's local directory, grades the student there exactly as the local pool does (the worker
module in a process of its own, the kernel in the sandbox, the same limits), and returns
everything as data: the result, the files the instructor keeps (feedback pages, the autograded
notebooks, the logs) and the grades of its scratch gradebook. The scratch folder is removed.
The grading process is forked from a server with nbgrader and torch loaded, as in the local pool
(``batch.run_worker``); in a worker started by a nanny, a daemon process that multiprocessing
lets have no children, it is a fresh ``python -m course_lib.grading.worker`` (seconds slower:
start such workers with DASK_DISTRIBUTED__WORKER__DAEMON=False).
A task that runs twice (Dask reruns the task of a worker that died) grades twice in two scratch
folders and returns the same data; only the instructor's machine writes anything that lasts.
"""
import contextlib
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_lib.grading import batch
from course_lib.grading.procs import kill_tree
from course_lib.grading.transfer import export_grades, pack, unpack
from course_lib.grading.workdir import failed_result

KEPT = ("feedback/{s}/{a}", "autograded/{s}/{a}", "logs/{s}.log", "logs/{s}.nbgrader.log",
        "logs/{s}.notes.jsonl", "logs/{s}.sandbox.jsonl")


def where() -> dict:
    """Which worker this is (its address and host), its scratch root and its threads per task."""
    info = {"worker": "local", "host": socket.gethostname(), "pid": os.getpid(), "ip": "",
            "local_directory": tempfile.gettempdir(), "nthreads": 1}
    try:
        from distributed import get_worker
        from distributed.comm import get_address_host

        w = get_worker()
        info.update(worker=w.address, ip=get_address_host(w.address), local_directory=w.local_directory,
                    nthreads=w.state.nthreads)
    except (ImportError, ValueError):  # not inside a Dask worker: a local call (tests, debugging)
        pass
    return info


def run_student(scratch: Path, assignment: str, student: str, timeout: float) -> str | None:
    """``python -m course_lib.grading.worker`` on the scratch course; None, or why it gave no result."""
    log = open(scratch / "logs" / f"{student}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "course_lib.grading.worker", str(scratch), assignment, student],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=scratch)
    try:
        proc.wait(timeout)
        return None if proc.returncode == 0 else f"the grading process stopped with exit status {proc.returncode}"
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # and whatever left the tree but not the session
        proc.wait()
        return f"the notebook ran longer than the {timeout:.0f} s limit and was stopped"
    finally:
        log.close()


def grade_task(course: bytes, assignment: str, student: str, submission: bytes, timeout: float,
               slots: dict | None = None) -> dict:
    """Grade one student from bytes; return {"result", "files", "grades", "worker", "host", ...}.

    ``slots``: tasks that may run at once on each host (its workers' threads together); the
    student's kernel gets the host's cores shared out among them, as the local pool does."""
    me = where()
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f"grade-{assignment}-{student}-", dir=me["local_directory"]))
    try:
        unpack(course, scratch)
        unpack(submission, scratch / "submitted" / student / assignment)
        for sub in ("results", "logs"):
            (scratch / sub).mkdir(exist_ok=True)
        settings = json.loads((scratch / "settings.json").read_text())
        # The scratch course stands for the course and the submissions folder: the sandbox denies
        # reading it whole (except the student's own folders), as it denies the instructor's.
        db_url = f"sqlite:///{scratch / 'gradebook.db'}?timeout=120"
        settings.update(course_root=str(scratch), submissions=str(scratch / "submitted"), db_url=db_url,
                        threads=batch.threads_per_worker((slots or {}).get(me["ip"], me["nthreads"])))
        (scratch / "settings.json").write_text(json.dumps(settings, indent=1))
        batch.write_kernelspec(scratch)  # this machine's Python starts the sandbox kernel
        result_file = scratch / "results" / f"{student}.json"
        if multiprocessing.current_process().daemon:  # a nanny's worker may have no multiprocessing children
            why = run_student(scratch, assignment, student, timeout)
            failed = None if why is None and result_file.exists() else failed_result(
                scratch, assignment, student, why or "the grading process wrote no result", time.perf_counter() - start)
        else:  # as the local pool: forked from a server that has nbgrader and torch loaded already
            res = batch.run_worker(scratch, assignment, student, timeout)
            failed = None if result_file.exists() else {
                k: v for k, v in dataclasses.asdict(res).items() if k not in ("reused", "worker")}
        result = failed or json.loads(result_file.read_text())
        grades = None if failed else export_grades(db_url, assignment, student)
        kept = [k.format(s=student, a=assignment) for k in KEPT]
        return {**me, "student": student, "result": result, "grades": grades,
                "files": pack(scratch, kept), "seconds": round(time.perf_counter() - start, 2)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
