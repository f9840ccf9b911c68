"""P7 grading on a Dask cluster: submissions per minute against worker processes, and against the
local pool with as many workers.

    .venv/bin/python benchmarks/p7_cluster.py [--quick]

One batch of solved submissions of an assignment (copies of the demo 'solved' one) is graded by
``course grade``'s local pool and by ``course grade --scheduler`` on a Dask cluster started here
(a `dask scheduler` and N `dask worker --nthreads 1 --no-nanny` processes on 127.0.0.1, each with
its own scratch directory), for each N. Wall times exclude starting the cluster (a course's
cluster outlives one run) and include everything else: preparing the course and its bundle,
shipping it, grading, and storing each student's files and grades. Each path grades the batch
twice, cold (fresh fork servers import torch and nbgrader) and warm (the same batch with --force).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int, base: Path):
    """A scheduler and ``workers`` worker processes on 127.0.0.1; returns (address, processes)."""
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(base / "cluster.log", "a")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=log, stderr=log)]
    procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                "--local-directory", str(base / f"scratch{i}")], stdout=log, stderr=log)
              for i in range(workers)]
    with Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def run(quick: bool, assignment: str = "rnn") -> dict:
    from course_lib import grading
    from course_lib.grading import cluster
    from course_lib.grading.batch import COURSE_ROOT

    n, counts = (1, [1]) if quick else (8, [1, 2, 4])
    scratch = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    rows = []
    try:
        grading.make_demo_submissions(COURSE_ROOT, scratch / "demo", assignment)
        for i in range(n):
            shutil.copytree(scratch / "demo" / "solved", scratch / "subs" / f"student{i:02d}")
        scores = set()
        for workers in counts:
            # Each path grades the batch twice: cold (the first run of a fresh pool or cluster: fork
            # servers importing torch and nbgrader) and warm (--force again: a course's cluster
            # stays up between runs, as a local pool's fork server does within one process).
            timing = {}
            base = scratch / f"cluster{workers}"
            base.mkdir()
            start = time.perf_counter()
            address, procs = start_cluster(workers, base)
            startup_s = time.perf_counter() - start
            try:
                for run_name in ("cold", "warm"):
                    start = time.perf_counter()
                    local = grading.grade(scratch / "subs", scratch / f"local{workers}", assignment, workers=workers,
                                          force=True)
                    timing[f"local_{run_name}_s"] = time.perf_counter() - start
                    start = time.perf_counter()
                    remote = cluster.grade(scratch / "subs", base / "work", assignment, scheduler=address, force=True)
                    timing[f"cluster_{run_name}_s"] = time.perf_counter() - start
                    for r in local + remote:
                        if r.status != "graded":
                            raise RuntimeError(f"{r.student} was not graded: {r.status} {r.notes}")
                        scores.add(r.score)
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
            if len(scores) != 1:
                raise RuntimeError(f"the same solved submission got different scores: {sorted(scores)}")
            row = {"assignment": assignment, "workers": workers, "submissions": n, "cluster_startup_s": startup_s,
                   "workers_used": len({r.worker for r in remote}), **timing}
            for path in ("local", "cluster"):
                for run_name in ("cold", "warm"):
                    row[f"{path}_{run_name}_per_min"] = 60 * n / timing[f"{path}_{run_name}_s"]
            row["overhead_cold"] = timing["cluster_cold_s"] / timing["local_cold_s"]
            row["overhead_warm"] = timing["cluster_warm_s"] / timing["local_warm_s"]
            rows.append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": rows, "cores": len(os.sched_getaffinity(0))}


TABLE = ("P7 grading on a Dask cluster (solved submissions)",
         ["assignment", "workers", "submissions", "local_per_min_cold/warm", "cluster_per_min_cold/warm",
          "cluster/local_time_cold/warm", "cluster_startup_s"],
         lambda r: [r["assignment"], r["workers"], r["submissions"],
                    f"{r['local_cold_per_min']:.1f} / {r['local_warm_per_min']:.1f}",
                    f"{r['cluster_cold_per_min']:.1f} / {r['cluster_warm_per_min']:.1f}",
                    f"{r['overhead_cold']:.2f} / {r['overhead_warm']:.2f}", f"{r['cluster_startup_s']:.1f}"],
         lambda s: (f"{s['cores']} cores; each worker process grades one student at a time. Cold: the first run "
                    f"of a fresh pool or cluster; warm: the same batch again (--force). Wall times exclude "
                    f"starting the cluster (cluster startup s)."))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    section = run(args.quick)
    for row in section["rows"]:
        print(TABLE[2](row))
    print(TABLE[3](section))


if __name__ == "__main__":
    main()
