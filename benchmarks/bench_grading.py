"""Grading throughput: seconds per submission with 1 and 2 workers (make bench).

Grades N copies of the reference solution of the largest assignment (most grade cells), once
with each worker count, in fresh work directories, and prints wall time, seconds per
submission and the speed-up. Not part of `make test`: timings belong in benchmarks.
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from course_lib import grading
from course_lib.grading.batch import COURSE_ROOT


def largest_assignment(root: Path) -> str:
    def grade_cells(folder: Path) -> int:
        return sum(1 for nb in folder.glob("*.ipynb") for c in nbformat.read(nb, as_version=4).cells
                   if c.metadata.get("nbgrader", {}).get("grade"))
    return max((p for p in (root / "solutions").iterdir() if list(p.glob("*.ipynb"))), key=grade_cells).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=6, help="submissions per run")
    parser.add_argument("--assignment", default=None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    assignment = args.assignment or largest_assignment(COURSE_ROOT)
    scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        demo = scratch / "demo"
        grading.make_demo_submissions(COURSE_ROOT, demo, assignment)
        subs = scratch / "subs"
        for i in range(args.n):
            shutil.copytree(demo / "solved", subs / f"student{i:02d}")
        rows = []
        for workers in args.workers:
            start = time.perf_counter()
            results = grading.grade(subs, scratch / f"work{workers}", assignment, workers=workers)
            wall = time.perf_counter() - start
            assert all(r.status == "graded" and r.score == r.max_score for r in results), results
            rows.append((workers, wall))
        print(f"assignment {assignment}: {args.n} solved submissions")
        print(f"{'workers':>7}  {'wall s':>7}  {'s/submission':>12}  {'speed-up':>8}")
        for workers, wall in rows:
            print(f"{workers:>7}  {wall:7.1f}  {wall / args.n:12.1f}  {rows[0][1] / wall:8.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
