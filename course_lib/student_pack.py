"""What a student gets: the course without the answers, ``python -m course_lib.student_pack``.

The pack (``_build/student-pack/`` and ``_build/student-pack.tar.gz``, run by ``make student-pack``)
is the course's public artefact; the repository, which holds ``solutions/`` and the grader's
checks, stays private. The pack holds

    html/           the built book (``_build/html``), when it has been built
    book/           the book's pages, which JupyterLab opens as notebooks (jupytext)
    assignments/    the released notebooks, as nbgrader generated them
    course_lib/     the library, without the instructor-only parts in ``INSTRUCTOR_ONLY``
    requirements.txt, pyproject.toml   the pinned stack, and course_lib as an installable package
    Makefile, README.md, nbgrader_config.py, jupyter/   from ``student_pack/``: ``make setup``,
                    then ``make lab``

Nothing from ``solutions/`` is copied; a last scan refuses to finish a pack in which a file still
carries nbgrader's solution or hidden-test delimiters or is a grader's checks file.
"""
import argparse
import shutil
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Left out of the pack's course_lib, and why.
INSTRUCTOR_ONLY = {
    "grading": "the grader: its sandbox, tamper scan and judging code help nobody do the work and "
               "tell an attacker what is checked; it also reads solutions/, which the pack lacks",
    "cli.py": "the `course grade` command, which only runs the grader",
    "student_pack.py": "builds this pack from the repository",
}
SKIP = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store"}
# nbgrader's delimiters, put together at run time so that neither this file nor its bytecode
# carries one (the pack's own scan, and the repository's, would flag it).
MARKERS = [" ".join(("###", edge, part)) for part in ("SOLUTION", "HIDDEN TESTS") for edge in ("BEGIN", "END")]
RESULTS = Path("benchmarks/results/latest.json")  # the benchmark results the book's Performance page shows
TEMPLATE = "student_pack"  # Makefile, README.md, nbgrader_config.py, jupyter/ of the pack
ARCHIVE_TOP = "rnn-course"  # the folder a student gets when unpacking the tarball


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIP or n.endswith(".pyc")}


def _pyproject(root: Path) -> str:
    """The repository's package metadata, without the instructor's `course` command and test setup."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    description = project["description"].replace(", and nbgrader grading tools", "")
    deps = ", ".join(f'"{d}"' for d in project["dependencies"])
    return ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{project["name"]}"\nversion = "{project["version"]}"\n'
            f'description = "{description}"\nrequires-python = "{project["requires-python"]}"\n'
            f"# Pinned in requirements.txt.\ndependencies = [{deps}]\n\n"
            '[tool.setuptools.packages.find]\ninclude = ["course_lib*"]\n')


def _copy_course_lib(root: Path, dest: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = _ignore(folder, names)
        if Path(folder).resolve() == (root / "course_lib").resolve():
            left_out |= {n for n in names if n in INSTRUCTOR_ONLY}
        return left_out

    shutil.copytree(root / "course_lib", dest / "course_lib", ignore=ignore)


def check(pack: Path) -> list[str]:
    """What in ``pack`` must not reach a student: grader files and nbgrader's answer delimiters."""
    found = []
    for path in sorted(p for p in pack.rglob("*") if p.is_file()):
        rel = path.relative_to(pack)
        if path.name.endswith("_checks.py") or "solutions" in rel.parts or "grading" in rel.parts:
            found.append(f"{rel}: an instructor-only file")
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{rel}: contains {m!r}" for m in MARKERS if m in text]
    return found


def build(root: Path, dest: Path, html: Path | None) -> Path:
    """Write the pack into ``dest`` (emptied first) from the course at ``root``; returns ``dest``.

    - html: a built book to include as ``html/`` (``_build/html``), or None for a pack without it
    """
    if not (root / "assignments").is_dir() or not (root / TEMPLATE).is_dir():
        raise SystemExit(f"error: {root} is not the course repository (expected assignments/ and "
                         f"{TEMPLATE}/ there); pass --root")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root / TEMPLATE, dest, ignore=_ignore)
    for folder in ["assignments", "book"]:
        shutil.copytree(root / folder, dest / folder, ignore=_ignore)
    _copy_course_lib(root, dest)
    shutil.copy(root / "requirements.txt", dest / "requirements.txt")
    if (root / RESULTS).is_file():  # the Performance page reads it
        (dest / RESULTS).parent.mkdir(parents=True)
        shutil.copy(root / RESULTS, dest / RESULTS)
    (dest / "pyproject.toml").write_text(_pyproject(root))
    if html is not None:
        if not (html / "index.html").is_file():
            raise SystemExit(f"error: {html} holds no index.html; build the book first (make book)")
        shutil.copytree(html, dest / "html", ignore=_ignore)
    problems = check(dest)
    if problems:
        shutil.rmtree(dest)
        raise SystemExit("error: the student pack would give answers away, so it was not written:\n  "
                         + "\n  ".join(problems) + "\nMove these out of assignments/, book/ and course_lib/.")
    return dest


def tarball(pack: Path, archive: Path) -> Path:
    """``archive`` (.tar.gz) of ``pack``, unpacking into one folder ``rnn-course/``."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pack, arcname=ARCHIVE_TOP)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.student_pack", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course repository (default: this one)")
    parser.add_argument("--out", type=Path, help="the pack's folder (default: ROOT/_build/student-pack)")
    parser.add_argument("--html", type=Path, help="the built book (default: ROOT/_build/html)")
    parser.add_argument("--no-html", action="store_true", help="leave the built book out")
    parser.add_argument("--no-tar", action="store_true", help="do not write the .tar.gz next to the folder")
    args = parser.parse_args(argv)
    out = args.out or args.root / "_build" / "student-pack"
    html = None if args.no_html else (args.html or args.root / "_build" / "html")
    if html is not None and not (html / "index.html").is_file():
        print(f"warning: no built book at {html} (run `make book`); the pack has no html/", file=sys.stderr)
        html = None
    out.parent.mkdir(parents=True, exist_ok=True)
    build(args.root, out, html)
    print(f"Student pack: {out}")
    if not args.no_tar:
        print(f"Archive:      {tarball(out, out.with_name(out.name + '.tar.gz'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
