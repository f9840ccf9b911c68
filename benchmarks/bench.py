"""`make bench`: the course's benchmarks, side by side, written as JSON and a Markdown table.

    .venv/bin/python benchmarks/bench.py [--only p2,p3,p4] [--quick] [--out benchmarks/results]

Sections (issue 12; P1 time-to-loss and P5 captioning are not written yet):
- p2 recurrent layers: forward+backward seconds of the course's equation-level RNN/LSTM/GRU and
  their fast paths against torch.nn, over a grid of (N, T, H); the ratio to torch.nn per cell.
- p3 book pages: each page executed in a fresh kernel (benchmarks/page_time.py) from an empty
  model cache; wall and CPU seconds, and the kernel's peak resident memory.
- p4 autograding: seconds per solved submission of each assignment with 1 and 2 workers.
Every section records the peak resident memory of what it ran (P6). This machine is shared:
compare the ratios measured in one run; absolute times are context, with the machine named.
--quick runs tiny sizes (the smoke test in `make test` uses it, so the benchmarks cannot rot).
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gated import contenders, time_steps  # noqa: E402
from course_lib.rnn import RNN, to_torch_rnn_state_dict  # noqa: E402

SECTIONS = ("p2", "p3", "p4")


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


def rnn_rows(D: int, H: int, device, dtype):
    """The vanilla RNN's rows in bench_gated's format: course layer against torch.nn.RNN."""
    ours = RNN(D, H, device=device, dtype=dtype, generator=torch.Generator().manual_seed(0))
    theirs = torch.nn.RNN(D, H, batch_first=True, device=device, dtype=dtype)
    theirs.load_state_dict(to_torch_rnn_state_dict(*(p.detach() for p in ours.parameters())))
    loss = lambda run: lambda x: (lambda h, h_T: h.sum() + h_T.sum())(*run(x))  # noqa: E731
    return [("RNN", "course forward", ours, loss(ours)), ("RNN", "torch.nn.RNN", theirs, loss(theirs))]


def p2(quick: bool) -> dict:
    """Recurrent layers, forward+backward, per grid cell and device."""
    grid = [(4, 8, 16)] if quick else [(N, T, H) for N in (1, 32) for T in (25, 100) for H in (64, 256)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    repeats, warmup, D = (2, 1, 8) if quick else (9, 2, 64)
    rows = []
    for device in devices:
        for N, T, H in grid:
            x = torch.randn(N, T, D, device=device, generator=None, requires_grad=True)
            layers = rnn_rows(D, H, device, torch.float32) + contenders(D, H, device, torch.float32)
            times = time_steps(layers, x, warmup, repeats)
            median = {(layer, impl): statistics.median(t) for (layer, impl, _, _), t in zip(layers, times)}
            for (layer, impl), sec in median.items():
                ref = next(v for (l2, i2), v in median.items() if l2 == layer and i2.startswith("torch.nn"))
                rows.append({"device": device, "N": N, "T": T, "D": D, "H": H, "layer": layer,
                             "implementation": impl, "ms": 1e3 * sec, "x_torch_nn": sec / ref})
    return {"rows": rows, "peak_rss_mib": peak_rss_mib(), "repeats": repeats}


def book_pages() -> list[Path]:
    """The book's pages in _toc.yml order."""
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            order.append(entry["file"])
            walk(entry.get("sections"))
    walk(toc.get("chapters"))
    return [ROOT / f"{name}.md" for name in order]


