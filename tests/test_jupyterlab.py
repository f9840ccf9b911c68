"""The assignments in JupyterLab, as a student meets them.

- `nbgrader validate` (the command behind JupyterLab's Validate button) with the students'
  nbgrader_config.py (student_pack/): an untouched release fails and says what to do; a solved copy
  (the grader's demo "solved" submission, written answers added) passes, and runs top to bottom in
  a fresh kernel, without network, within the time the assignment states.
- `make lab` starts a JupyterLab whose nbgrader server extension answers, which serves /lab with
  the nbgrader and jupytext lab extensions, and which opens the book's pages as notebooks.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import fill_answers, reference_answers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RELEASES = sorted((ROOT / "assignments").glob("*/*.ipynb"))
NAMES = [p.stem for p in RELEASES]
# When a release states no run time: nbgrader's per-cell limit, for the whole notebook.
UNSTATED = 120
STATED = re.compile(r"runs? from (?:the )?top to bottom in (?:under|less than) (\d+) (second|minute)s?", re.I)


def stated_seconds(release: Path) -> int | None:
    """The run time the assignment's text promises for its answered notebook, in seconds."""
    text = "\n".join(c.source for c in nbformat.read(release, as_version=4).cells if c.cell_type == "markdown")
    found = STATED.search(text)
    return None if found is None else int(found[1]) * (60 if found[2].lower() == "minute" else 1)


def solved(release: Path) -> nbformat.NotebookNode:
    """The release with the solutions' answers: the grader's demo "solved" submission, whose
    written (markdown) answers are added here so that nothing is left unanswered."""
    source = nbformat.read(ROOT / "solutions" / release.parent.name / release.name, as_version=4)
    nb = fill_answers(nbformat.read(release, as_version=4), reference_answers(source))
    written = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        cell.source = written.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    return nb


def offline(cmd: list[str]) -> list[str]:
    """``cmd`` in a network namespace of its own with only loopback (kernels talk over it)."""
    probe = subprocess.run(["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True) \
        if shutil.which("unshare") and shutil.which("ip") else None
    if probe is None or probe.returncode != 0:
        warnings.warn("unshare -rn is not available here: nbgrader validate runs with the network")
        return cmd
    return ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *cmd]


def validate(folder: Path, notebooks: list[Path]) -> dict[str, tuple[str, float]]:
    """One `nbgrader validate` over ``notebooks`` in ``folder``, offline: path -> (what it printed
    for that notebook, seconds it took), split on nbgrader's 'Validating' log line."""
    cmd = [str(BIN / "nbgrader"), "validate", "--ValidateApp.log_format=@@ %(created)f %(message)s",
           *map(str, notebooks)]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(offline(cmd), cwd=folder, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    end = time.time()
    assert proc.returncode == 0, proc.stdout[-5000:]
    parts = re.split(r"^@@ ([\d.]+) Validating '([^']+)'\n", proc.stdout, flags=re.M)[1:]
    starts = [float(s) for s in parts[0::3]] + [end]
    return {path: (out, starts[i + 1] - starts[i]) for i, (path, out) in enumerate(zip(parts[1::3], parts[2::3]))}


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> dict[tuple[str, str], tuple[str, float]]:
    """(assignment, "untouched" | "solved") -> (validate's output, seconds), in two processes at once."""
    folder = tmp_path_factory.mktemp("validate")
    shutil.copy(ROOT / "student_pack" / "nbgrader_config.py", folder)  # what the student's pack uses
    paths = {}
    for release in RELEASES:
        for kind, nb in [("untouched", nbformat.read(release, as_version=4)), ("solved", solved(release))]:
            path = folder / kind / release.parent.name / release.name
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
            paths[(release.stem, kind)] = path
    big = [paths[(n, "solved")] for n in NAMES if n == "captioning"]
    rest = [p for p in paths.values() if p not in big]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda group: validate(folder, group), [big + rest[:2], rest[2:]]))
    by_path = {path: result for run in runs for path, result in run.items()}
    return {key: by_path[str(path)] for key, path in paths.items()}


@pytest.mark.parametrize("name", NAMES)
def test_untouched_release_fails_and_says_what_to_do(validated, name):
    out, _ = validated[(name, "untouched")]
    release = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    # Graded cells that run something; the others hold only a comment where the hidden tests were
    # (the grader runs those checks in its own process) and pass in the student's kernel.
    graded = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
              and (c.cell_type == "markdown" or any(ln.strip() and not ln.strip().startswith("#")
                                                    for ln in c.source.splitlines()))]
    header = re.search(r"VALIDATION FAILED ON (\d+) CELL\(S\)!", out)
    assert header, out[:3000]
    assert "What to do:" in out and "replace that line with your code" in out  # student_pack/nbgrader_config.py
    failures = out.split("The following cell failed:")[1:]
    assert int(header[1]) == len(failures) == len(graded), "an untouched notebook should fail every graded cell"
    for failure in failures:  # each error leads to the answer to write
        assert "NotImplementedError" in failure or "You did not provide a response" in failure, failure[-2000:]


