"""What travels between the instructor's machine and a grading worker that shares no filesystem.

Folders go as in-memory tar archives (``pack``/``unpack``: regular files and folders only, no
links, no path leaving the target). A student's grades go as a plain record of the worker's
gradebook (``export_grades``), which the instructor's machine writes into its own gradebook
(``import_grades``): the same rows nbgrader's autograde would have written there, so a gradebook
filled from a cluster is the gradebook of a local run.
"""
import io
import tarfile
from pathlib import Path, PurePosixPath


def pack(root: Path, paths: list[str]) -> bytes:
    """The files and folders ``paths`` (relative to root; missing ones skipped) as tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for rel in paths:
            if (root / rel).exists():
                tar.add(root / rel, arcname=rel, filter=_plain)
    return buf.getvalue()


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Keep regular files and folders; owners and modes are not carried."""
    if not (info.isfile() or info.isdir()):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def unpack(data: bytes, dest: Path) -> list[str]:
    """Extract tar bytes under dest (tarfile's "data" filter: no links out, no absolute paths)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
        tar.extractall(dest, filter="data")
    return names


def safe_relative(rel: str, prefixes: tuple[str, ...]) -> bool:
    """Whether rel is a plain relative path under one of prefixes (no '..', not absolute)."""
    p = PurePosixPath(rel)
    return (not p.is_absolute() and ".." not in p.parts and
            any(p.parts[:len(PurePosixPath(q).parts)] == PurePosixPath(q).parts for q in prefixes))


GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment", "manual_comment")


def export_grades(db_url: str, assignment: str, student: str) -> dict | None:
    """The student's submission in a gradebook as data: timestamp, and per notebook its flag and
    every grade's and comment's fields by cell name. None when there is no submission."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return {"timestamp": sub.timestamp.isoformat() if sub.timestamp else None,
                "notebooks": {nb.name: {
                    "flagged": bool(nb.flagged),
                    "grades": {g.name: {f: getattr(g, f) for f in GRADE_FIELDS} for g in nb.grades},
                    "comments": {c.name: {f: getattr(c, f) for f in COMMENT_FIELDS} for c in nb.comments},
                } for nb in sub.notebooks}}


def import_grades(db_url: str, assignment: str, student: str, record: dict) -> None:
    """Write an ``export_grades`` record into a gradebook, replacing what it held for the student.

    Setting every field (never adding to one) makes a second import of the same record a no-op:
    whatever happens on the way, a student's grade is written, not counted twice."""
    from nbgrader import utils
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        with gb.db.no_autoflush:  # nbgrader builds the submission's rows before adding them
            sub = gb.update_or_create_submission(assignment, student)
        sub.timestamp = utils.parse_utc(record["timestamp"]) if record["timestamp"] else None
        for nb in sub.notebooks:
            data = record["notebooks"].get(nb.name)
            if data is None:
                raise ValueError(f"the graded record of {student} has no notebook {nb.name}")
            nb.flagged = data["flagged"]
            for g in nb.grades:
                for f in GRADE_FIELDS:
                    setattr(g, f, data["grades"][g.name][f])
            for c in nb.comments:
                for f in COMMENT_FIELDS:
                    setattr(c, f, data["comments"][c.name][f])
        gb.db.commit()
