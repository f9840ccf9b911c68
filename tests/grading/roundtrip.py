"""Shared pieces of the assignments' nbgrader round trips (tests/grading/test_grading_<assignment>.py).

Each round trip grades the demo submissions (solved, blank, half) plus variants of the solved one
in a scratch copy of the course, through course_lib.grading, and reads the per-cell scores back.
"""
from pathlib import Path

import nbformat

from course_lib import grading


def grade_cells(root: Path, assignment: str) -> dict[str, float]:
    """grade_id -> points of every autograded cell of the assignment's source notebook."""
    nb = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def grade_round_trip(root: Path, tmp_path_factory, assignment: str, variants: dict, workers: int = 2):
    """Grade the demo submissions and, for each name -> edit(grade_id, source) in ``variants``, a
    copy of the solved notebook with its cells edited. Returns (results by student, scores by
    student and grade_id)."""
    from nbgrader.api import Gradebook

    subs, nb_name = tmp_path_factory.mktemp("submitted"), f"{assignment}.ipynb"
    grading.make_demo_submissions(root, subs, assignment)
    for student, edit in variants.items():
        nb = nbformat.read(subs / "solved" / assignment / nb_name, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                cell.source = edit(grade_id, cell.source)
        (subs / student / assignment).mkdir(parents=True)
        nbformat.write(nb, subs / student / assignment / nb_name)
    work = tmp_path_factory.mktemp("work") / "course"
    results = {r.student: r for r in grading.grade(subs, work, assignment, course_root=root, workers=workers)}
    cells = grade_cells(root, assignment)
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        scores = {s: {gid: gb.find_grade(gid, assignment, assignment, s).score for gid in cells}
                  for s in results}
    return results, scores


def check_solved_and_blank(root: Path, assignment: str, results: dict) -> None:
    """The reference answers earn every point; the untouched release earns none; both are graded."""
    solved, blank = results["solved"], results["blank"]
    assert solved.status == "graded" and blank.status == "graded", (solved, blank)
    assert solved.max_score == sum(grade_cells(root, assignment).values())
    assert solved.score == solved.max_score
    assert blank.score == 0
