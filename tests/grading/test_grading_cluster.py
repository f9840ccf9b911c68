"""`course grade --scheduler`: a real Dask scheduler and three workers on 127.0.0.1, each with its own
scratch directory (none shared), and a real PostgreSQL gradebook (conftest's ``postgres_server``)."""
import csv
import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_lib import grading
from course_lib.grading import cluster
from course_lib.grading.__main__ import main as course_grade
from course_lib.grading.transfer import export_grades, import_grades, pack, unpack
from servers import free_port
from tiny_course import A, CORRECT, NB, WRONG

pytestmark = pytest.mark.slow

SLOW = "import time\ntime.sleep(8)\n" + CORRECT  # long enough to be killed in the middle of
EXPECTED = {"a_right": ("graded", 3.0), "b_wrong": ("graded", 0.0), "c_slow": ("graded", 3.0),
            "d_right": ("graded", 3.0), "e_broken": ("skipped", None)}


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """`dask scheduler` and three `dask worker` processes, two without a nanny (killed, they stay dead)."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    dask = str(Path(sys.executable).parent / "dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=open(base / "scheduler.log", "w"))]
    for i in range(3):  # w2 under a nanny: a daemon process, which grades through `python -m` instead
        procs.append(subprocess.Popen(
            [dask, "worker", address, "--name", f"w{i}", "--nthreads", "1", "--no-dashboard",
             "--nanny" if i == 2 else "--no-nanny", "--local-directory", str(base / f"scratch{i}")],
            stdout=subprocess.DEVNULL, stderr=open(base / f"w{i}.log", "w")))
    try:
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(3, timeout=120)
            pids = client.run(os.getpid)  # worker address -> pid
        yield address, pids
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def submissions(tiny_course, tmp_path_factory):
    release = nbformat.read(tiny_course / "assignments" / A / NB, as_version=4)
    subs = tmp_path_factory.mktemp("cluster_subs")
    for student, code in [("a_right", CORRECT), ("b_wrong", WRONG), ("c_slow", SLOW), ("d_right", CORRECT)]:
        (subs / student / A).mkdir(parents=True)
        nbformat.write(grading.fill_answers(release, {"add_one": code}), subs / student / A / NB)
    (subs / "e_broken" / A).mkdir(parents=True)
    (subs / "e_broken" / A / NB).write_text("{not json")
    return subs


@pytest.fixture(scope="module")
def local_run(tiny_course, submissions, tmp_path_factory):
    """The reference: the same submissions graded one at a time on this machine (SQLite gradebook)."""
    work = tmp_path_factory.mktemp("local_work")
    results = grading.grade(submissions, work, A, course_root=tiny_course, workers=1)
    return work, results


def csv_rows(work: Path) -> list[dict]:
    with open(work / "grades.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def gradebook(db_url: str, students) -> dict:
    return {s: export_grades(db_url, A, s) for s in students}


def graded_lines(work: Path) -> list[str]:
    return [ln for ln in (work / "logs" / "cluster.log").read_text().splitlines() if " by tcp://" in ln]


def test_cluster_run_equals_local_run(tiny_course, submissions, local_run, dask_cluster, postgres_server, tmp_path):
    address, pids = dask_cluster
    local_work, local_results = local_run
    assert {r.student: (r.status, r.score) for r in local_results} == EXPECTED
    db = postgres_server.database("cluster_equal")
    work = tmp_path / "work"
    results = cluster.grade(submissions, work, A, course_root=tiny_course, scheduler=address,
                            settings={"db_url": db})
    assert {r.student: (r.status, r.score) for r in results} == EXPECTED
    assert csv_rows(work) == csv_rows(local_work)
    graded = ["a_right", "b_wrong", "c_slow", "d_right"]
    cluster_book = gradebook(db, graded)
    assert cluster_book == gradebook(f"sqlite:///{local_work / 'gradebook.db'}", graded)
    assert cluster_book["b_wrong"]["notebooks"]["tiny"]["grades"]["test_hidden"]["auto_score"] == 0.0
    assert not (work / "gradebook.db").exists(), "SQLite was used instead of --db-url"
    for s in graded:  # the files came back from the workers
        assert (work / "feedback" / s / A / "tiny.html").stat().st_size > 1000
        assert (work / "autograded" / s / A / NB).exists()
        assert (work / "results" / f"{s}.json").exists()
    lines = graded_lines(work)
    assert sorted(ln.split()[2].rstrip(":") for ln in lines) == graded  # one line per student
    assert {ln.split(" by ")[1].split()[0] for ln in lines} <= set(pids)  # naming a worker of the cluster
    assert {r.worker for r in results if r.status == "graded"} <= set(pids)
    # Run again: every student resumes from results/ and nothing is sent to the cluster.
    again = cluster.grade(submissions, work, A, course_root=tiny_course, scheduler=address, settings={"db_url": db})
    assert all(r.reused for r in again if r.status == "graded")
    assert len(graded_lines(work)) == len(graded)


def dask_worker_grading(student: str, workers: set[int]) -> int | None:
    """The pid of the Dask worker whose sandbox kernel runs the student's notebook, or None.

    The kernel's environment names the student's scratch folder; its ancestors lead to the worker
    (through the grading process, and the fork server it came from or a `python -m` of it)."""
    for p in psutil.process_iter(["cmdline"]):
        if "course_lib.grading.sandbox" not in " ".join(p.info["cmdline"] or []):
            continue
        try:
            if f"/scratch/{student}" not in p.environ().get("TMPDIR", ""):
                continue
            return next((a.pid for a in p.parents() if a.pid in workers), None)
        except psutil.Error:
            continue
    return None


def test_a_worker_killed_mid_task_loses_and_doubles_nothing(tiny_course, submissions, dask_cluster,
                                                           postgres_server, tmp_path):
    """SIGKILL the worker process while it grades c_slow: Dask runs the task again on another worker."""
    address, pids = dask_cluster
    db = postgres_server.database("cluster_kill")
    work = tmp_path / "work"
    out = {}
    run = threading.Thread(target=lambda: out.update(results=cluster.grade(
        submissions, work, A, course_root=tiny_course, scheduler=address, settings={"db_url": db})))
    run.start()
    victim, deadline = None, time.time() + 120
    while victim is None and time.time() < deadline and run.is_alive():
        victim = dask_worker_grading("c_slow", set(pids.values()))
        time.sleep(0.2)
    assert victim is not None, "c_slow was never seen being graded"
    time.sleep(1.0)  # its kernel is running the notebook now
    os.kill(victim, signal.SIGKILL)
    killed = next(a for a, pid in pids.items() if pid == victim)
    run.join(300)
    assert not run.is_alive()
    results = out["results"]
    assert {r.student: (r.status, r.score) for r in results} == EXPECTED
    slow = next(r for r in results if r.student == "c_slow")
    assert slow.worker != killed  # graded again by another worker
    lines = graded_lines(work)
    assert sorted(ln.split()[2].rstrip(":") for ln in lines) == ["a_right", "b_wrong", "c_slow", "d_right"]
    assert [r["student_id"] for r in csv_rows(work)] == sorted(EXPECTED)
    from nbgrader.api import Gradebook

    with Gradebook(db) as gb:  # one submission per student, with its score
        assert sorted((s.student.id, s.score) for s in gb.find_assignment(A).submissions) == [
            ("a_right", 3.0), ("b_wrong", 0.0), ("c_slow", 3.0), ("d_right", 3.0)]


def test_a_rerun_after_the_instructors_process_is_killed_resumes(tiny_course, submissions, dask_cluster,
                                                                 postgres_server, tmp_path):
    """SIGKILL `course grade --scheduler` once a student is stored; the same command again grades
    only the others, and the gradebook ends with one submission per student."""
    address, _ = dask_cluster
    db = postgres_server.database("cluster_resume")
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "course_lib.grading", "--submissions", str(submissions), "--assignment", A,
           "--course-root", str(tiny_course), "--workdir", str(work), "--scheduler", address,
           "--db-url", db, "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((work / "results").glob("*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = {p.stem for p in (work / "results").glob("*.json")}
    assert done and "c_slow" not in done, "the run was not killed mid-batch"
    results = cluster.grade(submissions, work, A, course_root=tiny_course, scheduler=address,
                            settings={"db_url": db})
    assert {r.student: (r.status, r.score) for r in results} == EXPECTED
    assert {r.student for r in results if r.reused} >= done
    from nbgrader.api import Gradebook

    with Gradebook(db) as gb:
        assert sorted((s.student.id, s.score) for s in gb.find_assignment(A).submissions) == [
            ("a_right", 3.0), ("b_wrong", 0.0), ("c_slow", 3.0), ("d_right", 3.0)]


def test_unreachable_scheduler_is_a_clear_error_before_grading(tiny_course, submissions, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 3)
    work = tmp_path / "work"
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(SystemExit) as err:
        course_grade(["--submissions", str(submissions), "--assignment", A, "--course-root", str(tiny_course),
                      "--workdir", str(work), "--scheduler", address, "--no-progress"])
    message = str(err.value)
    assert f"cannot reach the Dask scheduler at {address}" in message and "Nothing was graded" in message
    assert not (work / "results").exists() and not (work / "grades.csv").exists()
    with pytest.raises(SystemExit, match="expected tcp://HOST:PORT"):
        cluster.connect("localhost:8786")


def test_import_of_a_record_twice_writes_it_once(local_run, tmp_path):
    """A record written twice leaves the gradebook as written once (whatever retries happen)."""
    import shutil

    local_work, _ = local_run
    db_file = tmp_path / "copy.db"
    shutil.copy(local_work / "gradebook.db", db_file)
    url = f"sqlite:///{db_file}"
    record = export_grades(url, A, "a_right")
    record["notebooks"]["tiny"]["grades"]["test_hidden"]["manual_score"] = 1.5
    import_grades(url, A, "a_right", record)
    import_grades(url, A, "a_right", record)
    assert export_grades(url, A, "a_right") == record
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        assert gb.find_submission(A, "a_right").score == 2.5  # 1 visible + 1.5 by hand, not 4
        assert len(gb.find_assignment(A).submissions) == 4


def test_a_daemon_worker_grades_through_a_fresh_process(local_run, submissions, monkeypatch):
    """The task as a nanny's (daemonic) worker runs it: `python -m course_lib.grading.worker`."""
    import types

    from course_lib.grading import batch, remote

    local_work, _ = local_run
    settings = {**batch.DEFAULTS, "course_root": "/nonexistent", "submissions": "/nonexistent"}
    bundle = cluster.course_bundle(local_work, A, settings)
    daemon = types.SimpleNamespace(current_process=lambda: types.SimpleNamespace(daemon=True))
    monkeypatch.setattr(remote, "multiprocessing", daemon)
    monkeypatch.setattr(batch, "run_worker", lambda *args: pytest.fail("a daemon process cannot fork workers"))
    out = remote.grade_task(bundle, A, "b_wrong", pack(submissions / "b_wrong" / A, [NB]), 120)
    assert (out["result"]["status"], out["result"]["score"], out["worker"]) == ("graded", 0.0, "local")
    assert out["grades"]["notebooks"]["tiny"]["grades"]["test_visible"]["auto_score"] == 0.0
    names = unpack(out["files"], local_work / "daemon_files")
    assert f"feedback/b_wrong/{A}/tiny.html" in names and "logs/b_wrong.log" in names


