"""`make bench` cannot rot: its quick mode runs on tiny sizes and writes what it says.

P1, P3, P5 and P7 live in modules of their own (benchmarks/p1_charlm.py, p3_book.py, p5_captioning.py,
p7_cluster.py),
each run in quick mode by its own test file (tests/test_bench_p1.py, ...); here the driver runs P2
and P4 and checks that it can reach every section module.
"""
import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def quick_results(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "benchmarks/bench.py", "--quick", "--only", "p2,p4", "--out", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "quick.json").read_text()), (out / "quick.md").read_text()


def test_quick_run_records_the_machine(quick_results):
    results, _ = quick_results
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["torch"].startswith("2.") and machine["cpu"]
    assert results["quick"] is True


def test_p2_compares_every_layer_with_torch_nn(quick_results):
    results, table = quick_results
    rows = results["p2"]["rows"]
    assert {r["layer"] for r in rows} == {"RNN", "LSTM", "GRU"}
    for layer in ("RNN", "LSTM", "GRU"):
        reference = [r for r in rows if r["layer"] == layer and r["implementation"] == f"torch.nn.{layer}"]
        assert len(reference) == 1 and reference[0]["x_torch_nn"] == 1.0
        assert all(r["ms"] > 0 and r["x_torch_nn"] > 0 for r in rows if r["layer"] == layer)
    assert "| cpu | 4 | 8 | 16 | LSTM | torch.nn.LSTM |" in table


def test_p4_measures_time_and_memory(quick_results):
    results, table = quick_results
    grading, = results["p4"]["rows"]
    assert grading["assignment"] == "rnn" and grading["workers"] == 1 and grading["s_per_submission"] > 0
    assert grading["cpu_s_per_submission"] > 0
    assert results["p4"]["peak_rss_mib_largest_worker"] > 10
    assert "## P4 autograding" in table and "p3" not in results


def test_every_section_module_has_a_run_and_a_table(root):
    import importlib
    import inspect
    sys.path.insert(0, str(root / "benchmarks"))
    import bench
    assert set(bench.SECTIONS) == {"p1", "p2", "p3", "p4", "p5", "p7"}
    for name, module in bench.SECTIONS.items():
        title, columns, cells, closing = bench.section_table(name)
        assert title.startswith(name.upper()) and len(columns) >= 3 and callable(cells) and callable(closing)
        if module is not None:
            assert "quick" in inspect.signature(importlib.import_module(module).run).parameters


def test_unknown_section_is_refused_with_the_choices(root):
    proc = subprocess.run([sys.executable, "benchmarks/bench.py", "--only", "p9"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "choose from p1, p2, p3, p4, p5, p7" in proc.stderr


def test_stamp_page_writes_the_results_digest_and_refuses_a_page_without_its_line(root, tmp_path):
    import hashlib
    sys.path.insert(0, str(root / "benchmarks"))
    from bench import stamp_page
    results = tmp_path / "latest.json"
    results.write_text('{"machine": {}}\n')
    page = tmp_path / "performance.md"
    page.write_text('x = 1\nRESULTS_SHA256 = "old"\ny = 2\n')
    stamp_page(results, page)
    digest = hashlib.sha256(b'{"machine": {}}\n').hexdigest()
    assert page.read_text() == f'x = 1\nRESULTS_SHA256 = "{digest}"\ny = 2\n'
    page.write_text("no stamp here\n")
    with pytest.raises(RuntimeError, match="RESULTS_SHA256"):
        stamp_page(results, page)
