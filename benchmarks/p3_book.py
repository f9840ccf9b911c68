"""P3 the book build: a strict build from empty caches (cold), the same build again (warm), per page.

    .venv/bin/python benchmarks/p3_book.py [--quick] [--pages book/intro book/using ...]

The checkout's sources (not .git, .venv, node_modules or _build; the assets of `make vendor` are
copied to the copy's _build/_vendor) are copied to a temporary folder and built as `make book`
does, `jupyter-book build <copy> -n -W --keep-going`, in `make book`'s environment (no thread caps
are set; the thread variables found are recorded), with an empty execution cache (the copy's
_build/.jupyter_cache) and an empty model cache (COURSE_CACHE, a new folder). Then the unchanged
copy is built again: the warm rebuild. Per page: the execution seconds jupyter-cache recorded, and
the peak resident memory (VmHWM) of the kernel that ran it (P6), read from /proc every 0.2 s while
the build runs; a kernel belongs to the first page cached after it started.
--quick builds a generated one-page book whose cell holds 64 MiB for 3 s; --pages builds those pages only.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SKIP = shutil.ignore_patterns(".git", ".venv", "node_modules", "_build", "__pycache__", ".pytest_cache",
                              "*.egg-info", ".ipynb_checkpoints", "submitted", "autograded", "feedback",
                              "_grading*", "gradebook.db")
THREAD_VARS = ("COURSE_CPU_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "OMP_WAIT_POLICY")
QUICK_PAGE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# Benchmark page

```{code-cell} ipython3
import time
import numpy as np
import course_lib
block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB resident in the kernel
time.sleep(3)  # the cold build executes for 3 s more than the warm one
print(block.sum() // 2**20, "MiB")
```
"""
GOALS = {"cold_execution_s": 300.0, "warm_s": 30.0}  # issue 12, on two cores


def copy_tree(dest: Path, pages: list[str] | None, quick: bool) -> str:
    """The book's sources in ``dest``, with a _toc.yml of ``pages`` if given; returns the vendor status."""
    shutil.copytree(ROOT, dest, ignore=SKIP)
    if quick:
        (dest / "book" / "bench_quick.md").write_text(QUICK_PAGE)
        pages = ["book/bench_quick"]
    if pages:
        pages = [p.removesuffix(".md") for p in pages]
        toc = {"format": "jb-book", "root": pages[0]}
        toc.update({"chapters": [{"file": p} for p in pages[1:]]} if pages[1:] else {})
        (dest / "_toc.yml").write_text(json.dumps(toc, indent=1) + "\n")  # JSON is YAML
    vendor = ROOT / "_build" / "_vendor"
    if (vendor / ".done").exists():
        shutil.copytree(vendor, dest / "_build" / "_vendor")
        return "copied from _build/_vendor"
    (dest / "_build" / "_vendor").mkdir(parents=True)
    return "missing (an empty folder stood in; run `make vendor` first)"


def _proc(pid: int, name: str) -> str:
    return (Path("/proc") / str(pid) / name).read_text(errors="replace")


class KernelWatch(threading.Thread):
    """Polls /proc every ``period`` s for children of ``pid`` running ipykernel; keeps per kernel
    pid its first and last sighting (time.time()) and its VmHWM in KiB, and the VmHWM of ``pid``."""

    def __init__(self, pid: int, period: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.period, self.kernels, self.build_hwm_kib = pid, period, {}, 0
        self.done = threading.Event()

    def hwm_kib(self, pid: int) -> int:
        line = next(l for l in _proc(pid, "status").splitlines() if l.startswith("VmHWM:"))
        return int(line.split()[1])

    def poll(self) -> None:
        now = time.time()
        for pid in (int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()):
            try:
                ppid = int(_proc(pid, "stat").rsplit(")", 1)[1].split()[1])  # after "pid (name) state"
                if ppid == self.pid and "ipykernel" in _proc(pid, "cmdline"):
                    k = self.kernels.setdefault(pid, {"first": now, "hwm_kib": 0})
                    k["last"], k["hwm_kib"] = now, max(k["hwm_kib"], self.hwm_kib(pid))
            except (OSError, ValueError, IndexError, StopIteration):  # the process just ended
                continue
        try:
            self.build_hwm_kib = max(self.build_hwm_kib, self.hwm_kib(self.pid))
        except (OSError, StopIteration):
            pass

    def run(self) -> None:
        while not self.done.wait(self.period):
            self.poll()


def build(tree: Path, env: dict, timeout: float) -> dict:
    """One `jupyter-book build tree -n -W --keep-going`: wall and CPU seconds (build and kernels),
    peak resident memory of the largest process (ru_maxrss of wait4) and the kernels seen."""
    log = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "jupyter-book"), "build", str(tree), "-n", "-W", "--keep-going"],
                            cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    watch = KernelWatch(proc.pid)
    watch.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    watch.done.set()
    watch.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.seek(0)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build {tree} failed (exit status {proc.returncode}; killed "
                           f"after {timeout:.0f} s if negative); the end of its output:\n{log.read()[-4000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024,
            "kernels": watch.kernels, "build_process_peak_rss_mib": watch.build_hwm_kib / 1024}