def test_archives_carry_plain_files_only(tmp_path):
    (tmp_path / "src" / "logs").mkdir(parents=True)
    (tmp_path / "src" / "logs" / "a.log").write_text("x")
    (tmp_path / "src" / "logs" / "link").symlink_to("/etc/passwd")
    names = unpack(pack(tmp_path / "src", ["logs", "missing"]), tmp_path / "dst")
    assert names == ["logs/a.log"] and not (tmp_path / "dst" / "logs" / "link").exists()
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.TarError):
        unpack(evil.getvalue(), tmp_path / "dst2")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_task_that_fails_costs_that_student_only_a_grade_with_a_reason(tmp_path):
    """A task error (or Dask giving up after workers died) is that student's error result, not a crash."""
    from distributed import KilledWorker

    class Failed:
        def __init__(self, err):
            self.err = err

        def result(self):
            raise self.err

    (tmp_path / "submitted" / "s1" / A).mkdir(parents=True)
    (tmp_path / "submitted" / "s1" / A / NB).write_text("{}")
    log = io.StringIO()
    r = cluster.store(tmp_path, A, "s1", Failed(RuntimeError("no space left")), {}, log)
    assert (r.student, r.status, r.score) == ("s1", "error", 0.0)
    assert r.notes == ["grading on the cluster failed: RuntimeError: no space left"]
    assert "no space left" in (tmp_path / "feedback" / "s1" / A / "tiny.html").read_text()
    r = cluster.store(tmp_path, A, "s1", Failed(KilledWorker("grade-x", None, 3)), {}, log)
    assert r.status == "error" and r.notes[0].startswith("more than 3 workers died while grading")
    assert not (tmp_path / "results" / "s1.json").exists()  # a rerun grades s1 again
    assert log.getvalue().count("s1: error:") == 2
