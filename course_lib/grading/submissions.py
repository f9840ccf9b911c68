"""Reading, checking and collecting submissions; demo submissions built from the solutions.

Two input layouts:
- nbgrader's: DIR/<student>/<assignment>/<notebook>.ipynb
- an LMS download: DIR/*.ipynb, each file name parsed by nbgrader's FileNameCollectorPlugin
  (``named_regexp`` with the groups student_id, file_id and optionally timestamp; the latest
  timestamp wins when a student handed in several times).
Submissions are only ever read. Each problem becomes a message naming the student and the file.
"""
import json
import re
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
# Blackboard's download names, the example of nbgrader's zip_collect documentation:
# <anything>_<student>_attempt_<timestamp>_<notebook>.ipynb
DEFAULT_FILENAME_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.+)\.ipynb"


@dataclass
class Submission:
    """One student's notebooks for one assignment, or the reasons they cannot be graded."""
    student: str
    files: dict[str, Path] = field(default_factory=dict)  # notebook name -> path in the input
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> nbformat.NotebookNode:
    """Read and validate a notebook; ValueError says what is wrong with it in words."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ValueError(f"is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit "
                             f"for a notebook (clear large outputs and hand it in again)")
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot be read ({err})") from None
    if not raw.strip():
        raise ValueError("is empty")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    if not isinstance(data, dict) or data.get("nbformat") != 4:
        found = data.get("nbformat") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"is not a version-4 Jupyter notebook (nbformat = {found!r}); "
                         f"open it in JupyterLab and save it again")
    try:
        with warnings.catch_warnings():  # missing cell ids are normalised, not an error
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw, as_version=4)
            nbformat.validate(nb)
    except Exception as err:  # nbformat raises several types for a malformed notebook
        raise ValueError(f"is not a valid notebook ({str(err).splitlines()[0]})") from None
    return nb


def source_notebooks(course_root: Path, assignment: str) -> list[Path]:
    paths = sorted((course_root / "solutions" / assignment).glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"error: no source notebooks in {course_root / 'solutions' / assignment}; "
                         f"is '{assignment}' the name of an assignment folder in solutions/?")
    return paths


def _check(sub: Submission, name: str, path: Path) -> None:
    try:
        read_notebook(path)
        sub.files[name] = path
    except ValueError as err:
        sub.problems.append(f"{path.name} {err}")


def from_nbgrader_layout(folder: Path, assignment: str, expected: list[str]) -> list[Submission]:
    """One Submission per student folder of folder/<student>/<assignment>/."""
    subs = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        sub = Submission(student_dir.name)
        adir = student_dir / assignment
        present = sorted(p.name for p in adir.iterdir() if p.is_file()) if adir.is_dir() else []
        for name in expected:
            if name in present:
                _check(sub, name, adir / name)
                continue
            others = [p for p in present if p.endswith(".ipynb") and p not in expected]
            hint = f"; found {', '.join(others)}: rename it to {name}" if others else ""
            sub.problems.append(f"{name} is missing from {adir}{hint}")
        extra = [p for p in present if p not in expected]
        if extra:
            sub.notes.append(f"ignored extra files: {', '.join(extra)}")
        subs.append(sub)
    return subs


def from_flat_download(folder: Path, expected: list[str], named_regexp: str) -> list[Submission]:
    """Submissions from an LMS download: folder/*.ipynb named as named_regexp says."""
    from nbgrader.plugins import FileNameCollectorPlugin

    plugin = FileNameCollectorPlugin(named_regexp=named_regexp)
    latest: dict[tuple[str, str], tuple[str, Path]] = {}
    subs: dict[str, Submission] = {}
    unmatched = []
    for path in sorted(folder.iterdir()):
        info = plugin.collect(str(path)) if path.is_file() else None
        if not info:
            unmatched.append(path.name)
            continue
        student, name = info["student_id"], info["file_id"] + ("" if info["file_id"].endswith(".ipynb") else ".ipynb")
        subs.setdefault(student, Submission(student))
        stamp = info.get("timestamp") or ""
        if (student, name) not in latest or stamp > latest[(student, name)][0]:
            latest[(student, name)] = (stamp, path)
    for sub in subs.values():
        names = {n: p for (s, n), (_, p) in latest.items() if s == sub.student}
        for name in expected:
            if name in names:
                _check(sub, name, names[name])
            else:
                sub.problems.append(f"{name} is missing (handed in: {', '.join(sorted(names)) or 'nothing'})")
    result = sorted(subs.values(), key=lambda s: s.student)
    if unmatched:
        result.append(Submission("(unmatched files)", problems=[
            f"file names not matching {named_regexp!r}: {', '.join(unmatched)}"]))
    return result


def collect(folder: Path, assignment: str, expected: list[str],
            named_regexp: str = DEFAULT_FILENAME_REGEXP) -> list[Submission]:
    """Read either layout (see module docstring); a folder with .ipynb files at the top is flat."""
    if not folder.is_dir():
        raise SystemExit(f"error: {folder} is not a folder; expected <folder>/<student>/{assignment}/"
                         f"<notebook>.ipynb, or a folder of notebooks downloaded from an LMS")
    if any(p.suffix == ".ipynb" for p in folder.iterdir() if p.is_file()):
        return from_flat_download(folder, expected, named_regexp)
    return from_nbgrader_layout(folder, assignment, expected)


def _solution_delimiters() -> tuple[str, str]:
    from nbgrader.preprocessors import ClearSolutions

    return (ClearSolutions.begin_solution_delimeter.default_value,
            ClearSolutions.end_solution_delimeter.default_value)


def reference_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the reference code of each solution code cell, delimiter lines removed."""
    delimiters = _solution_delimiters()
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            lines = [ln for ln in cell.source.splitlines() if not any(d in ln for d in delimiters)]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def fill_answers(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of a released notebook with the given solution cells answered."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def make_demo_submissions(course_root: Path, dest: Path, assignment: str) -> None:
    """dest/<student>/<assignment>/: 'solved', 'blank' and 'half' (first answer only)."""
    for src_path in source_notebooks(course_root, assignment):
        release = read_notebook(course_root / "assignments" / assignment / src_path.name)
        answers = reference_answers(read_notebook(src_path))
        first = dict(list(answers.items())[:1])
        for student, given in [("solved", answers), ("blank", {}), ("half", first)]:
            folder = dest / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill_answers(release, given), folder / src_path.name)


def safe_student_id(student: str) -> bool:
    """nbgrader uses the id as a folder name and a database key: keep it plain."""
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@+\-]{0,99}", student) is not None


def normalize(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The instructor's nbgrader metadata on the student's cells; the student's is not trusted.

    A cell whose grade_id is a cell of the release gets the release's metadata (its first
    occurrence only); duplicates and unknown ids lose their nbgrader metadata and become plain
    cells; an instructor's cell the student deleted is put back after the cell that preceded it
    in the release. nbgrader 0.9.6 itself crashes on such notebooks (a missing grade_id, a grade
    cell it does not know, a deleted test after a markdown cell), which would turn a tampered or
    clumsy notebook into a grading error. nbgrader then restores the locked cells' code as usual.
    """
    known = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
             for c in release.cells if "grade_id" in c.metadata.get("nbgrader", {})}
    seen = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in known and grade_id not in seen:
            cell.metadata["nbgrader"] = json.loads(json.dumps(known[grade_id]))
            seen.add(grade_id)
        else:
            cell.metadata.pop("nbgrader", None)
    position = {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(nb.cells) if "nbgrader" in c.metadata}
    previous = None
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            continue
        if grade_id not in position:
            at = position[previous] + 1 if previous in position else 0
            restored = nbformat.from_dict(json.loads(json.dumps(cell)))
            if "id" in restored:
                restored["id"] = uuid.uuid4().hex[:8]
            nb.cells.insert(at, restored)
            position = {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(nb.cells)
                        if "nbgrader" in c.metadata}
        previous = grade_id
    return nb


def copy_in(sub: Submission, submitted: Path, assignment: str, release_dir: Path) -> None:
    """Write the student's notebooks, metadata normalised, to submitted/<student>/<assignment>/.

    An unchanged notebook is not rewritten, so a resumed run sees the same file.
    """
    target = submitted / sub.student / assignment
    target.mkdir(parents=True, exist_ok=True)
    for name, path in sub.files.items():
        nb = normalize(read_notebook(path), read_notebook(release_dir / name))
        text = nbformat.writes(nb) + "\n"
        dest = target / name
        if not dest.exists() or dest.read_text(encoding="utf-8") != text:
            dest.write_text(text, encoding="utf-8")
