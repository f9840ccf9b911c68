"""Attacks on the grader and malformed input, graded end to end through the instructor command.

A tiny assignment (one function, a visible and a hidden test, 3 points) keeps each notebook to a
few seconds. Every case is a student in ONE batch next to an honest student and a wrong one, so
"other students unaffected" is checked by their scores. The README's table of outcomes is this
file's CASES, with the status and score each case actually got (UPDATE_DOCS=1 rewrites it).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell

from course_lib import grading
from tiny_course import A, CORRECT, NB, WRONG

pytestmark = pytest.mark.slow
MARKER_FILE = "/tmp/course_attack_written"
VERDICTS = "(the grader's verdicts)"  # the reason shown when only the checks' verdicts speak


def answer(release, code, extra=None):
    nb = grading.fill_answers(release, {"add_one": code})
    if extra:
        at = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "add_one"][0]
        nb.cells.insert(at + 1, new_code_cell(extra))
    return nb


def grade_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def edit_visible(nb):
    grade_cells(nb)[0].source = "print('all tests passed')"
    return nb


def delete_tests(nb):
    nb.cells = [c for c in nb.cells if c not in grade_cells(nb)]
    return nb


def reorder(nb):
    tests = grade_cells(nb)
    nb.cells = [nb.cells[0]] + tests + [c for c in nb.cells[1:] if c not in tests]
    return nb


def duplicate(nb):
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(grade_cells(nb)[0]))))
    return nb


def kill_at_end(nb):
    nb.cells.append(new_code_cell("import os\nos._exit(0)"))
    return nb


def hang_at_end(nb):
    nb.cells.append(new_code_cell("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"))
    return nb


def metadata(nb):
    for cell in nb.cells:
        m = cell.metadata.get("nbgrader", {})
        if m.get("grade_id") == "add_one":
            m.update(grade=True, points=10)
        elif m.get("grade"):
            m.update(solution=True, locked=False)
    return nb


# name: (what the submission does, answer, extra cell, notebook edit, expected status, max score,
#        reason that must appear in the notes or feedback)
CASES = {
    "honest": ("correct answer (control)", CORRECT, None, None, "graded", 3, None),
    "wrong": ("wrong answer (control)", WRONG, None, None, "graded", 0, None),
    "allclose": ("replaces numpy.allclose to pass the visible test",
                 "np.allclose = lambda *a, **k: True\n" + WRONG, None, None, "held", 0, "changes np.allclose"),
    "np_testing": ("replaces numpy.testing.assert_allclose",
                   "np.testing.assert_allclose = lambda *a, **k: None\n" + WRONG, None, None, "held", 0,
                   "changes np.testing.assert_allclose"),
    "rebind_numpy": ("replaces np with a fake whose random inputs are all zeros",
                     "class FakeNumpy:\n    def __getattr__(self, name):\n        return __import__('numpy')"
                     ".zeros\nnp = FakeNumpy()\n" + WRONG, None, None, "held", 0, "rebinds np"),
    "builtins": ("replaces a builtin the tests use",
                 "import builtins\nbuiltins.abs = lambda x: 0\n" + WRONG, None, None, "held", 0, "imports builtins"),
    "always_equal": ("returns an object whose __eq__ is always true",
                     "class Yes:\n    def __eq__(self, other):\n        return True\n"
                     "def add_one(x):\n    return Yes()", None, None, "graded", 0, "defines __eq__"),
    "showtraceback": ("patches IPython's showtraceback to hide failures",
                      "get_ipython().showtraceback = lambda *a, **k: None\n" + WRONG, None, None, "held", 0,
                      "uses get_ipython"),
    "sys_exit": ("calls sys.exit", "import sys\n" + WRONG + "\nsys.exit(0)", None, None, "graded", 0, "imports sys"),
    "honest_import": ("imports os to build a path (answer correct)", "import os\n" + CORRECT, None, None,
                      "graded", 3, "imports os"),
    "os_exit": ("kills its kernel with os._exit", WRONG, "import os\nos._exit(0)", None, "graded", 0,
                "kernel died"),
    "os_exit_correct": ("kills its kernel after the tests ran (answer correct)", CORRECT, None, kill_at_end,
                        "graded", 3, "kernel died"),
    "kill_kernel": ("sends SIGKILL to its kernel", WRONG, "import os, signal\nos.kill(os.getpid(), 9)", None,
                    "graded", 0, "sandbox refused sending a signal"),
    "edited_test": ("edits a test cell to print success", WRONG, None, edit_visible, "graded", 0, None),
    "deleted_tests": ("deletes the test cells (answer correct)", CORRECT, None, delete_tests, "graded", 3, None),
    "reordered": ("moves the tests above the answer", CORRECT, None, reorder, "graded", 0, None),
    "duplicated": ("duplicates a test cell to score it twice", CORRECT, None, duplicate, "graded", 3, None),
    "metadata": ("gives its answer cell 10 points and unlocks the tests", WRONG, None, metadata, "graded", 0,
                 None),
    "read_solutions": ("reads the solutions", WRONG, "src = open('{solutions}').read()", None, "graded", 0,
                       "sandbox refused reading"),
    "read_checks": ("reads the grader's checks", WRONG, "src = open('{checks}').read()", None, "graded", 0,
                    "sandbox refused reading"),
    "read_gradebook": ("opens the gradebook", WRONG, "import sqlite3\nsqlite3.connect('{gradebook}')", None,
                       "graded", 0, "sandbox refused reading"),
    "write_outside": ("writes outside its folder", WRONG, f"open('{MARKER_FILE}', 'w').write('x')", None,
                      "graded", 0, "sandbox refused writing"),
    "child_process": ("starts a process meant to outlive grading", WRONG,
                      "import subprocess\nsubprocess.Popen(['sleep', '321'])", None, "graded", 0,
                      "sandbox refused starting a process"),
    "fork": ("forks", WRONG, "import os\nos.fork()", None, "graded", 0, "sandbox refused starting a process"),
    "memory": ("allocates 128 GiB (answer correct)", CORRECT, "big = np.ones(2**34)", None, "graded", 3, None),
    "infinite_loop": ("loops forever in one cell (answer correct)", CORRECT, "while True:\n    pass", None,
                      "graded", 3, None),
    "output_flood": ("prints 20 MB (answer correct)", CORRECT, "print('x' * 20_000_000)", None, "graded", 3, None),
    "ignores_interrupt": ("ignores interrupts and loops forever", WRONG,
                          "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
                          None, "graded", 0, "did not stop when interrupted"),
    "ignores_interrupt_correct": ("answers correctly, then ignores interrupts and loops forever", CORRECT,
                                  None, hang_at_end, "graded", 3, "did not stop when interrupted"),
    # Paths to an object that no scan lists: each changes what an in-kernel check would compute.
    "param_alias": ("patches numpy.allclose through a default parameter",
                    "def add_one(x, m=np):\n    m.allclose = lambda *a, **k: True\n    return x", None, None,
                    "graded", 0, None),
    "name_lookup": ("patches torch.Tensor.__sub__ through getattr",
                    "import torch\nT = getattr(torch, 'Ten' + 'sor')\nT.__sub__ = lambda a, b: torch.zeros(())\n"
                    + WRONG, None, None, "graded", 0, None),
    "class_attribute": ("patches numpy through a class attribute",
                        "class Helper:\n    lib = np\nHelper.lib.allclose = lambda *a, **k: True\n"
                        "Helper.lib.testing.assert_allclose = lambda *a, **k: None\n" + WRONG, None, None,
                        "graded", 0, None),
    "huge_error": ("raises an exception with a 100 MB message", "def add_one(x):\n    raise ValueError('x' * 10**8)",
                   None, None, "graded", 0, None),
    "fake_result": ("publishes a fake grader result before returning a wrong one",
                    "from IPython.display import publish_display_data\n"
                    "def add_one(x):\n    publish_display_data({'application/x.course-result+base64': 'AAAA'})\n"
                    "    return x", None, None, "held", 0, "imports publish_display_data from IPython.display"),
}
MALFORMED = {
    "not_json": ("a file that is not JSON", "skipped", "not valid JSON"),
    "nbformat3": ("an nbformat 3 notebook", "skipped", "not a version-4 Jupyter notebook"),
    "empty": ("an empty file", "skipped", "is empty"),
    "renamed": ("the notebook renamed to 'tiny (1).ipynb'", "skipped", "rename it to tiny.ipynb"),
    "missing": ("no notebook in the folder", "skipped", "is missing"),
    "huge": ("a 21 MiB notebook", "skipped", "over the 20 MiB limit"),
    "extra_files": ("the notebook plus other files (answer correct)", "graded", "ignored extra files"),
}


def write_malformed(subs: Path, release):
    for name in MALFORMED:
        (subs / name / A).mkdir(parents=True)
    folder = lambda name: subs / name / A
    (folder("not_json") / NB).write_text('{"cells": [ oops')
    (folder("nbformat3") / NB).write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}))
    (folder("empty") / NB).write_text("")
    nbformat.write(answer(release, CORRECT), folder("renamed") / "tiny (1).ipynb")
    nb = answer(release, CORRECT)
    nb.cells[0].source += "\n" + " " * (21 * 2**20)
    nbformat.write(nb, folder("huge") / NB)
    nbformat.write(answer(release, CORRECT), folder("extra_files") / NB)
    (folder("extra_files") / "notes.txt").write_text("extra")


@pytest.fixture(scope="module")
def outcome(tiny_course, tmp_path_factory):
    course = tiny_course
    subs = tmp_path_factory.mktemp("attack_submissions")
    work = tmp_path_factory.mktemp("attack_work") / "course"
    release = nbformat.read(course / "assignments" / A / NB, as_version=4)
    paths = {"solutions": course / "solutions" / A / NB, "gradebook": work / "gradebook.db",
             "checks": work / "solutions" / f"{A}_checks.py"}
    for name, (_, code, extra, edit, *_rest) in CASES.items():
        nb = answer(release, code, extra.format(**paths) if extra else None)
        nb = edit(nb) if edit else nb
        (subs / name / A).mkdir(parents=True)
        nbformat.write(nb, subs / name / A / NB)
    write_malformed(subs, release)
    Path(MARKER_FILE).unlink(missing_ok=True)
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    settings = {"cell_timeout": 10, "notebook_timeout": 120, "memory_mb": 3072}
    results = grading.grade(subs, work, A, course_root=course, workers=2, settings=settings)
    return {r.student: r for r in results}, work, subs, before


def feedback_text(work, student):
    page = work / "feedback" / student / A / "tiny.html"
    return page.read_text() if page.exists() else ""


@pytest.mark.parametrize("name", list(CASES))
def test_attack_gets_no_inflated_score_and_a_reason(outcome, name):
    results, work, *_ = outcome
    _, _, _, _, status, top, reason = CASES[name]
    r = results[name]
    assert r.status == status, f"{name}: {r.status} {r.notes}"
    assert r.score is not None and r.score <= top, f"{name} scored {r.score} > {top}"
    if top == 3:
        assert r.score == 3, f"{name}: a correct answer lost points: {r.notes}"
    if reason:
        assert any(reason in n for n in r.notes), f"{name}: {reason!r} not in {r.notes}"
        assert reason in feedback_text(work, name), f"{name}: the feedback does not say {reason!r}"


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_input_is_named_and_skipped(outcome, name):
    r = outcome[0][name]
    _, status, reason = MALFORMED[name]
    assert r.status == status and any(reason in n for n in r.notes), f"{name}: {r.status} {r.notes}"
    if status == "skipped":
        assert r.score is None
    else:
        assert r.score == 3


def test_side_effects_were_stopped_and_inputs_untouched(outcome):
    results, work, subs, before = outcome
    assert not Path(MARKER_FILE).exists(), "a submission wrote outside its folder"
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[-2:] == ["sleep", "321"]]
    assert not leftovers, "a child process outlived grading"
    assert {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()} == before
    for name in ("output_flood", "huge_error"):
        html = feedback_text(work, name)
        assert 0 < len(html) < 5_000_000, f"{name}: the flood reached the feedback ({len(html):,} characters)"
    assert any("characters of output" in n for n in results["huge_error"].notes), results["huge_error"].notes
    logs = sum(p.stat().st_size for p in (work / "logs").glob("huge_error*"))
    assert logs < 5_000_000, f"the grading logs of huge_error hold {logs:,} bytes"
    hidden = feedback_text(work, "wrong")
    assert "add_one on hidden inputs" in hidden and "differs from the expected values" in hidden
    assert "rng.normal" not in hidden and "seed=7" not in hidden, "hidden inputs leaked"


def test_exit_status_tells_the_instructor(tiny_course, tmp_path):
    course = tiny_course
    subs = tmp_path / "subs"
    (subs / "only_broken" / A).mkdir(parents=True)
    (subs / "only_broken" / A / NB).write_text("not json")
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", "--course-root", str(course),
                           "--submissions", str(subs), "--assignment", A, "--workdir", str(tmp_path / "w"),
                           "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "only_broken" in proc.stderr and "tiny.ipynb is not valid JSON" in proc.stderr


def attack_table(results) -> str:
    rows = ["| case | the submission | outcome | reason given |", "|---|---|---|---|"]
    for name, (what, *_rest, reason) in CASES.items():
        r = results[name]
        rows.append(f"| {name} | {what} | {r.status}, {r.score:g}/{r.max_score:g} | {reason or VERDICTS} |")
    for name, (what, status, reason) in MALFORMED.items():
        r = results[name]
        score = "not graded" if r.score is None else f"{r.score:g}/{r.max_score:g}"
        rows.append(f"| {name} | {what} | {r.status}, {score} | {reason} |")
    return "\n".join(rows)


def test_readme_table_matches_the_outcomes(root, outcome):
    readme = root / "README.md"
    start, end = "<!-- attack-table:start -->\n", "<!-- attack-table:end -->"
    text = readme.read_text()
    assert start in text and end in text, "README.md lacks the attack-table markers"
    table = attack_table(outcome[0])
    if os.environ.get("UPDATE_DOCS"):
        text = text[: text.index(start) + len(start)] + table + "\n" + text[text.index(end):]
        readme.write_text(text)
    current = text[text.index(start) + len(start): text.index(end)].strip()
    assert current == table, "README's attack table is stale: run UPDATE_DOCS=1 pytest tests/grading/test_grading_attacks.py"
