"""``course grade --scheduler tcp://HOST:PORT``: one Dask task per student, results back as data.

The instructor's machine connects to the scheduler first (unreachable, or no worker within
``worker_wait`` seconds: an error before anything is graded), prepares the scratch course as the
local run does, and packs what a worker needs into one archive: the assignment's release and
checks, and a gradebook that holds only the assignment (not the source notebooks) (``course_bundle``); the archive goes
to the workers once (``Client.scatter``). Each student's task (``remote.grade_task``) carries the
student's notebooks and returns the result, the feedback, the autograded notebooks, the logs and
the grades as data. Only this machine writes the run's files and the gradebook (``store``): files
first, then the grades, then results/<student>.json last, as the local pool does, so a rerun
resumes. A worker that dies mid-task has its task run again elsewhere by Dask; the task leaves
nothing behind on a worker, and each student's outcome is stored once, when its future completes.
"""
import shutil
import sys
import time
from pathlib import Path

from course_lib.grading import batch
from course_lib.grading.remote import grade_task
from course_lib.grading.submissions import Submission
from course_lib.grading.transfer import import_grades, pack, safe_relative, unpack
from course_lib.grading.workdir import digest, failed_result, write_json

CONNECT_TIMEOUT = 20


def connect(address: str, worker_wait: float = 120, timeout: float | None = None):
    """A Client of the scheduler at address, with at least one worker; SystemExit saying what to do."""
    from distributed import Client

    if "://" not in address:
        raise SystemExit(f"error: --scheduler {address!r} is not a scheduler address; expected "
                         f"tcp://HOST:PORT (what `dask scheduler` prints as 'Scheduler at:')")
    try:
        client = Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise SystemExit(f"error: cannot reach the Dask scheduler at {address} ({err}). Nothing was graded. "
                         f"Check the address and port, that the scheduler runs (`dask scheduler --port "
                         f"8786`) and that this machine may connect to it; or grade without --scheduler on "
                         f"this machine's cores.") from None
    try:
        client.wait_for_workers(1, timeout=worker_wait)
    except TimeoutError:
        client.close()
        raise SystemExit(f"error: the Dask scheduler at {address} has no worker after {worker_wait:.0f} s. "
                         f"Nothing was graded. Start workers with `dask worker {address} --nthreads 1` "
                         f"(book: Grading on a cluster), or wait longer with --worker-wait.") from None
    return client


def grade(submissions: Path, workdir: Path, assignment: str, course_root: Path = batch.COURSE_ROOT, *,
          scheduler: str, worker_wait: float = 120, force: bool = False, progress: bool = False,
          settings: dict | None = None, named_regexp: str | None = None) -> list[batch.Result]:
    """``batch.grade`` with the students graded on the Dask cluster whose scheduler is at ``scheduler``."""
    client = connect(scheduler, worker_wait)
    try:
        workers = max(1, sum(client.nthreads().values()))
        return batch.grade(submissions, workdir, assignment, course_root, workers=workers, force=force,
                           progress=progress, settings=settings, named_regexp=named_regexp,
                           runner=lambda *args: run_all(client, *args))
    finally:
        client.close()


def course_bundle(workdir: Path, assignment: str, settings: dict) -> bytes:
    """The course a worker grades in: the scratch course prepared again with a SQLite gradebook of
    its own that knows only the assignment (never the instructor's gradebook or its URL)."""
    template = workdir / "cluster" / "course"
    shutil.rmtree(template, ignore_errors=True)
    batch.prepare_course(workdir, template, assignment,
                         {**settings, "db_url": f"sqlite:///{template / 'gradebook.db'}"})
    # Not the source notebooks (the reference answers): grading needs the release, the gradebook's
    # record of the assignment and the checks (hidden inputs and references travel with those).
    return pack(template, ["nbgrader_config.py", f"solutions/{assignment}_checks.py", "assignments", "gradebook.db",
                           "settings.json"])


