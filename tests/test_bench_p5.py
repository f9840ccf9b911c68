"""P5 (benchmarks/p5_captioning.py) on its quick sizes: both recipes, 2 epochs on 64 images."""
import json
import sys

import pytest

from course_lib.caption_recipes import RECIPES


@pytest.fixture(scope="module")
def p5(root):
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import p5_captioning
        return p5_captioning
    finally:
        sys.path.remove(str(root / "benchmarks"))


@pytest.fixture(scope="module")
def section(p5):
    return p5.run(quick=True)


def test_time_to_a_level_is_the_first_epoch_at_or_above_it(p5):
    curve = [{"epoch": 1, "train_s": 1.5, "x": 0.1}, {"epoch": 2, "train_s": 3.0, "x": 0.5},
             {"epoch": 3, "train_s": 4.5, "x": 0.4}]
    assert p5.time_to(curve, "x", 0.45) == (3.0, 2)
    assert p5.time_to(curve, "x", 0.1) == (1.5, 1)
    assert p5.time_to(curve, "x", 0.6) == (None, None)


def test_each_recipe_has_a_curve_in_time_with_scores_in_range(section):
    assert [r["recipe"] for r in section["rows"]] == list(RECIPES)
    assert section["n_train_images"] == 64 and section["n_test_images"] == 32
    for row in section["rows"]:
        curve = section["curves"][row["recipe"]]
        assert [c["epoch"] for c in curve] == [1, 2] and row["epochs"] == 2
        seconds = [c["train_s"] for c in curve]
        assert 0 < seconds[0] < seconds[1] == row["train_s"]
        assert 0 <= curve[0]["train_cpu_s"] <= curve[1]["train_cpu_s"] == row["train_cpu_s"]
        assert all(0 <= c["bleu4"] <= 100 and 0 <= c["semantic"] <= 1 for c in curve)
        assert (row["final_bleu4"], row["final_semantic"]) == (curve[-1]["bleu4"], curve[-1]["semantic"])


def test_both_recipes_reach_the_common_level_by_their_last_epoch(section):
    for metric in ("bleu4", "semantic"):
        level = 0.9 * min(r[f"final_{metric}"] for r in section["rows"])
        assert section["levels"][metric] == pytest.approx(level)
        for row in section["rows"]:
            curve = section["curves"][row["recipe"]]
            first = next(c for c in curve if c[metric] >= level)
            reached = (row[f"s_to_{metric}_level"], row[f"epochs_to_{metric}_level"])
            assert reached == (first["train_s"], first["epoch"])
            assert row[f"s_to_{metric}_level"] <= row["train_s"]


def test_the_section_is_json_and_renders_as_a_table(section, p5):
    title, columns, cells, closing = p5.TABLE
    assert json.loads(json.dumps(section)) == section
    assert all(len(cells(r)) == len(columns) for r in section["rows"])
    assert "Levels: BLEU-4" in closing(section) and title.startswith("P5")
    assert section["peak_rss_mib"] > 50 and section["torch_threads"] == 1
