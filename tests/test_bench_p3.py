"""P3 (benchmarks/p3_book.py) on its quick book: one generated page that holds 64 MiB for 3 s."""
import json
import sys

import pytest


@pytest.fixture(scope="module")
def section(root):
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import p3_book
        return p3_book.run(quick=True), p3_book.TABLE
    finally:
        sys.path.remove(str(root / "benchmarks"))


def test_the_cold_build_executes_the_page_and_the_warm_one_does_not(section):
    s, _ = section
    page, = s["rows"]
    assert page["page"] == "book/bench_quick.md"
    assert page["execution_s"] >= 3.0           # the page sleeps 3 s
    assert s["cold_execution_s"] == page["execution_s"] and s["cold_wall_s"] > page["execution_s"]
    assert s["kernels_seen"] == 1 and s["warm_kernels_seen"] == 0
    assert 0 < s["warm_wall_s"] < s["cold_wall_s"]
    assert s["cold_cpu_s"] > 0 and s["warm_cpu_s"] > 0


def test_the_kernel_peak_memory_covers_what_the_page_holds(section):
    s, _ = section
    page, = s["rows"]
    assert page["kernel_peak_rss_mib"] >= 64    # the page holds 64 MiB
    assert s["max_kernel_peak_rss_mib"] == page["kernel_peak_rss_mib"]
    assert s["peak_rss_mib"] >= page["kernel_peak_rss_mib"] - 1  # ru_maxrss of the largest process


def test_the_section_is_json_and_renders_as_a_table(section):
    s, (title, columns, cells, closing) = section
    assert json.loads(json.dumps(s)) == s
    assert all(len(cells(r)) == len(columns) for r in s["rows"])
    assert "Cold build" in closing(s) and "warm rebuild" in closing(s) and title.startswith("P3")
    assert set(s["thread_env"]) >= {"COURSE_CPU_THREADS", "OMP_NUM_THREADS"}
