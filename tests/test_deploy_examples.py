"""The worked cluster examples in deploy/ say what the book page "Grading on a cluster" says.

- the Slurm example's job script (built by make_cluster, no Slurm needed) starts one Dask worker
  with one thread, on the cluster's scheduler, with memory for the sandboxed kernel and more, and a
  local directory;
- the Kubernetes DaskCluster gives its workers one thread, an emptyDir scratch and the memory;
- both start workers that are not daemon processes (DASK_DISTRIBUTED__WORKER__DAEMON=False);
- the workers' Dockerfile copies named files only, never the repository or solutions/;
- the book page names --scheduler and both examples, and sits in _toc.yml after book/using.

The checks are plain functions of text; the first tests feed them broken examples, so each can be
seen to fail.
"""
import copy
import importlib.util
import re
import shlex

import pytest
import yaml
from dask.utils import parse_bytes

from course_lib.grading.batch import DEFAULTS

MIN_BYTES = (DEFAULTS["memory_mb"] + 1024) * 2**20  # the sandbox's kernel, plus 1 GiB for worker and nbgrader
SLURM = "deploy/slurm/grading_cluster.py"
KUBE = "deploy/kubernetes/dask-cluster.yaml"
DOCKERFILE = "deploy/kubernetes/Dockerfile"


# ---------------------------------------------------------------- checks

def option(args: list[str], name: str) -> str | None:
    """The value after ``name`` in ``args`` (None when absent or last)."""
    i = args.index(name) if name in args else -1
    return args[i + 1] if 0 <= i < len(args) - 1 else None


def job_script_problems(script: str, address: str) -> list[str]:
    """What is wrong with a dask-jobqueue job script for grading workers ([] when nothing)."""
    lines = [line for line in script.splitlines() if "dask_worker" in line or "dask worker" in line]
    if len(lines) != 1:
        return [f"expected one line starting a Dask worker, found {len(lines)}"]
    args, problems = shlex.split(lines[0]), []
    if address not in args:
        problems.append(f"the worker does not connect to {address}")
    if option(args, "--nthreads") != "1":
        problems.append(f"--nthreads is {option(args, '--nthreads')}, expected 1 (one student at a time)")
    limit = option(args, "--memory-limit")
    if limit is None or parse_bytes(limit) < MIN_BYTES:
        problems.append(f"--memory-limit {limit} is under {MIN_BYTES / 2**30:.0f} GiB")
    mem = re.search(r"^#SBATCH --mem=(\d+)([KMGT]?)\s*$", script, re.M)  # Slurm: K, M (default), G, T of 1024
    booked = int(mem.group(1)) * 1024 ** "KMGT".index(mem.group(2) or "M") * 1024 if mem else 0
    if booked < MIN_BYTES:
        problems.append(f"the job books {mem and mem.group(0)} of memory, under {MIN_BYTES / 2**30:.0f} GiB")
    if not option(args, "--local-directory"):
        problems.append("no --local-directory: the worker would grade in its working directory")
    if not re.search(r"^export DASK_DISTRIBUTED__WORKER__DAEMON=False$", script, re.M):
        problems.append("the worker is a daemon process: each student would start a fresh Python")
    return problems


