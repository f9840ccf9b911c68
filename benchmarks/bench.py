"""`make bench`: the course's benchmarks, side by side, written as JSON and a Markdown table.

    .venv/bin/python benchmarks/bench.py [--only p1,p2,p3,p4,p5,p7] [--quick] [--text FILE] [--out DIR]

Sections (issues 12 and 16), each writing its rows; P1 to P5 also the peak resident memory of what
they ran (the Performance page's P6):
- p1 character model (benchmarks/p1_charlm.py): wall time to one smoothed training loss for
  min-char-rnn, the course's NumPy layers batched, CharRNN and torch.nn.RNN in the same trainer.
- p2 recurrent layers: forward+backward seconds of the course's equation-level RNN/LSTM/GRU and
  their fast paths against torch.nn, over a grid of (N, T, H); the ratio to torch.nn per cell.
- p3 the book (benchmarks/p3_book.py): a strict build from empty caches, then a warm rebuild.
- p4 autograding: seconds per solved submission of each assignment with 1 and 2 workers.
- p5 captioning (benchmarks/p5_captioning.py): training time to a BLEU-4 and a semantic-accuracy
  level on the test split, with and without attention.
- p7 grading on a Dask cluster (benchmarks/p7_cluster.py): submissions per minute with 1, 2 and 4
  worker processes on this machine, against the local pool with as many workers.
This machine is shared: compare the ratios measured in one run; absolute times are context, with
the machine named. --quick runs tiny sizes (the smoke test in `make test` uses it, so the
benchmarks cannot rot). The book's Performance page reads the committed latest.json.
"""
import argparse
import datetime
import hashlib
import importlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gated import contenders, time_steps  # noqa: E402
from course_lib.rnn import RNN, to_torch_rnn_state_dict  # noqa: E402

