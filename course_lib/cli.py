"""The `course` command:  course grade [options]   (see `course grade --help`)."""
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: course grade [--submissions DIR | --demo] [options]\n\n"
              "  grade   autograde submissions with nbgrader: parallel, sandboxed, resumable")
        return 0 if argv else 2
    if argv[0] == "grade":
        from course_lib.grading.__main__ import main as grade

        return grade(argv[1:])
    print(f"course: unknown command {argv[0]!r}; try 'course grade --help'", file=sys.stderr)
    return 2
