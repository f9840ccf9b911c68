"""The scratch nbgrader course a grading run works in: nbgrader's API on it, where its checks
live, and the files a run writes there (written atomically; fingerprinted to resume).

Shared by ``batch`` (the whole run) and ``worker`` (one student), which import it and never each
other's module-level names: the import graph of course_lib.grading has no cycle
(tests/grading/test_imports.py checks it).
"""
import hashlib
import json
import os
from pathlib import Path


def make_api(workdir: Path, cell_timeout: int | None = None, db_url: str | None = None,
             assignment: str | None = None, notes_file: Path | None = None):
    """nbgrader's API on the course in workdir, configured by its nbgrader_config.py.

    With ``assignment``, autograding scores every test cell from the grader's verdicts on the
    checks in ``solutions/<assignment>_checks.py`` (see judged.py), not from the cell's outcome."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern
    from traitlets.config.loader import PyFileConfigLoader

    from course_lib.grading.feedback import FeedbackHTML
    from course_lib.grading.judged import BoundOutputs, JudgedExecute, SaveVerdicts

    config = PyFileConfigLoader("nbgrader_config.py", path=str(workdir)).load_config()
    config.NbGraderAPI.log_level = "WARN"
    config.Exchange.root = str(workdir / "exchange")
    if cell_timeout:
        config.Execute.timeout = cell_timeout
    config.Execute.shutdown_kernel = "immediate"  # a graceful shutdown waits seconds for nothing
    config.GenerateFeedback.exporter_class = FeedbackHTML  # HTMLExporter less seconds of re-parsing
    if db_url:
        config.CourseDirectory.db_url = db_url
    if assignment:
        config.Autograde.autograde_preprocessors = [
            JudgedExecute, IgnorePattern, ClearMetadataPreprocessor, BoundOutputs, SaveVerdicts,
            AssignLatePenalties, CheckCellMetadata]
        config.JudgedExecute.checks_file = str(checks_path(workdir, assignment))
        config.JudgedExecute.notes_file = config.BoundOutputs.notes_file = str(notes_file or "")
    (workdir / "exchange").mkdir(exist_ok=True)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def create_gradebook(db_url: str) -> None:
    """An empty gradebook as nbgrader's ``Gradebook()`` makes it, if the database has no tables yet.

    nbgrader asks a new database's alembic revision of an ``alembic heads`` subprocess (a Python
    start and nbgrader's imports: seconds per grading run); the same head is read here in-process
    from nbgrader's migration scripts (tests/grading/test_workdir.py compares the two)."""
    import nbgrader
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        head = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()
        Base.metadata.create_all(bind=engine)
        with engine.begin() as db:
            db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


def checks_path(course: Path, assignment: str) -> Path:
    """The assignment's declarative checks: beside its source folder, so nbgrader never releases it."""
    return course / "solutions" / f"{assignment}_checks.py"


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.ipynb")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def failed_result(workdir: Path, assignment: str, student: str, why: str, seconds: float) -> dict:
    """The result of a student whose grading process ended without one: score 0, the reason in
    words, and a banner saying so on each feedback page."""
    from course_lib.grading import feedback

    res = {"student": student, "assignment": assignment, "score": 0.0, "status": "error",
           "seconds": round(seconds, 2), "notes": [why]}
    for nb in (workdir / "submitted" / student / assignment).glob("*.ipynb"):
        page = workdir / "feedback" / student / assignment / nb.with_suffix(".html").name
        feedback.add_banner(page, "Your notebook could not be graded", res["notes"])
    return res


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