def p3(quick: bool) -> dict:
    """Every page in a fresh kernel, from an empty model cache; one child process per page."""
    import subprocess
    pages = [ROOT / "book" / "intro.md"] if quick else book_pages()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        env = {**os.environ, "COURSE_CACHE": cache}
        for page in pages:
            code = ("import resource, sys; sys.path.insert(0, 'benchmarks'); from page_time import run; "
                    f"w, c = run(__import__('pathlib').Path({str(page)!r}), 900); "
                    "print(w, c, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
            out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                 text=True, check=True).stdout.split()
            rows.append({"page": page.relative_to(ROOT).as_posix(), "wall_s": float(out[-3]),
                         "cpu_s": float(out[-2]), "kernel_peak_rss_mib": float(out[-1])})
    return {"rows": rows, "total_wall_s": sum(r["wall_s"] for r in rows),
            "total_cpu_s": sum(r["cpu_s"] for r in rows)}


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
    rows = []
    for assignment in assignments:
        scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
        try:
            grading.make_demo_submissions(COURSE_ROOT, scratch / "demo", assignment)
            for i in range(n):
                shutil.copytree(scratch / "demo" / "solved", scratch / "subs" / f"student{i:02d}")
            for workers in worker_counts:
                start = time.perf_counter()
                results = grading.grade(scratch / "subs", scratch / f"work{workers}", assignment, workers=workers)
                wall = time.perf_counter() - start
                by_hand = points_graded_by_hand(COURSE_ROOT, assignment)
                if not all(r.status == "graded" and r.score == r.max_score - by_hand for r in results):
                    raise RuntimeError(f"{assignment}: a solved submission did not get every autograded "
                                       f"point (max {by_hand} by hand): {results}")
                rows.append({"assignment": assignment, "workers": workers, "submissions": n,
                             "s_per_submission": wall / n})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    for row in rows:
        one = next(r for r in rows if r["assignment"] == row["assignment"] and r["workers"] == 1)
        row["speed_up"] = one["s_per_submission"] / row["s_per_submission"]
    return {"rows": rows, "peak_rss_mib_largest_worker": peak_rss_mib(resource.RUSAGE_CHILDREN)}


def markdown(results: dict) -> str:
    """One table per section, machine first."""
    m = results["machine"]
    lines = [f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
             f"torch {m['torch']} ({m['torch_threads']} threads), NumPy {m['numpy']}"
             f"{', ' + m['cuda'] if m['cuda'] else ''}{'; quick mode' if results['quick'] else ''}.", ""]
    # (section, title, columns, one row's cells, the closing line)
    tables = [
        ("p2", "P2 recurrent layers (forward+backward)", "device N T H layer implementation ms ×torch.nn",
         lambda r: [r["device"], r["N"], r["T"], r["H"], r["layer"], r["implementation"], f"{r['ms']:.2f}",
                    f"{r['x_torch_nn']:.2f}"],
         lambda s: f"Peak resident memory: {s['peak_rss_mib']:.0f} MiB."),
        ("p3", "P3 book pages (fresh kernel, empty model cache)", "page wall_s CPU_s kernel_peak_MiB",
         lambda r: [r["page"], f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}", f"{r['kernel_peak_rss_mib']:.0f}"],
         lambda s: f"Total: {s['total_wall_s']:.0f} s wall, {s['total_cpu_s']:.0f} s CPU."),
        ("p4", "P4 autograding (solved submissions)", "assignment workers s/submission speed-up",
         lambda r: [r["assignment"], r["workers"], f"{r['s_per_submission']:.1f}", f"{r['speed_up']:.2f}"],
         lambda s: f"Peak resident memory of the largest grading process: {s['peak_rss_mib_largest_worker']:.0f} MiB."),
    ]
    for name, title, columns, cells, closing in tables:
        if name not in results:
            continue
        header = [c.replace("_", " ").replace("×", "× ") for c in columns.split()]
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in cells(r)) + " |" for r in results[name]["rows"]]
        lines += ["", closing(results[name]), ""]
    return "\n".join(lines)


def write(results: dict, out: Path, stem: str) -> None:
    """out/<stem>.json and out/<stem>.md."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(results) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections out of {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)} "
                     f"(P1 and P5 are not written yet), e.g. --only p2,p4")
    # nbgrader runs `alembic` from PATH: the venv's bin first, as the Makefile does.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    torch.manual_seed(0)
    stem = "quick" if args.quick else "latest"
    results = {"machine": machine(), "quick": args.quick}
    for name in only:
        start = time.perf_counter()
        results[name] = globals()[name](args.quick)
        results[name]["seconds"] = time.perf_counter() - start
        print(f"{name}: done in {results[name]['seconds']:.0f} s", flush=True)
        write(results, args.out, stem)  # after every section: a later failure loses nothing
    print(markdown(results))
    print(f"written: {args.out / (stem + '.json')} and {stem}.md")


if __name__ == "__main__":
    main()