def cluster_problems(doc: dict) -> list[str]:
    """What is wrong with a DaskCluster resource for grading workers ([] when nothing)."""
    if doc.get("apiVersion") != "kubernetes.dask.org/v1" or doc.get("kind") != "DaskCluster":
        return [f"not a kubernetes.dask.org/v1 DaskCluster: {doc.get('apiVersion')} {doc.get('kind')}"]
    pod = doc["spec"]["worker"]["spec"]
    worker, problems = pod["containers"][0], []
    args = [str(a) for a in worker["args"]]
    if args[:2] != ["dask", "worker"] and args[:1] != ["dask-worker"]:
        problems.append(f"the worker container runs {args[:2]}, not dask worker")
    if option(args, "--nthreads") != "1":
        problems.append(f"--nthreads is {option(args, '--nthreads')}, expected 1")
    scratch = option(args, "--local-directory")
    mounts = {m["name"]: m["mountPath"] for m in worker.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    names = [name for name, path in mounts.items() if path == scratch]
    if not scratch or not names or "emptyDir" not in volumes.get(names[0], {}):
        problems.append(f"--local-directory {scratch} is not an emptyDir volume")
    env = {e["name"]: str(e.get("value")) for e in worker.get("env", [])}
    if env.get("DASK_DISTRIBUTED__WORKER__DAEMON") != "False":
        problems.append("the worker is a daemon process: each student would start a fresh Python")
    for kind in ("requests", "limits"):
        memory = worker.get("resources", {}).get(kind, {}).get("memory")
        if memory is None or parse_bytes(memory) < MIN_BYTES:
            problems.append(f"memory {kind} {memory} is under {MIN_BYTES / 2**30:.0f}Gi")
    return problems


def copy_problems(dockerfile: str) -> list[str]:
    """COPY/ADD lines of a Dockerfile that take the whole context or anything of solutions/."""
    problems = []
    for line in re.sub(r"\\\n", " ", dockerfile).splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        if any(s.rstrip("/") in ("", ".", "*", "./*") or "solutions" in s or s.startswith("..") for s in sources):
            problems.append(line.strip())
    return problems


def load_slurm_example(root):
    spec = importlib.util.spec_from_file_location("grading_cluster", root / SLURM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the checks can fail

GOOD_SCRIPT = """#!/usr/bin/env bash
#SBATCH --mem=6G
export DASK_DISTRIBUTED__WORKER__DAEMON=False
/venv/bin/python -m distributed.cli.dask_worker tcp://10.0.0.1:8786 --nthreads 1 --memory-limit 5.59GiB --local-directory $TMPDIR
"""


@pytest.mark.parametrize("change, expected", [
    (("--nthreads 1", "--nthreads 2"), "--nthreads"),
    (("tcp://10.0.0.1:8786", "tcp://10.0.0.9:8786"), "connect"),
    (("--memory-limit 5.59GiB", "--memory-limit 4GiB"), "--memory-limit"),
    (("--mem=6G", "--mem=4G"), "books"),
    ((" --local-directory $TMPDIR", ""), "--local-directory"),
    (("export DASK_DISTRIBUTED__WORKER__DAEMON=False", ""), "daemon"),
])
def test_job_script_check_finds_each_problem(change, expected):
    assert job_script_problems(GOOD_SCRIPT, "tcp://10.0.0.1:8786") == []
    problems = job_script_problems(GOOD_SCRIPT.replace(*change), "tcp://10.0.0.1:8786")
    assert any(expected in p for p in problems), problems


def test_cluster_and_dockerfile_checks_find_problems(root):
    doc = yaml.safe_load((root / KUBE).read_text())
    bad = copy.deepcopy(doc)
    worker = bad["spec"]["worker"]["spec"]["containers"][0]
    worker["args"][worker["args"].index("--nthreads") + 1] = "4"
    worker["resources"]["limits"]["memory"] = "4Gi"
    bad["spec"]["worker"]["spec"]["volumes"][0] = {"name": "scratch", "hostPath": {"path": "/tmp"}}
    worker["env"] = []
    problems = "\n".join(cluster_problems(bad))
    assert "--nthreads" in problems and "limits" in problems and "emptyDir" in problems, problems
    assert "daemon" in problems, problems
    for line in ("COPY . /opt/rnn-course", "COPY --chown=1000 ./ /app", "ADD solutions/ /s",
                 "COPY course_lib/ \\\n solutions/rnn_checks.py /x/"):
        assert copy_problems(f"FROM python:3.11-slim\n{line}\n"), line
    assert copy_problems("COPY requirements.txt pyproject.toml ./\nCOPY course_lib/ course_lib/\n") == []


# ---------------------------------------------------------------- the examples

def test_slurm_job_script_starts_one_grading_worker(root):
    module = load_slurm_example(root)
    cluster = module.make_cluster(queue="QUEUE", account="ACCOUNT", port=0, python="/opt/grader/bin/python")
    try:
        script, address = cluster.job_script(), cluster.scheduler_address
    finally:
        cluster.close()
    assert job_script_problems(script, address) == []
    assert "/opt/grader/bin/python -m distributed.cli.dask_worker" in script
    assert "#SBATCH -p QUEUE" in script and "#SBATCH -A ACCOUNT" in script
    assert "--local-directory $TMPDIR" in script  # node-local scratch, expanded by the job's shell


def test_kubernetes_cluster_gives_workers_one_thread_scratch_and_memory(root):
    doc = yaml.safe_load((root / KUBE).read_text())
    assert cluster_problems(doc) == []
    ports = {p["port"] for p in doc["spec"]["scheduler"]["service"]["ports"]}
    assert 8786 in ports


def test_dockerfile_copies_no_solutions(root):
    text = (root / DOCKERFILE).read_text()
    assert copy_problems(text) == []
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert "pip install --no-cache-dir --no-deps -e ." in text


def test_book_page_names_the_examples_and_is_in_the_toc(root):
    page = (root / "book" / "grading_cluster.md").read_text()
    for needle in ("--scheduler", SLURM, KUBE, DOCKERFILE, "## How fast"):
        assert needle in page, f"book/grading_cluster.md does not mention {needle}"
    assert "{code-cell}" not in page  # instructions only: nothing executes
    chapters = [c["file"] for c in yaml.safe_load((root / "_toc.yml").read_text())["parts"][0]["chapters"]]
    assert chapters.index("book/grading_cluster") == chapters.index("book/using") + 1
