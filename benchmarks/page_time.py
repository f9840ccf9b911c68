"""Execute book pages as the book build does, one fresh kernel each, and report wall and CPU time.

    .venv/bin/python benchmarks/page_time.py book/rnn.md [book/bptt.md ...]

CPU seconds (user + system of the kernel, read from /proc before it exits) are the number to
compare on a shared machine: wall time depends on what else runs, CPU time much less. The pages run
in book/ as their working directory, like `jupyter-book build`, with COURSE_CPU_THREADS=1 as in
`make test`'s background build. Nothing is written back to the pages.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

CPU_PROBE = ("import os as _os\n"
             "_t = _os.times()\n"
             "print(f'__cpu__ {_t.user + _t.system + _t.children_user + _t.children_system:.2f}')")


def run(page: Path, timeout: int) -> tuple[float, float]:
    nb = jupytext.read(page)
    nb.cells.append(jupytext.reads(CPU_PROBE, fmt="py:percent").cells[0])
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(page.parent)}})
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    out = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
    cpu = float(out.split("__cpu__")[1].split()[0])
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()
    os.environ.setdefault("COURSE_CPU_THREADS", "1")
    total_wall = total_cpu = 0.0
    for page in args.pages:
        wall, cpu = run(page.resolve(), args.timeout)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        print(f"{page}: {wall:6.1f} s wall, {cpu:6.1f} s CPU", flush=True)
    if len(args.pages) > 1:
        print(f"total: {total_wall:6.1f} s wall, {total_cpu:6.1f} s CPU")


if __name__ == "__main__":
    sys.exit(main())
