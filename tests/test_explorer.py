"""course_lib.explorer: the HTML it writes, the data it embeds, and the figure in a real browser.

The browser tests open the explorer from file:// in headless Chromium (tests/browser.py), move
every control as a reader would, and compare the drawn points with coordinates computed here from
the numbers put in (the axes span the data: linear axes from its minimum to its maximum, a log
axis from the decade below to the decade above).
"""
import json
import re

import numpy as np
import pytest

from browser import console, make_driver, missing
from course_lib.explorer import Panel, Series, explorer

A_VALUES, KINDS, P = [1.0, 2.0, 3.0], ["up", "down"], 5  # grid (3, 2), 5 points per curve
X = np.arange(P, dtype=float)                                     # (P,): the same x everywhere


def curves() -> np.ndarray:
    """y (3, 2, P): a * x for "up", a * (4 - x) for "down"; the last curve is one point short."""
    a = np.array(A_VALUES)[:, None, None]
    y = np.stack([a[:, 0] * X, a[:, 0] * (4 - X)], axis=1) + 0.123456
    y[2, 1, -1] = np.nan
    return y


def make(**default):
    decades = np.array([0.02, 1.0, 10.0, 500.0])                     # log axis: whole decades, 1e-2 to 1e3
    return explorer(
        {"a": ("slope a", A_VALUES), "kind": ("kind", KINDS)},
        [Panel([Series(X, curves(), [[f"a = {a:g}, {k}" for k in KINDS] for a in A_VALUES]),
                Series([0.0, 4.0], [0.0, 1.0], "fixed", "dash", "black")],
               title=np.array([f"slope {a:g}" for a in A_VALUES])[:, None], xlabel="x", ylabel="y"),
         Panel([Series(np.array(A_VALUES)[:, None, None] * [1.0, 2.0, 3.0, 4.0], decades, "dots", "dots")],
               title="log panel", logy=True)],
        default=default or None)


def embedded(ex) -> dict:
    m = re.search(r'<script type="application/json">(.*?)</script>', ex.html, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def padded(nested, shape) -> np.ndarray:
    """Nested lists as stored (null: NaN, trailing nulls dropped) back to an array of `shape`."""
    out = np.full(shape, np.nan)
    for index in np.ndindex(shape[:-1]):
        row = nested
        for i in index:
            row = row[i]
        out[index][:len(row)] = [np.nan if v is None else v for v in row]
    return out


def test_html_is_self_contained_and_hidden_until_the_script_runs():
    html = make().html
    assert not re.search(r"(?i)https?:|//cdn|\bsrc=|\bhref=|<link|@import|url\(", html), "loads something"
    assert re.search(r'<div class="explorer-controls" hidden>', html), "controls visible without the script"
    assert "explorer-note" in html and "JavaScript" in html
    assert html.count('type="range"') == 1 and html.count("<select") == 1 and html.count("<option") == 2
    assert "Interactive figure" in repr(make())  # what a PDF shows instead of the HTML


def test_every_instance_has_its_own_ids():
    first, second = make().html, make().html
    ids = [re.findall(r'\bid="([^"]+)"', h) for h in (first, second)]
    root = [i[0] for i in ids]
    assert root[0] != root[1]
    assert not set(ids[0]) & set(ids[1]), "two explorers on one page would share an id"
    assert all(i.startswith(r) for r, i_s in zip(root, ids) for i in i_s)


def test_embedded_data_round_trips_to_4_significant_digits():
    data = embedded(make())
    assert [c["values"] for c in data["controls"]] == [A_VALUES, KINDS]
    line, dashed = data["panels"][0]["series"]
    np.testing.assert_allclose(padded(line["y"], (3, 2, P)), curves(), rtol=5e-4)
    assert np.isnan(padded(line["y"], (3, 2, P))[2, 1, -1]) and len(line["y"][2][1]) == P - 1
    np.testing.assert_array_equal(padded(line["x"], (1, 1, P)), X[None, None])
    assert line["y"][0][0][1] == 1.123                     # 1.123456 kept to 4 significant digits
    assert line["label"] == [["a = 1, up", "a = 1, down"], ["a = 2, up", "a = 2, down"],
                             ["a = 3, up", "a = 3, down"]]
    assert dashed["label"] == [["fixed"]] and dashed["style"] == "dash"
    assert data["panels"][0]["title"] == [["slope 1"], ["slope 2"], ["slope 3"]]
    dots = data["panels"][1]["series"][0]
    np.testing.assert_allclose(padded(dots["x"], (3, 1, 4)), [[[1, 2, 3, 4]], [[2, 4, 6, 8]], [[3, 6, 9, 12]]])
    np.testing.assert_allclose(padded(dots["y"], (1, 1, 4)), [[[0.02, 1, 10, 500]]])


@pytest.mark.parametrize("controls, panels, match", [
    ({}, [], "at least one control"),
    ({"a": ("a", [])}, [], "control 'a' has no values"),
    ({"a": ("a", [1, 2, 3])}, [Panel([Series(X, np.ones((2, P)))])],
     r"y has shape \(2, 5\), which does not match the grid \(3,\)"),
    ({"a": ("a", [1, 2, 3])}, [Panel([Series(X, np.ones((3, 2, P)))])], r"y has shape \(3, 2, 5\); expected 2 axes"),
    ({"a": ("a", [1, 2, 3])}, [Panel([Series(X, np.ones((3, P - 1)))])], "x has 5 points and y has 4"),
    ({"a": ("a", [1, 2, 3])}, [Panel([Series(X, X, label=["u", "v"])])], r"label has shape \(2,\)"),
    ({"a": ("a", [1, 2, 3])}, [Panel([Series(X, X, style="bars")])], "style should be one of"),
    ({"a": ("a", [1, 2, 3])}, [Panel([])], "panel 0 has no series"),
])
def test_bad_input_says_what_was_expected(controls, panels, match):
    with pytest.raises(ValueError, match=match):
        explorer(controls, panels)


def test_a_default_that_is_not_on_the_grid_is_refused():
    with pytest.raises(ValueError, match=r"default a=2.5 is not one of the control's values \[1.0, 2.0, 3.0\]"):
        make(a=2.5)


# ---- in a real browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def driver():
    reason = missing()
    if reason:
        pytest.fail(reason)
    d = make_driver(1000, 800)
    yield d
    d.quit()


def open_page(driver, tmp_path, html, name="explorer.html"):
    page = tmp_path / name
    page.write_text(f"<!doctype html><meta charset='utf-8'><body>{html}</body>", encoding="utf-8")
    driver.get(page.as_uri())


SNAPSHOT = """
var svgs = document.querySelectorAll('.explorer-panels > svg'), frame = svgs[0].querySelector('rect');
return {d: svgs[0].querySelector('path.series-0').getAttribute('d'),
        title: svgs[0].querySelector('text.title').textContent, legend: svgs[0].querySelector('text.legend-0').textContent,
        box: ['x', 'y', 'width', 'height'].map(function (k) { return +frame.getAttribute(k); }),
        logbox: ['x', 'y', 'width', 'height'].map(function (k) { return +svgs[1].querySelector('rect').getAttribute(k); }),
        dots: Array.prototype.map.call(svgs[1].querySelectorAll('circle.series-0'), function (c) { return [+c.getAttribute('cx'), +c.getAttribute('cy')]; }),
        outputs: Array.prototype.map.call(document.querySelectorAll('.explorer output'), function (o) { return o.textContent; })};
"""


def move(driver, control: int, value: int):
    driver.execute_script("var el = document.querySelectorAll('[data-control]')[arguments[0]];"
                          "el.value = arguments[1]; el.dispatchEvent(new Event(arguments[2]));",
                          control, value, "input" if control == 0 else "change")
    return driver.execute_script(SNAPSHOT)


def points(d: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in re.findall(r"[ML]([-\d.]+,[-\d.]+)", d)])


