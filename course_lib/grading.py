"""Autograde a folder of submissions with nbgrader; write feedback, a CSV of grades and a table.

    python -m course_lib.grading --submissions DIR [--assignment rnn] [--workdir _grading]
    python -m course_lib.grading --demo

DIR is in nbgrader's layout, DIR/<student>/<assignment>/<notebook>.ipynb. Submissions are read,
never written: valid notebooks are copied into a scratch nbgrader course in the work directory,
which holds the gradebook, autograded/, feedback/ and grades.csv. A notebook that cannot be read
is reported by student and file and skipped; the others are still graded. The exit status is 1
when anything needs the instructor's attention.

``--demo`` grades three submissions built at run time from the release and the solutions:
one fully solved, one untouched and one with only the first answer filled in.
"""
import argparse
import json
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

COURSE_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    student: str
    score: float | None = None
    max_score: float | None = None
    status: str = "graded"
    seconds: float = 0.0


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook; ValueError says what is wrong with it in words."""
    try:
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
        raise ValueError(f"is not a version-4 Jupyter notebook (nbformat = {found!r})")
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


def reference_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the reference code of each solution cell, solution markers removed."""
    from nbgrader.preprocessors import ClearSolutions

    delimiters = (ClearSolutions.begin_solution_delimeter.default_value,
                  ClearSolutions.end_solution_delimeter.default_value)
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


def prepare_course(course_root: Path, workdir: Path, assignment: str) -> None:
    """A scratch nbgrader course in workdir: config and sources copied, nothing else shared."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    shutil.copy(course_root / "nbgrader_config.py", workdir / "nbgrader_config.py")
    shutil.copytree(course_root / "solutions" / assignment, workdir / "solutions" / assignment)


def collect(submissions: Path, workdir: Path, assignment: str,
            expected: list[str]) -> tuple[list[str], list[Result]]:
    """Copy each student's valid notebooks into workdir/submitted; report the rest."""
    ok, problems = [], []
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for student_dir in students:
        reasons = []
        for name in expected:
            path = student_dir / assignment / name
            if not path.is_file():
                reasons.append(f"{name}: missing (expected {path})")
                continue
            try:
                read_notebook(path)
            except ValueError as err:
                reasons.append(f"{name}: {err}")
        if reasons:
            problems.append(Result(student_dir.name, status="skipped: " + "; ".join(reasons)))
            continue
        target = workdir / "submitted" / student_dir.name / assignment
        target.mkdir(parents=True)
        for name in expected:
            shutil.copy(student_dir / assignment / name, target / name)
        ok.append(student_dir.name)
    return ok, problems


def make_api(workdir: Path):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(workdir)).load_config()
    config.NbGraderAPI.log_level = "WARN"
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def grade(submissions: Path, workdir: Path, assignment: str, course_root: Path = COURSE_ROOT) -> list[Result]:
    """Autograde every student in ``submissions``; returns one Result per student folder."""
    expected = [p.name for p in source_notebooks(course_root, assignment)]
    prepare_course(course_root, workdir, assignment)
    students, results = collect(submissions, workdir, assignment, expected)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy autoflush notes from nbgrader
    api = make_api(workdir)
    made = api.generate_assignment(assignment, force=True, create=True)
    if not made["success"]:
        raise SystemExit(f"error: nbgrader could not generate '{assignment}':\n{made['error']}")
    for student in students:
        start = time.perf_counter()
        result = Result(student)
        graded = api.autograde(assignment, student, force=True, create=True)
        if graded["success"]:
            api.generate_feedback(assignment, student, force=True)
            sub = api.get_submission(assignment, student)
            result.score, result.max_score = sub["score"], sub["max_score"]
        else:
            result.status = "error: " + (graded["error"] or "autograde failed").strip().splitlines()[-1]
        result.seconds = time.perf_counter() - start
        results.append(result)
    export_csv(api, workdir / "grades.csv")
    return sorted(results, key=lambda r: r.student)


def export_csv(api, path: Path) -> None:
    from nbgrader.plugins import CsvExportPlugin

    with api.gradebook as gb:
        CsvExportPlugin(to=str(path)).export(gb)


def table(results: list[Result]) -> str:
    rows = [("student", "score", "max", "status", "seconds")]
    for r in results:
        score = "-" if r.score is None else f"{r.score:g}"
        top = "-" if r.max_score is None else f"{r.max_score:g}"
        rows.append((r.student, score, top, r.status, f"{r.seconds:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4]
                     for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--submissions", type=Path, help="folder of <student>/<assignment>/*.ipynb")
    source.add_argument("--demo", action="store_true", help="grade three generated demo submissions")
    parser.add_argument("--assignment", default="rnn")
    parser.add_argument("--workdir", type=Path, default=COURSE_ROOT / "_grading")
    args = parser.parse_args(argv)

    submissions = args.submissions
    if args.demo:
        submissions = args.workdir.with_name(args.workdir.name + "_demo_submissions")
        shutil.rmtree(submissions, ignore_errors=True)
        make_demo_submissions(COURSE_ROOT, submissions, args.assignment)
    elif not submissions.is_dir():
        parser.error(f"--submissions {submissions} is not a folder; expected "
                     f"<folder>/<student>/{args.assignment}/<notebook>.ipynb")
    results = grade(submissions.resolve(), args.workdir.resolve(), args.assignment)
    print(table(results))
    print(f"\ngrades: {args.workdir / 'grades.csv'}\nfeedback: {args.workdir / 'feedback'}/<student>/")
    attention = [r for r in results if r.status != "graded"]
    for r in attention:
        print(f"needs attention: {r.student}: {r.status}", file=sys.stderr)
    return 1 if attention else 0


if __name__ == "__main__":
    sys.exit(main())