def page_rows(tree: Path, kernels: dict) -> list[dict]:
    """One row per executed page, in execution order: seconds from jupyter-cache, its kernel's peak."""
    from jupyter_cache import get_cache
    records = sorted(get_cache(tree / "_build" / ".jupyter_cache").list_cache_records(), key=lambda r: r.created)
    cached_at = [r.created.replace(tzinfo=datetime.timezone.utc).timestamp() for r in records]
    peaks = [None] * len(records)
    for k in sorted(kernels.values(), key=lambda k: k["first"]):
        page = next((i for i, t in enumerate(cached_at) if t >= k["first"] and peaks[i] is None), None)
        if page is not None:
            peaks[page] = k["hwm_kib"] / 1024
    return [{"page": Path(r.uri).relative_to(tree).as_posix(), "execution_s": float(r.data["execution_seconds"]),
             "kernel_peak_rss_mib": peak} for r, peak in zip(records, peaks)]


def run(quick: bool, pages: list[str] | None = None) -> dict:
    """Cold build, warm rebuild and per-page rows (module docstring)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-book-"))
    try:
        tree, models = scratch / "course", scratch / "model_cache"
        vendor = copy_tree(tree, pages, quick)
        models.mkdir()
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               "COURSE_CACHE": str(models)}
        cold = build(tree, env, 600 if quick else 3600)
        rows = page_rows(tree, cold["kernels"])
        warm = build(tree, env, 600)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": rows, **summary(cold, warm, rows), "vendor_assets": vendor,
            "pages_built": "quick page" if quick else ",".join(pages) if pages else "_toc.yml",
            "thread_env": {v: os.environ.get(v, "unset") for v in THREAD_VARS}, "cores": os.cpu_count()}


def summary(cold: dict, warm: dict, rows: list[dict]) -> dict:
    """The section's numbers from the two builds (``build``'s dicts) and the page rows."""
    kernel_peaks = [k["hwm_kib"] / 1024 for k in cold["kernels"].values()]
    return {"cold_wall_s": cold["wall_s"], "cold_cpu_s": cold["cpu_s"],
            "cold_execution_s": sum(r["execution_s"] for r in rows), "pages_executed": len(rows),
            "warm_wall_s": warm["wall_s"], "warm_cpu_s": warm["cpu_s"], "goals": GOALS,
            "kernels_seen": len(kernel_peaks), "warm_kernels_seen": len(warm["kernels"]),
            "max_kernel_peak_rss_mib": max(kernel_peaks, default=None),
            "build_process_peak_rss_mib": cold["build_process_peak_rss_mib"], "peak_rss_mib": cold["peak_rss_mib"]}


def _mib(x) -> str:
    return "–" if x is None else f"{x:.0f}"


def _closing(s: dict) -> str:
    goal = lambda x, g: f"goal ≤ {g:.0f} s: {'met' if x <= g else 'missed'}"  # noqa: E731
    threads = ", ".join(f"{k}={v}" for k, v in s["thread_env"].items())
    return (f"Cold build {s['cold_wall_s']:.0f} s wall ({s['cold_cpu_s']:.0f} s CPU), of which "
            f"{s['cold_execution_s']:.0f} s executing {s['pages_executed']} pages with code cells "
            f"({goal(s['cold_execution_s'], s['goals']['cold_execution_s'])}); warm rebuild "
            f"{s['warm_wall_s']:.1f} s ({goal(s['warm_wall_s'], s['goals']['warm_s'])}); {s['cores']} cores, "
            f"{threads}. Peak resident memory: largest kernel {_mib(s['max_kernel_peak_rss_mib'])} MiB, "
            f"the build process {_mib(s['build_process_peak_rss_mib'])} MiB. Vendored assets: {s['vendor_assets']}.")


TABLE = ("P3 book build (strict, empty caches, then a warm rebuild)", ["page", "execution_s", "kernel_peak_MiB"],
         lambda r: [r["page"], f"{r['execution_s']:.1f}", _mib(r["kernel_peak_rss_mib"])], _closing)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a generated one-page book")
    parser.add_argument("--pages", nargs="+", help="build only these pages, in this order, e.g. book/intro "
                        "book/using (pages they link to must be among them: the build is strict)")
    args = parser.parse_args(argv)
    section = run(args.quick, args.pages)
    print(json.dumps(section, indent=1))
    print(_closing(section))


if __name__ == "__main__":
    main()