def expected_points(y, box) -> np.ndarray:
    """Where the data (X, y) must land: linear axes spanning the data of the panel (both series),
    as stored (4 significant digits), to the 0.1 px the path is written with."""
    y = np.array([float(f"{v:.4g}") for v in y])
    x_lo, x_hi = 0.0, 4.0
    y_lo, y_hi = min(np.nanmin(y), 0.0), max(np.nanmax(y), 1.0)          # the fixed dashed line spans 0 .. 1
    bx, by, bw, bh = box
    ok = ~np.isnan(y)
    return np.stack([bx + (X[ok] - x_lo) / (x_hi - x_lo) * bw, by + bh - (y[ok] - y_lo) / (y_hi - y_lo) * bh], 1)


def test_every_control_redraws_the_figure_from_file_url(driver, tmp_path):
    open_page(driver, tmp_path, make(a=2.0, kind="up").html)
    assert driver.find_element("css selector", ".explorer-controls").is_displayed()
    assert not driver.find_elements("css selector", ".explorer-note"), "the 'did not run' note stayed"
    y = curves()
    shown = driver.execute_script(SNAPSHOT)
    assert (shown["title"], shown["legend"], shown["outputs"]) == ("slope 2", "a = 2, up", ["2"])
    np.testing.assert_allclose(points(shown["d"]), expected_points(y[1, 0], shown["box"]), atol=0.051)

    after_slider = move(driver, 0, 2)                                   # a = 3
    assert after_slider["d"] != shown["d"] and after_slider["title"] == "slope 3"
    assert after_slider["outputs"] == ["3"]
    np.testing.assert_allclose(points(after_slider["d"]), expected_points(y[2, 0], shown["box"]), atol=0.051)

    after_select = move(driver, 1, 1)                                   # kind = "down", one point short
    assert after_select["d"] != after_slider["d"] and after_select["legend"] == "a = 3, down"
    assert len(points(after_select["d"])) == P - 1
    np.testing.assert_allclose(points(after_select["d"]), expected_points(y[2, 1], shown["box"]), atol=0.051)

    bx, by, bw, bh = after_select["logbox"]                             # dots: x = 3 * (1, 2, 3, 4)
    log_y = np.log10([0.02, 1, 10, 500])                                # axis: decades -2 .. 3
    want = np.stack([bx + (3 * np.arange(1, 5) - 3) / 9 * bw, by + bh - (log_y + 2) / 5 * bh], 1)
    np.testing.assert_allclose(after_select["dots"], want, atol=0.051)
    errors = [e for e in console(driver) if e["level"] == "SEVERE"]
    assert not errors, errors


def test_without_its_script_the_figure_does_not_look_interactive(driver, tmp_path):
    html = make().html
    inert = html[:html.rindex("<script>")] + "</div>"                   # as in an untrusted notebook
    open_page(driver, tmp_path, inert, "inert.html")
    assert driver.find_element("css selector", ".explorer-note").is_displayed()
    assert not driver.find_element("css selector", "input[type=range]").is_displayed()
    assert not driver.find_element("css selector", "select").is_displayed()
    assert not driver.find_elements("css selector", ".explorer-panels svg")
