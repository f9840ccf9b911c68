"""Fixtures of the tests of course_lib.grading (``root`` and the venv's PATH come from tests/conftest.py)."""
import pytest

from tiny_course import make_tiny_course


@pytest.fixture(scope="session")
def tiny_course(root, tmp_path_factory, venv_on_path):
    """A scratch course with one tiny assignment released by nbgrader (see tiny_course.py)."""
    return make_tiny_course(root, tmp_path_factory.mktemp("tinycourse"))
