"""`course grade` killed with SIGKILL mid-run leaves nothing running and loses no grade; a second
run on the same work directory meanwhile is refused (naming the first), not let in to destroy it."""
import signal
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from course_lib import grading
from tiny_course import A, CORRECT, NB

pytestmark = pytest.mark.slow
STUDENTS = ["s1", "s2", "s3", "s4", "s5", "s6"]
SLOW = "import time\ntime.sleep(2)  # the run must still be busy when it is killed\n"


def command(course, subs, work, *extra):
    return [sys.executable, "-m", "course_lib.grading", "--course-root", str(course), "--submissions",
            str(subs), "--assignment", A, "--workdir", str(work), "--workers", "1", "--no-progress", *extra]


def test_kill_9_then_resume(tiny_course, tmp_path):
    release = nbformat.read(tiny_course / "assignments" / A / NB, as_version=4)
    subs, work = tmp_path / "subs", tmp_path / "work"
    for s in STUDENTS:
        (subs / s / A).mkdir(parents=True)
        nbformat.write(grading.fill_answers(release, {"add_one": SLOW + CORRECT}), subs / s / A / NB)
    first = subprocess.Popen(command(tiny_course, subs, work), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not list((work / "results").glob("s*.json")) and time.time() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.2)
    rival = subprocess.run(command(tiny_course, subs, work), capture_output=True, text=True)
    assert rival.returncode == 1 and "another grading run" in rival.stderr, rival.stdout + rival.stderr
    assert f"pid {first.pid}, started" in rival.stderr, rival.stderr
    assert first.poll() is None, "the refused run stopped the first one"
    family = psutil.Process(first.pid).children(recursive=True)
    first.send_signal(signal.SIGKILL)
    first.wait()
    gone, alive = psutil.wait_procs(family, timeout=20)
    assert not alive, f"processes outlived the killed grader: {[p.cmdline() for p in alive]}"
    # a worker may finish its student in the instant between the kill and its own end
    done_before = sorted(p.stem for p in (work / "results").glob("s*.json"))
    assert 1 <= len(done_before) < len(STUDENTS), done_before

    # the killed run's lock file is still there, but not its lock: the next run goes ahead
    assert (work / ".grading.lock").read_text().startswith(f"pid {first.pid}")
    second = subprocess.run(command(tiny_course, subs, work), capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = {ln.split()[0]: ln for ln in second.stdout.splitlines() if ln.startswith("s")}
    for s in STUDENTS:
        assert " 3 " in lines[s] and "graded" in lines[s], lines[s]
        assert ("(earlier run)" in lines[s]) == (s in done_before), lines[s]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        assert {s: gb.find_submission(A, s).score for s in STUDENTS} == {s: 3.0 for s in STUDENTS}
