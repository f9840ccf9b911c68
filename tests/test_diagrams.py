"""course_lib.diagrams draws what it says: count the patches and texts on an Axes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from course_lib.diagrams import pattern, text_heatmap, unrolled


def count(ax, kind):
    return sum(isinstance(p, kind) for p in ax.patches)


@pytest.mark.parametrize("n, inputs, outputs, boxes, arrows", [
    (1, {0}, {0}, 3, 2),                         # one to one: x, h, y; x->h, h->y
    (4, {0}, {0, 1, 2, 3}, 9, 8),                # one to many: 4 h + 1 x + 4 y; 1 + 4 + 3
    (4, {0, 1, 2, 3}, {3}, 9, 8),                # many to one
    (7, {0, 1, 2, 3}, {4, 5, 6}, 14, 13),        # sequence to sequence: 7 h + 4 x + 3 y; 4 + 3 + 6
])
def test_pattern_draws_a_box_per_cell_and_an_arrow_per_connection(n, inputs, outputs, boxes, arrows):
    fig, ax = plt.subplots()
    pattern(ax, n, inputs, outputs, "title", "example")
    assert count(ax, FancyBboxPatch) == boxes
    assert count(ax, FancyArrowPatch) == arrows
    plt.close(fig)


def test_unrolled_draws_four_boxes_per_step():
    fig, ax = plt.subplots()
    unrolled(ax, steps=3)
    # per step f_W, x, y, L; then the total loss and W
    assert count(ax, FancyBboxPatch) == 3 * 4 + 2
    plt.close(fig)


def test_text_heatmap_puts_each_value_under_its_character():
    fig, ax = plt.subplots()
    text = "ab\nc d"
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])           # a, b, newline, c, space, d
    image = text_heatmap(ax, text, values, "t")
    grid = np.ma.filled(image.get_array().astype(float), np.nan)   # one column after the longest line
    np.testing.assert_array_equal(grid[0], [0.1, 0.2, 0.3, np.nan])
    np.testing.assert_array_equal(grid[1], [0.4, 0.5, 0.6, np.nan])
    assert sorted(t.get_text() for t in ax.texts) == ["a", "b", "c", "d"]   # spaces not drawn
    plt.close(fig)


def test_text_heatmap_needs_a_value_per_character():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one value per character"):
        text_heatmap(ax, "abc", [1.0, 2.0])
    plt.close(fig)