# section name -> module in benchmarks/ with run(quick) and TABLE, or None for a function here
SECTIONS = {"p1": "p1_charlm", "p2": None, "p3": "p3_book", "p4": None, "p5": "p5_captioning",
            "p7": "p7_cluster"}


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MiB of this process (or of its largest waited-for child)."""
    return resource.getrusage(who).ru_maxrss / 1024


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (user, nice, system, irq) since boot, from
    /proc/stat. The grading workers are children of a fork server, which this process never
    waits for, so getrusage cannot see their time; the machine's busy time can (and includes
    anything else that runs meanwhile: run the benchmarks alone)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class DescendantPeak(threading.Thread):
    """Polls /proc every ``period`` s while running and keeps the largest VmHWM (peak resident
    memory, KiB) of any process descended from this one: grading workers and their kernels, which
    getrusage cannot see (they are children of a fork server this process never waits for)."""

    def __init__(self, period: float = 0.2):
        super().__init__(daemon=True)
        self.period, self.peak_kib, self.done = period, 0, threading.Event()

    def poll(self) -> None:
        parents, hwm = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                hwm[int(entry.name)] = int(next(line.split()[1] for line in (entry / "status").read_text().splitlines()
                                                if line.startswith("VmHWM:")))
            except (OSError, ValueError, IndexError, StopIteration):  # ended meanwhile, or a kernel thread
                continue
        me = os.getpid()
        for pid, kib in hwm.items():
            ancestor, hops = parents.get(pid), 0
            while ancestor not in (None, 0, 1, me) and hops < 32:
                ancestor, hops = parents.get(ancestor), hops + 1
            if ancestor == me:
                self.peak_kib = max(self.peak_kib, kib)

    def run(self) -> None:
        while not self.done.wait(self.period):
            self.poll()


def rnn_rows(D: int, H: int, device, dtype):
    """The vanilla RNN's rows in bench_gated's format: course layer against torch.nn.RNN."""
    ours = RNN(D, H, device=device, dtype=dtype, generator=torch.Generator().manual_seed(0))
    theirs = torch.nn.RNN(D, H, batch_first=True, device=device, dtype=dtype)
    theirs.load_state_dict(to_torch_rnn_state_dict(*(p.detach() for p in ours.parameters())))
    loss = lambda run: lambda x: (lambda h, h_T: h.sum() + h_T.sum())(*run(x))  # noqa: E731
    return [("RNN", "course forward", ours, loss(ours)), ("RNN", "course fast_forward", ours, loss(ours.fast_forward)),
            ("RNN", "torch.nn.RNN", theirs, loss(theirs))]


def onednn_off_row(rows):
    """torch.nn.LSTM once more with oneDNN switched off: on the CPU in float32 torch.nn.LSTM runs
    oneDNN's fused LSTM kernel; without it, its C++ loop of unfused operations (as our layer's)."""
    layer, impl, module, run = next(r for r in rows if r[1] == "torch.nn.LSTM")

    def run_unfused(x):
        with torch.backends.mkldnn.flags(enabled=False):
            return run(x)  # the backward follows the graph this forward built
    return [(layer, "torch.nn.LSTM, oneDNN off", module, run_unfused)]


def p2(quick: bool) -> dict:
    """Recurrent layers, forward+backward, per grid cell and device."""
    grid = [(4, 8, 16)] if quick else [(N, T, H) for N in (1, 32) for T in (25, 100)
                                       for H in (32, 64, 128, 256, 512)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    repeats, warmup, D = (2, 1, 8) if quick else (9, 2, 64)
    rows = []
    for device in devices:
        for N, T, H in grid:
            x = torch.randn(N, T, D, device=device, generator=None, requires_grad=True)
            layers = rnn_rows(D, H, device, torch.float32) + contenders(D, H, device, torch.float32)
            if device == "cpu":
                layers += onednn_off_row(layers)
            times = time_steps(layers, x, warmup, repeats)
            median = {(layer, impl): statistics.median(t) for (layer, impl, _, _), t in zip(layers, times)}
            for (layer, impl), sec in median.items():
                ref = median[(layer, f"torch.nn.{layer}")]
                rows.append({"device": device, "N": N, "T": T, "D": D, "H": H, "layer": layer,
                             "implementation": impl, "ms": 1e3 * sec, "x_torch_nn": sec / ref})
    return {"rows": rows, "peak_rss_mib": peak_rss_mib(), "repeats": repeats}


def points_graded_by_hand(course_root: Path, assignment: str) -> float:
    """Points of the manually graded answers (nbgrader solution + grade cells that are not code)."""
    import nbformat
    return sum(float(c.metadata["nbgrader"].get("points", 0))
               for nb in (course_root / "solutions" / assignment).glob("*.ipynb")
               for c in nbformat.read(nb, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")
               and c.cell_type == "markdown")


def p4(quick: bool) -> dict:
    """Seconds per solved submission, per assignment and worker count."""
    from course_lib import grading
    from course_lib.grading.batch import COURSE_ROOT
    assignments = ["rnn"] if quick else sorted(p.name for p in (COURSE_ROOT / "solutions").iterdir()
                                               if list(p.glob("*.ipynb")))
    n, worker_counts = (1, [1]) if quick else (4, [1, 2])
    rows, watch = [], DescendantPeak()
    watch.start()
    for assignment in assignments:
        scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
        try:
            grading.make_demo_submissions(COURSE_ROOT, scratch / "demo", assignment)
            for i in range(n):
                shutil.copytree(scratch / "demo" / "solved", scratch / "subs" / f"student{i:02d}")
            for workers in worker_counts:
                start, cpu_start = time.perf_counter(), machine_busy_s()
                results = grading.grade(scratch / "subs", scratch / f"work{workers}", assignment, workers=workers)
                wall, cpu = time.perf_counter() - start, machine_busy_s() - cpu_start
                by_hand = points_graded_by_hand(COURSE_ROOT, assignment)
                if not all(r.status == "graded" and r.score == r.max_score - by_hand for r in results):
                    raise RuntimeError(f"{assignment}: a solved submission did not get every autograded "
                                       f"point (max {by_hand} by hand): {results}")
                rows.append({"assignment": assignment, "workers": workers, "submissions": n,
                             "s_per_submission": wall / n, "cpu_s_per_submission": cpu / n})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    for row in rows:
        one = next(r for r in rows if r["assignment"] == row["assignment"] and r["workers"] == 1)
        row["speed_up"] = one["s_per_submission"] / row["s_per_submission"]
    watch.done.set()
    watch.join()
    return {"rows": rows, "peak_rss_mib_largest_worker": watch.peak_kib / 1024}


LOCAL_TABLES = {
    "p2": ("P2 recurrent layers (forward+backward)",
           "device N T H layer implementation ms ×torch.nn".split(),
           lambda r: [r["device"], r["N"], r["T"], r["H"], r["layer"], r["implementation"], f"{r['ms']:.2f}",
                      f"{r['x_torch_nn']:.2f}"],
           lambda s: f"Peak resident memory: {s['peak_rss_mib']:.0f} MiB."),
    "p4": ("P4 autograding (solved submissions)",
           "assignment workers s/submission machine_CPU_s/submission speed-up".split(),
           lambda r: [r["assignment"], r["workers"], f"{r['s_per_submission']:.1f}",
                      f"{r.get('cpu_s_per_submission', float('nan')):.1f}", f"{r['speed_up']:.2f}"],
           lambda s: f"Peak resident memory of the largest grading process (worker or kernel): {s['peak_rss_mib_largest_worker']:.0f} MiB."),
}


def section_table(name: str):
    """(title, columns, cells(row), closing(section)) of a section."""
    return LOCAL_TABLES[name] if SECTIONS[name] is None else importlib.import_module(SECTIONS[name]).TABLE


def markdown(results: dict) -> str:
    """One table per section, machine first."""
    m = results["machine"]
    lines = [f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
             f"torch {m['torch']} ({m['torch_threads']} threads), NumPy {m['numpy']}"
             f"{', ' + m['cuda'] if m['cuda'] else ''}{'; quick mode' if results['quick'] else ''}.", ""]
    for name in SECTIONS:
        if name not in results:
            continue
        title, columns, cells, closing = section_table(name)
        header = [c.replace("_", " ").replace("×", "× ") for c in columns]
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in cells(r)) + " |" for r in results[name]["rows"]]
        lines += ["", closing(results[name]), f"Section time: {results[name]['seconds']:.0f} s.", ""]
    return "\n".join(lines)


PAGE = ROOT / "book" / "performance.md"
PUBLISHED = ROOT / "benchmarks" / "results" / "latest.json"


def write(results: dict, out: Path, stem: str) -> None:
    """out/<stem>.json and out/<stem>.md; the published results also stamp the Performance page."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(results) + "\n")
    if (out / f"{stem}.json").resolve() == PUBLISHED.resolve():
        stamp_page(PUBLISHED, PAGE)


