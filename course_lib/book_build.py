"""Execute the book's pages in parallel into jupyter-book's execution cache, before the build.

``jupyter-book build`` (``execute_notebooks: cache``) executes the pages it finds out of date one
after the other, in one kernel at a time. On a machine with several cores most of them wait.
This module runs those pages first, ``jobs`` kernels at a time, and stores each executed notebook in
the same cache (``_build/.jupyter_cache``) under the same key the build computes (the code cells and
the kernel spec), so the build that follows finds every page executed and only renders.

A page that fails here is left out of the cache: the build executes it again and reports the error
the usual way. Pages that share a trained model are safe to run at the same time: the model cache
(``course_lib.model_cache``) lets one process train and the others wait for its file.

    python -m course_lib.book_build [--jobs N] [--root DIR]
"""
import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml

# Seconds each page took in a cold build on the reference machine (2 cores, beside the test suite).
# Long pages start first so that the short ones fill the gaps at the end; a page that trains a model
# another page needs starts before that page (gru_tasks before lstm_tasks, rnn_cells before
# rnn_charlm; captioning_attention trains its own model before it asks for captioning's, and so do
# seq2seq_attention, seq2seq_decoding and attention_cost in Chapter 7). Pages not listed start first.
EXPECTED_SECONDS = {
    "captioning_attention": 190, "captioning": 160, "linear_rnn_tasks": 150, "seq2seq_attention": 130,
    "gru_tasks": 120,
    "rnn_cells": 75, "seq2seq_decoding": 70, "attention_cost": 60, "seq2seq": 50,
    "lstm_tasks": 60, "variable_length": 30, "captioning_decoding": 30, "bptt_minchar": 28,
    "lstm_gradients": 23, "gradient_flow_clipping": 22, "gradient_flow": 21, "rnn_charlm": 20,
    "bptt_truncated": 16, "rnn": 8, "bptt": 8, "lstm": 8, "gru": 5, "performance": 5,
    "intro": 2, "using": 2, "notation": 1, "linear_rnn_scan": 30, "linear_rnn": 5, "linear_rnn_inference": 50,
}


def toc_pages(root: Path) -> list[Path]:
    """The source files of every page in ``_toc.yml`` (root, chapters, sections, parts)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or ():
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", ()):
        walk(part.get("chapters"))
    return [root / f"{name}.md" for name in names]


def read_page(path: Path) -> nbformat.NotebookNode:
    """The notebook myst-nb makes of a MyST markdown page (same code cells, same kernel spec)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig
    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), MdParserConfig(),
                                       add_source_map=True, path=path)


def _execute(path: str, timeout: int) -> tuple[str, float, str | None]:
    """Run one page in a fresh kernel (cwd: the page's folder, as the build does)."""
    from jupyter_cache.executors.utils import single_nb_execution
    notebook = read_page(Path(path))
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    return nbformat.writes(notebook), result.time, result.exc_string if result.err else None


def out_of_date(root: Path, cache) -> list[Path]:
    """Pages of the book whose code the execution cache has not seen, longest expected first."""
    stale = []
    for page in toc_pages(root):
        if not is_notebook(page):
            continue
        try:
            cache.match_cache_notebook(read_page(page))
        except KeyError:
            stale.append(page)
    return sorted(stale, key=lambda p: -EXPECTED_SECONDS.get(p.stem, 10_000))


def is_notebook(page: Path) -> bool:
    """A page with a jupytext/kernelspec header is executed; plain markdown is not."""
    from myst_nb.core.read import is_myst_markdown_notebook
    return is_myst_markdown_notebook(page.read_text(encoding="utf-8"))


def execute_book(root: Path, jobs: int, timeout: int = 600) -> int:
    """Execute the out-of-date pages ``jobs`` at a time; returns how many failed."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    cache = get_cache(str(root / "_build" / ".jupyter_cache"))
    os.environ.setdefault("COURSE_PROGRESS", "0")  # no progress-bar widgets in static pages (course_lib.progress)
    pages = out_of_date(root, cache)
    print(f"book_build: {len(pages)} page(s) to execute, {jobs} at a time", flush=True)
    failed = 0
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_execute, str(page), timeout): page for page in pages}
        for future in as_completed(futures):
            page = futures[future]
            text, seconds, error = future.result()
            if error is not None:
                failed += 1
                print(f"book_build: {page.name} failed after {seconds:.0f} s; the build will run "
                      f"it again and report the error", flush=True)
                continue
            cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), str(page),
                                                      data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            print(f"book_build: {page.name} executed in {seconds:.1f} s "
                  f"(at {time.perf_counter() - start:.0f} s)", flush=True)
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course checkout (holds _toc.yml)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="kernels at a time (default: 2, or 1 on a single core)")
    args = parser.parse_args(argv)
    if not (args.root / "_toc.yml").is_file():
        parser.error(f"{args.root} has no _toc.yml: run this from the course checkout or pass --root")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    execute_book(args.root.resolve(), args.jobs)
    return 0  # failures are reported again, with their traceback, by the build that follows


if __name__ == "__main__":
    sys.exit(main())