def run_all(client, workdir: Path, assignment: str, todo: list[Submission], workers: int, settings: dict,
            progress: bool) -> list[batch.Result]:
    """Grade ``todo`` on the cluster; store each outcome as it arrives."""
    from distributed import as_completed
    from tqdm import tqdm

    if not todo:
        return []
    timeout = batch.time_limit(workdir, assignment, settings)
    course = client.scatter(course_bundle(workdir, assignment, settings), broadcast=True, hash=True)
    slots = {}  # host -> threads of all its workers: the tasks that may run there at once
    for info in client.scheduler_info(n_workers=-1)["workers"].values():
        slots[info["host"]] = slots.get(info["host"], 0) + info["nthreads"]
    futures = {}
    for sub in todo:
        folder = workdir / "submitted" / sub.student / assignment
        notebooks = pack(folder, sorted(p.name for p in folder.glob("*.ipynb")))
        key = f"grade-{assignment}-{sub.student}-{digest(folder)[:16]}"
        futures[client.submit(grade_task, course, assignment, sub.student, notebooks, timeout, slots, key=key,
                              retries=0)] = sub.student
    out = []
    log = open(workdir / "logs" / "cluster.log", "a", buffering=1)
    log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} run: {len(todo)} students of {assignment} on "
              f"{getattr(client.scheduler, 'address', '?')} ({len(client.nthreads())} workers)\n")
    try:
        with client.as_current(), tqdm(total=len(todo), desc=f"grading {assignment} on the cluster",
                                       unit="student", disable=not progress, file=sys.stderr) as bar:
            for future in as_completed(futures):
                out.append(store(workdir, assignment, futures[future], future, settings, log))
                future.release()
                bar.update()
    finally:
        log.close()
    return out


def store(workdir: Path, assignment: str, student: str, future, settings: dict, log) -> batch.Result:
    """Write one student's outcome: files, gradebook, then results/<student>.json; log who graded it."""
    from distributed import KilledWorker

    stamp, begun = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    try:
        payload = future.result()
    except KilledWorker as err:
        last = getattr(err.last_worker, "address", "unknown")
        why = (f"more than {err.allowed_failures} workers died while grading this notebook (the last: {last}); "
               f"Dask stopped retrying it (distributed.scheduler.allowed-failures)")
        log.write(f"{stamp} {student}: error: {why}\n")
        return batch.result_from(failed_result(workdir, assignment, student, why, 0.0))
    except Exception as err:  # the task itself failed: this student only
        why = f"grading on the cluster failed: {type(err).__name__}: {err}"
        log.write(f"{stamp} {student}: error: {why}\n")
        return batch.result_from(failed_result(workdir, assignment, student, why, 0.0))
    files = workdir / "cluster" / "incoming" / student
    shutil.rmtree(files, ignore_errors=True)
    names = unpack(payload["files"], files)
    allowed = (f"feedback/{student}/{assignment}", f"autograded/{student}/{assignment}", "logs")
    for name in names:
        if not safe_relative(name, allowed):
            raise RuntimeError(f"the worker {payload['worker']} sent {name!r} for {student}: not a file of theirs")
    for top in (f"feedback/{student}/{assignment}", f"autograded/{student}/{assignment}"):
        shutil.rmtree(workdir / top, ignore_errors=True)
    for name in names:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(files / name, workdir / name)
    shutil.rmtree(files, ignore_errors=True)
    result = dict(payload["result"], worker=payload["worker"], host=payload["host"])
    if payload["grades"] is not None:
        import_grades(settings.get("db_url") or f"sqlite:///{workdir / 'gradebook.db'}?timeout=120",
                      assignment, student, payload["grades"])
        write_json(workdir / "results" / f"{student}.json", result)
    log.write(f"{stamp} {student}: {result['status']} {result.get('score')}/{result.get('max_score')} by "
              f"{payload['worker']} on {payload['host']} (pid {payload['pid']}) in {payload['seconds']:.1f} s; "
              f"stored in {1000 * (time.perf_counter() - begun):.0f} ms\n")
    return batch.result_from(result)

