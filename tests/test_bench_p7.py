"""P7 (benchmarks/p7_cluster.py) on its quick size: one solved rnn submission, one worker, both paths."""
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def section(root):
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import p7_cluster
        return p7_cluster, p7_cluster.run(quick=True)
    finally:
        sys.path.remove(str(root / "benchmarks"))


def test_quick_run_grades_on_both_paths_and_reports_rates(section):
    p7, result = section
    row, = result["rows"]
    assert row["assignment"] == "rnn" and row["workers"] == 1 and row["submissions"] == 1
    assert row["workers_used"] == 1 and row["cluster_startup_s"] > 0
    for path in ("local", "cluster"):
        for run in ("cold", "warm"):
            assert row[f"{path}_{run}_per_min"] == pytest.approx(60 / row[f"{path}_{run}_s"])
    assert row["overhead_warm"] == pytest.approx(row["cluster_warm_s"] / row["local_warm_s"])
    title, columns, cells, closing = p7.TABLE
    assert title.startswith("P7") and len(cells(row)) == len(columns)
    assert "cores" in closing(result)
