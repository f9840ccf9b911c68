"""The scratch course's gradebook, made without nbgrader's `alembic heads` subprocess."""
import sqlite3

from nbgrader.api import Gradebook, get_alembic_version

from course_lib.grading.workdir import create_gradebook


def tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def revision(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchall()


def test_new_gradebook_is_the_one_nbgrader_makes(tmp_path):
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    create_gradebook(f"sqlite:///{ours}")
    Gradebook(f"sqlite:///{theirs}").close()  # nbgrader's own: runs `alembic heads` in a subprocess
    assert tables(ours) == tables(theirs)
    assert revision(ours) == revision(theirs) == [(get_alembic_version(),)]
    with Gradebook(f"sqlite:///{ours}", course_id="c") as gb:  # nbgrader takes it as it is
        gb.add_student("s1")
    assert revision(ours) == revision(theirs)


def test_existing_gradebook_is_left_alone(tmp_path):
    path = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{path}", course_id="c") as gb:
        gb.add_student("s1")
    before = path.read_bytes()
    create_gradebook(f"sqlite:///{path}")
    assert path.read_bytes() == before
