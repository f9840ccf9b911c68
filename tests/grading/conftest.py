"""Fixtures of the tests of course_lib.grading (``root`` and the venv's PATH come from tests/conftest.py)."""
import glob
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from servers import PostgresServer, free_port
from tiny_course import make_tiny_course


@pytest.fixture(scope="session")
def tiny_course(root, tmp_path_factory, venv_on_path):
    """A scratch course with one tiny assignment released by nbgrader (see tiny_course.py)."""
    return make_tiny_course(root, tmp_path_factory.mktemp("tinycourse"))


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's postgresql package); skips, saying why, only where none can
    be started here (.ci/run installs the package)."""
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
    server = PostgresServer(bindir, sock, port, as_user)
    server.run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    server.run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
               f"-k {sock} -p {port} -c listen_addresses=''", "start")
    try:
        yield server
    finally:
        server.run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
