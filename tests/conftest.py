import os
import sys
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


@pytest.fixture(scope="session")
def tiny_course(root, tmp_path_factory, venv_on_path):
    from tiny_course import make_tiny_course

    return make_tiny_course(root, tmp_path_factory.mktemp("tinycourse"))
