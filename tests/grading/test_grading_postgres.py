"""The gradebook on a real PostgreSQL server, started by the tests (conftest's ``postgres_server``)."""
import nbformat
import pytest

from course_lib import grading
from tiny_course import A, CORRECT, NB, WRONG

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres(postgres_server):
    return postgres_server.database("gradebook")


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