@pytest.mark.parametrize("name", NAMES)
def test_solved_copy_passes_offline_in_the_stated_time(validated, name):
    out, seconds = validated[(name, "solved")]
    assert "Success! Your notebook passes all the tests." in out, out[-5000:]
    assert "VALIDATION FAILED" not in out
    limit = stated_seconds(ROOT / "assignments" / name / f"{name}.ipynb") or UNSTATED
    assert seconds < limit, f"{name}: validating the answered notebook took {seconds:.0f} s, over {limit} s"


@pytest.mark.parametrize("name", NAMES)
def test_assignment_states_how_long_it_runs(name):
    assert stated_seconds(ROOT / "assignments" / name / f"{name}.ipynb"), (
        f"assignments/{name}/{name}.ipynb does not say how long it runs: add a sentence like 'Answered, "
        f"this notebook runs from top to bottom in under 1 minute on one CPU core.' to the first markdown "
        f"cell of solutions/{name}/{name}.ipynb, then `make release`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on this repository, on a free port, without a browser; yields (url, token)."""
    port, token, tmp = free_port(), "course-test", tmp_path_factory.mktemp("lab")
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    args = f"--no-browser --port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0"
    args += " --allow-root" if os.geteuid() == 0 else ""  # CI containers; jupyter refuses root otherwise
    # -o: never reinstall the venv from a test, even when its stamp is older than requirements.txt.
    proc = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "lab", f"LAB_ARGS={args}"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                if get(f"{url}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            stop(proc)
            pytest.fail(f"make lab did not answer on {url}: {proc.communicate(timeout=30)[0][-3000:]}")
        yield url, token
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """make and the jupyter lab it started (their own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_lab_serves_jupyterlab_with_the_extensions(lab):
    url, token = lab
    status, page = get(f"{url}/lab?token={token}")
    assert status == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S)[1])
    extensions = {e["name"] for e in config["federated_extensions"]}
    assert {"@jupyter/nbgrader", "jupyterlab-jupytext", "@jupyter-widgets/jupyterlab-manager"} <= extensions
    assert "@jupyter/nbgrader:validate-assignment" not in config.get("disabledExtensions", [])


def test_nbgrader_server_extension_answers(lab):
    url, token = lab
    status, body = get(f"{url}/nbgrader_version?version=0.9.6&token={token}")
    assert status == 200 and json.loads(body) == {"success": True}
    status, body = get(f"{url}/nbgrader_version?version=0.0.1&token={token}")
    assert json.loads(body)["success"] is False  # the handler compares, it does not just answer
    status, body = get(f"{url}/assignments?course_id=rnn-course&token={token}")
    assert status == 200 and "success" in json.loads(body)  # the list (no exchange set up here: success false)


def test_validate_button_endpoint_reports_the_unanswered_functions(lab):
    url, token = lab
    path = "assignments/gradient_flow/gradient_flow.ipynb"
    status, body = get(f"{url}/assignments/validate?token={token}", data=urllib.parse.urlencode({"path": path}).encode())
    assert status == 200
    result = json.loads(body)
    assert result["success"] is True, result
    failed = result["value"]["failed"]
    assert failed and all("NotImplementedError" in f["error"] or "did not provide" in f["error"] for f in failed)


def test_book_pages_open_as_notebooks(lab):
    url, token = lab
    status, body = get(f"{url}/api/contents/book/rnn.md?type=notebook&content=1&token={token}")
    assert status == 200
    model = json.loads(body)
    assert model["type"] == "notebook" and any(c["cell_type"] == "code" for c in model["content"]["cells"])
    # make lab's overrides (student_pack/jupyter/lab/overrides.json) become the setting's default
    status, body = get(f"{url}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token={token}")
    assert status == 200, body[:2000]
    default = json.loads(body)["schema"]["properties"]["defaultViewers"]["default"]
    assert default.get("markdown") == default.get("myst") == "Jupytext Notebook", default
    status, body = get(f"{url}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}")
    news = json.loads(body)["schema"]["properties"]
    assert news["fetchNews"]["default"] == "false" and news["checkForUpdates"]["default"] is False  # offline
