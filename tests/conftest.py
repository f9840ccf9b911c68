import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session", autouse=True)
def venv_on_path():
    """nbgrader runs `alembic` and jupyter runs kernels from PATH: the venv's bin comes first."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{old}"
    yield
    os.environ["PATH"] = old


BOOK_TESTS = {"test_book.py", "test_browser.py", "test_book_numbers.py", "test_book_pdf.py"}  # wait for the build; run last
_book = {}


def start_book_build(root: Path) -> None:
    """Start `jupyter-book build` in the background; tests/test_book.py waits for it (``book_build``).

    The build executes every page (most of it one CPU thread of training), so on a two-core
    machine it runs beside the rest of the suite instead of before it."""
    if "proc" in _book:
        return
    log = tempfile.TemporaryFile(mode="w+")
    _book["log"] = log
    # Pages execute two at a time into the execution cache (course_lib.book_build), then the build
    # renders them; a page that failed there is executed again by the build, which reports it.
    # (Three at a time beside the suite measured slower on two cores: 21 min 12 s against 18 min 53 s.)
    command = (f"{shlex.quote(str(BIN / 'python'))} -m course_lib.book_build --jobs 2 --root {shlex.quote(str(root))}; "
               f"{shlex.quote(str(BIN / 'jupyter-book'))} build {shlex.quote(str(root))} -n -W --keep-going")
    _book["proc"] = subprocess.Popen(["bash", "-c", command],
                                     cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                                          **BUILD_THREADS})


# The build's pages share two cores with the rest of the suite. One thread per library (torch's
# cap through course_lib.device.set_cpu_threads, and OpenMP/MKL/OpenBLAS pools), and idle OpenMP
# threads that sleep instead of spinning: in one CI run a page of small matrix work took 608 s
# instead of 10 s beside the other tests, with the libraries' default pools.
BUILD_THREADS = {"COURSE_CPU_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
                 "COURSE_PROGRESS": "0"}  # and no progress-bar widgets in the static pages
# The same courtesy in this process and the kernels it starts: idle OpenMP threads sleep.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def book_build(root) -> tuple[int, str]:
    """The background build's (exit status, end of its output), once it has finished; started now
    if collection did not start it (tests/test_book.py checks the vendored assets first)."""
    start_book_build(root)
    proc, log = _book["proc"], _book["log"]
    proc.wait()
    log.seek(0)
    return proc.returncode, log.read()[-12000:]


def pytest_collection_modifyitems(session, config, items):
    """Book tests last (they wait for the build); the build starts now when any is selected."""
    book = [i for i in items if i.path.name in BOOK_TESTS]
    if not book or config.option.collectonly:
        return
    items[:] = [i for i in items if i.path.name not in BOOK_TESTS] + book
    if (ROOT / "_build" / "_vendor" / ".done").exists():
        start_book_build(ROOT)


def pytest_sessionfinish(session, exitstatus):
    proc = _book.get("proc")
    if proc is not None and proc.poll() is None:  # e.g. the run was interrupted
        proc.kill()
        proc.wait()


@pytest.fixture
def one_thread():
    """Small tensors, many steps: one CPU thread is faster than several contending for the cores.

    torch is imported here, not at the top, so that test runs without torch-using tests stay light."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
