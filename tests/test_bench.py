"""`make bench` cannot rot: its quick mode runs every section on tiny sizes and writes what it says."""
import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def quick_results(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "benchmarks/bench.py", "--quick", "--out", str(out)],
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
        reference = [r for r in rows if r["layer"] == layer and r["implementation"].startswith("torch.nn")]
        assert len(reference) == 1 and reference[0]["x_torch_nn"] == 1.0
        assert all(r["ms"] > 0 and r["x_torch_nn"] > 0 for r in rows if r["layer"] == layer)
    assert "| cpu | 4 | 8 | 16 | LSTM | torch.nn.LSTM |" in table


def test_p3_and_p4_measure_time_and_memory(quick_results):
    results, table = quick_results
    page, = results["p3"]["rows"]
    assert page["page"] == "book/intro.md" and page["wall_s"] > 0 and page["kernel_peak_rss_mib"] > 10
    grading, = results["p4"]["rows"]
    assert grading["assignment"] == "rnn" and grading["workers"] == 1 and grading["s_per_submission"] > 0
    assert results["p4"]["peak_rss_mib_largest_worker"] > 10
    assert "## P4 autograding" in table


def test_unknown_section_is_refused_with_the_choices(root):
    proc = subprocess.run([sys.executable, "benchmarks/bench.py", "--only", "p9"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "choose from p2, p3, p4" in proc.stderr
