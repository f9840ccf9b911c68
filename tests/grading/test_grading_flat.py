"""A flat LMS download (Blackboard-style names, nbgrader's zip_collect convention) grades like nbgrader's layout."""
import nbformat
import pytest

from course_lib import grading
from course_lib.grading.submissions import collect
from tiny_course import A, CORRECT, NB, WRONG

pytestmark = pytest.mark.slow


def download(tiny_course, folder):
    release = nbformat.read(tiny_course / "assignments" / A / NB, as_version=4)
    folder.mkdir()
    files = {  # ada handed in twice: the later attempt (correct) counts
        "Tiny_ada_attempt_2026-11-01-10-00-00_tiny.ipynb": WRONG,
        "Tiny_ada_attempt_2026-11-02-09-30-00_tiny.ipynb": CORRECT,
        "Tiny_bob_attempt_2026-11-01-12-00-00_tiny.ipynb": WRONG,
    }
    for name, code in files.items():
        nbformat.write(grading.fill_answers(release, {"add_one": code}), folder / name)
    (folder / "readme from the LMS.txt").write_text("not a submission")
    return folder


def test_latest_attempt_per_student_and_unmatched_files_named(tiny_course, tmp_path):
    subs = collect(download(tiny_course, tmp_path / "dl"), A, [NB])
    by_student = {s.student: s for s in subs}
    assert by_student["ada"].files[NB].name.startswith("Tiny_ada_attempt_2026-11-02")
    assert by_student["bob"].problems == []
    assert any("readme from the LMS.txt" in p for p in by_student["(unmatched files)"].problems)


def test_flat_download_is_graded(tiny_course, tmp_path):
    results = grading.grade(download(tiny_course, tmp_path / "dl"), tmp_path / "work", A,
                            course_root=tiny_course, workers=2)
    by_student = {r.student: r for r in results}
    assert (by_student["ada"].score, by_student["bob"].score) == (3.0, 0.0)
    assert by_student["(unmatched files)"].status == "skipped"
