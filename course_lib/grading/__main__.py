"""course grade: autograde a folder of submissions, or a demo set, and print a table.

    python -m course_lib.grading --submissions DIR [--assignment rnn] [--workers N] [--force]
    python -m course_lib.grading --demo [--assignment rnn]
    python -m course_lib.grading --submissions DIR --scheduler tcp://HOST:8786 [--db-url postgresql://...]
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

from course_lib.grading.batch import COURSE_ROOT, DEFAULTS, exclusive, grade, table
from course_lib.grading.submissions import DEFAULT_FILENAME_REGEXP, make_demo_submissions


def parse(argv):
    p = argparse.ArgumentParser(prog="course grade", description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--submissions", type=Path,
                     help="DIR/<student>/<assignment>/<notebook>.ipynb, or a flat LMS download")
    src.add_argument("--demo", action="store_true", help="grade three demo submissions made from the solutions")
    p.add_argument("--assignment", default="rnn")
    p.add_argument("--course-root", type=Path, default=COURSE_ROOT,
                   help="the course: solutions/, assignments/ and nbgrader_config.py")
    p.add_argument("--workdir", type=Path, default=None, help="default: _grading/<assignment>")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--force", action="store_true", help="grade again students already graded")
    p.add_argument("--db-url", default=None, help="gradebook URL, e.g. postgresql://user@host/db")
    p.add_argument("--scheduler", default=None,
                   help="grade on the Dask cluster of this scheduler, e.g. tcp://HOST:8786 (default: this machine)")
    p.add_argument("--worker-wait", type=float, default=120,
                   help="with --scheduler: seconds to wait for a first worker (default 120)")
    p.add_argument("--filename-regexp", default=DEFAULT_FILENAME_REGEXP,
                   help="for flat downloads: groups student_id, file_id, timestamp")
    for key, value in DEFAULTS.items():
        p.add_argument("--" + key.replace("_", "-"), type=int, default=value)
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = (args.workdir or args.course_root / "_grading" / args.assignment).resolve()
    submissions = args.submissions
    with exclusive(workdir):  # before the demo set is rewritten: a second run must not touch it
        if args.demo:
            submissions = workdir.parent / f"{args.assignment}_demo_submissions"
            shutil.rmtree(submissions, ignore_errors=True)
            make_demo_submissions(args.course_root, submissions, args.assignment)
        settings = {k: getattr(args, k) for k in DEFAULTS} | {"db_url": args.db_url}
        common = dict(force=args.force, progress=not args.no_progress, settings=settings,
                      named_regexp=args.filename_regexp)
        if args.scheduler:
            from course_lib.grading import cluster

            results = cluster.grade(submissions.resolve(), workdir, args.assignment, args.course_root.resolve(),
                                    scheduler=args.scheduler, worker_wait=args.worker_wait, **common)
        else:
            results = grade(submissions.resolve(), workdir, args.assignment, args.course_root.resolve(),
                            workers=args.workers, **common)
    print(table(results))
    print(f"\ngrades:   {workdir / 'grades.csv'}\nfeedback: {workdir / 'feedback'}/<student>/{args.assignment}/")
    by_worker = {}
    for r in results:
        if r.worker and not r.reused:
            by_worker[r.worker] = by_worker.get(r.worker, 0) + 1
    if by_worker:
        print("graded on:  " + ", ".join(f"{w} ({n})" for w, n in sorted(by_worker.items())) +
              f"   (who graded whom: {workdir / 'logs' / 'cluster.log'})")
    attention = [r for r in results if r.status != "graded"]
    for r in attention:
        print(f"needs attention: {r.student} ({r.status}): {'; '.join(r.notes)}", file=sys.stderr)
    return 1 if attention else 0


if __name__ == "__main__":
    sys.exit(main())