def stamp_page(results_json: Path, page: Path) -> None:
    """Write the results' digest into the page, so that the book re-executes it (its cache is keyed
    on the page's code) and the page can refuse results it was not written for."""
    digest = hashlib.sha256(results_json.read_bytes()).hexdigest()
    text, n = re.subn(r'^RESULTS_SHA256 = "[^"]*"$', f'RESULTS_SHA256 = "{digest}"', page.read_text(), flags=re.M)
    if n != 1:
        raise RuntimeError(f"{page} should hold one line RESULTS_SHA256 = \"...\" (found {n}): restore it.")
    page.write_text(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections out of {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--text", type=Path, default=None,
                        help="p1's training text (default: the offline corpus of Chapter 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}, "
                     f"e.g. --only p1,p2")
    if args.text is not None and not args.text.is_file():
        parser.error(f"--text {args.text}: no such file. Give a UTF-8 text file (a few hundred kB or more).")
    # nbgrader runs `alembic` from PATH: the venv's bin first, as the Makefile does.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    torch.manual_seed(0)
    stem = "quick" if args.quick else "latest"
    results = {"machine": machine(), "quick": args.quick}
    previous = args.out / f"{stem}.json"
    if only != list(SECTIONS) and previous.exists():  # a subset: keep the other sections of the last run
        kept = json.loads(previous.read_text())
        results |= {name: kept[name] for name in SECTIONS if name in kept and name not in only}
    for name in only:
        start = time.perf_counter()
        if SECTIONS[name] is None:
            results[name] = globals()[name](args.quick)
        elif name == "p1":
            results[name] = importlib.import_module(SECTIONS[name]).run(args.quick, text_path=args.text)
        else:
            results[name] = importlib.import_module(SECTIONS[name]).run(args.quick)
        results[name]["seconds"] = time.perf_counter() - start
        results[name]["measured"] = machine()["date"]
        print(f"{name}: done in {results[name]['seconds']:.0f} s", flush=True)
        write(results, args.out, stem)  # after every section: a later failure loses nothing
    print(markdown(results))
    print(f"written: {args.out / (stem + '.json')} and {stem}.md")


if __name__ == "__main__":
    main()
