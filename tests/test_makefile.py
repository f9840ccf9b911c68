"""`make book` / `make test` explain what is missing instead of failing obscurely."""
import os
import shutil
import subprocess

import pytest


@pytest.fixture
def course_copy(root, tmp_path):
    for name in ["Makefile", "requirements.txt", "pyproject.toml", "package.json", "package-lock.json"]:
        shutil.copy(root / name, tmp_path / name)
    return tmp_path


def make(cwd, *args, path=None):
    env = dict(os.environ, PATH=path or os.environ["PATH"])
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_missing_python_is_named_with_a_fix(course_copy):
    proc = make(course_copy, "venv", "PYTHON=/nonexistent/python3.11")
    assert proc.returncode != 0
    assert "Python 3.11" in proc.stdout and "make PYTHON=" in proc.stdout
    assert not (course_copy / ".venv").exists()


def test_wrong_python_version_is_refused(course_copy, tmp_path_factory):
    fake = tmp_path_factory.mktemp("bin") / "python3.11"
    fake.write_text("#!/bin/sh\nexec python3 -c 'import sys; sys.exit(1)' \"$@\"\n")  # not 3.11
    fake.chmod(0o755)
    proc = make(course_copy, "venv", f"PYTHON={fake}")
    assert proc.returncode != 0 and "expected 3.11" in proc.stdout


def test_missing_npm_is_named_with_a_fix(course_copy, tmp_path_factory):
    bin_dir = tmp_path_factory.mktemp("nonpm")
    for tool in ["make", "sh", "bash"]:
        os.symlink(shutil.which(tool), bin_dir / tool)
    proc = make(course_copy, "check-npm", path=str(bin_dir))
    assert proc.returncode != 0
    assert "npm not found" in proc.stdout and "Node.js" in proc.stdout
