"""The gradebook on a real PostgreSQL server, started by the test (Debian's postgresql package).

Skips, saying why, only where no server can be started here; .ci/run installs the package.
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from course_lib import grading
from tiny_course import A, CORRECT, NB, WRONG

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql; .ci/run does)")
    bindir = Path(bins[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="course-pg-"))  # not under pytest's root-only tmp: postgres reads it
    data, sock, port = base / "data", base / "sock", free_port()
    sock.mkdir()
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    def run(*cmd):
        proc = subprocess.run(as_user + list(cmd), capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
        f"-k {sock} -p {port} -c listen_addresses=''", "start")
    try:
        run(str(bindir / "createdb"), "-h", str(sock), "-p", str(port), "-U", "postgres", "gradebook")
        yield f"postgresql+psycopg2://postgres@/gradebook?host={sock}&port={port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_grading_into_postgres(tiny_course, postgres, tmp_path):
    release = nbformat.read(tiny_course / "assignments" / A / NB, as_version=4)
    subs = tmp_path / "subs"
    for student, code in [("right", CORRECT), ("wrong", WRONG)]:
        (subs / student / A).mkdir(parents=True)
        nbformat.write(grading.fill_answers(release, {"add_one": code}), subs / student / A / NB)
    results = grading.grade(subs, tmp_path / "work", A, course_root=tiny_course, workers=2,
                            settings={"db_url": postgres})
    assert {r.student: (r.status, r.score) for r in results} == {"right": ("graded", 3.0),
                                                                  "wrong": ("graded", 0.0)}
    assert not (tmp_path / "work" / "gradebook.db").exists(), "SQLite was used instead"
    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        assert {s.student.id: s.score for s in gb.find_assignment(A).submissions} == {"right": 3.0, "wrong": 0.0}
