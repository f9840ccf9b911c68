"""Interactive figures without a kernel: data precomputed on a grid, switched in the browser.

A page computes its figure's data for every combination of a few control values (the grid), and
``explorer`` turns it into one self-contained HTML block: native controls (a range slider per
numeric control, a drop-down per text control), the data as compact JSON, and a short inline
script that redraws SVG panels when a control moves. No kernel, server, library or network is
needed, so it works in the built book offline and in JupyterLab alike. Without the script
(JavaScript off, an untrusted notebook) the controls stay hidden and a note says why.

Arrays follow NumPy broadcasting against the grid. With controls of G1, ..., Gc values:
- a series' x and y have shape (G1, ..., Gc, P), P points; an axis the data does not depend on
  may be 1, and leading axes may be left out (a fixed curve is just (P,)). NaN leaves a gap.
- a title or label is a string or an array of strings of shape (G1, ..., Gc), broadcast alike.
Numbers are stored to 4 significant digits.
"""
import html
import json
import math
import numbers
import uuid
from dataclasses import dataclass

import numpy as np

STYLES = ("line", "dash", "dots")


@dataclass
class Series:
    """One curve ("line", "dash") or point cloud ("dots") of a panel; see the module docstring."""
    x: object
    y: object
    label: object = ""
    style: str = "line"
    color: str = "#1f77b4"


@dataclass
class Panel:
    """One plot: its series, labels, a log y axis or not, equal x and y scales or not."""
    series: list
    title: object = ""
    xlabel: str = ""
    ylabel: str = ""
    logy: bool = False
    square: bool = False


def _grid_shaped(a, grid_shape, extra: int, what: str) -> np.ndarray:
    """a as an array of shape grid_shape (with 1 allowed per axis) plus `extra` trailing axes."""
    a = np.asarray(a)
    ndim = len(grid_shape) + extra
    if a.ndim > ndim or (extra and a.ndim == 0):
        raise ValueError(f"{what} has shape {a.shape}; expected {ndim} axes or fewer: the grid "
                         f"{grid_shape}{' then the points' if extra else ''}.")
    a = a.reshape((1,) * (ndim - a.ndim) + a.shape)
    if any(n not in (1, g) for n, g in zip(a.shape, grid_shape)):
        raise ValueError(f"{what} has shape {a.shape}, which does not match the grid {grid_shape}: "
                         f"each of its first {len(grid_shape)} axes should be the control's size or 1.")
    return a


def _to_json(v) -> str:
    """Compact JSON: 4 significant digits, NaN and inf as null, trailing nulls of a list dropped."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        items = [_to_json(x) for x in v]
        while items and items[-1] == "null" and not isinstance(v[-1], (list, tuple)):
            items.pop()
        return "[" + ",".join(items) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_to_json(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (bool, str)) or v is None:
        return json.dumps(v, ensure_ascii=False)
    if not math.isfinite(v):
        return "null"
    return f"{v:.4g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _panel_data(panel: Panel, grid_shape, p: int) -> dict:
    if not panel.series:
        raise ValueError(f"panel {p} has no series; give at least one Series.")
    series = []
    for s, ser in enumerate(panel.series):
        what = f"panel {p}, series {s}"
        if ser.style not in STYLES:
            raise ValueError(f"{what}: style should be one of {STYLES}, got {ser.style!r}.")
        x = _grid_shaped(np.asarray(ser.x, dtype=float), grid_shape, 1, f"{what}: x")
        y = _grid_shaped(np.asarray(ser.y, dtype=float), grid_shape, 1, f"{what}: y")
        if x.shape[-1] != y.shape[-1]:
            raise ValueError(f"{what}: x has {x.shape[-1]} points and y has {y.shape[-1]}; "
                             "they should have the same number (pad with NaN).")
        label = _grid_shaped(np.asarray(ser.label, dtype=str), grid_shape, 0, f"{what}: label")
        series.append(dict(x=x, y=y, label=label, style=ser.style, color=ser.color))
    title = _grid_shaped(np.asarray(panel.title, dtype=str), grid_shape, 0, f"panel {p}: title")
    return dict(series=series, title=title, xlabel=panel.xlabel, ylabel=panel.ylabel,
                logy=panel.logy, square=panel.square)


def _control_html(uid: str, c: int, name: str, label: str, values: list, start: int) -> str:
    tag = f'id="{uid}-c{c}" data-control="{html.escape(name)}"'
    label = f'<label style="margin-right:1.5em;white-space:nowrap">{html.escape(label)} '
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):  # a slider over the indices
        return (f'{label}<input type="range" {tag} min="0" max="{len(values) - 1}" step="1" value="{start}"> '
                f"<output>{values[start]:g}</output></label>")
    options = "".join(f'<option value="{i}"{" selected" if i == start else ""}>{html.escape(str(v))}</option>'
                      for i, v in enumerate(values))
    return f"{label}<select {tag}>{options}</select></label>"


def _html(uid: str, controls: str, names: str, data_json: str) -> str:
    """The block: a note the script removes, hidden controls it shows, the data, the script."""
    safe_json = data_json.replace("</", "<\\/")  # no "</script>" inside the data
    return (f'<div class="explorer" id="{uid}">'
            f'<p class="explorer-note">An interactive figure ({html.escape(names)}) is drawn here by a '
            "small script in the page. It did not run: JavaScript is off, or the notebook is not "
            "trusted (run the cell).</p>"
            f'<div class="explorer-controls" hidden>{controls}</div>'
            '<div class="explorer-panels" style="display:flex;flex-wrap:wrap"></div>'
            f'<script type="application/json">{safe_json}</script>'
            f"<script>{_SCRIPT.replace('UID', uid)}</script></div>")


class Explorer:
    """The HTML block of ``explorer``; Jupyter and Jupyter Book display it through _repr_html_."""

    def __init__(self, html_text: str, data_json: str, summary: str):
        self.html, self.data_json, self.summary = html_text, data_json, summary

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # text/plain: what a PDF or a terminal shows
        return self.summary


def explorer(controls: dict, panels: list, default: dict | None = None) -> Explorer:
    """An interactive figure over a grid of control values, for Jupyter and the built book.

    Inputs:
    - controls: {name: (label, values)}, in grid order; numeric values give a slider, others a
      drop-down; the grid has shape (len(values) for each control)
    - panels: list of Panel, whose arrays broadcast against the grid (module docstring)
    - default: {name: value} of the setting shown first (each control's first value if absent)
    Returns an Explorer, displayed as a self-contained <div> (its .html) with a unique id.
    """
    if not controls:
        raise ValueError("explorer needs at least one control: controls={name: (label, values)}.")
    grid_shape, start = [], []
    for name, (label, values) in controls.items():
        if len(values) == 0:
            raise ValueError(f"control {name!r} has no values; give at least one.")
        value = (default or {}).get(name, values[0])
        if value not in list(values):
            raise ValueError(f"default {name}={value!r} is not one of the control's values {list(values)}.")
        grid_shape.append(len(values))
        start.append(list(values).index(value))
    grid_shape = tuple(grid_shape)
    data = dict(controls=[dict(name=n, values=list(v)) for n, (_, v) in controls.items()],
                panels=[_panel_data(panel, grid_shape, p) for p, panel in enumerate(panels)])
    data_json = _to_json(data)
    uid = "explorer-" + uuid.uuid4().hex[:12]  # one per instance: two explorers on a page never clash
    inputs = " ".join(_control_html(uid, c, n, label, list(v), start[c])
                     for c, (n, (label, v)) in enumerate(controls.items()))
    names = ", ".join(label for label, _ in controls.values())
    summary = f"Interactive figure over {names}: shown in the HTML book and in JupyterLab."
    return Explorer(_html(uid, inputs, names, data_json), data_json, summary)


_SCRIPT = r"""
(function () {
  var root = document.currentScript ? document.currentScript.parentNode : document.getElementById('UID');
  var data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  var inputs = root.querySelectorAll('[data-control]');
  var W = 360, H = 320, L = 64, R = 10, T = 28, B = 70;  // an SVG panel and its margins, in px
  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
  function tex(s) {  // x_k, x_{k+1}, x^k as SVG sub- and superscripts
    return esc(s).replace(/([_^])(?:\{([^}]*)\}|(\w+))/g, function (_, op, a, b) {
      return '<tspan baseline-shift="' + (op === '_' ? 'sub' : 'super') + '" font-size="10">' + (a || b) + '</tspan>';
    });
  }
  function el(tag, attrs, inner) {  // '<tag k="v" ...>inner</tag>'
    var s = '<' + tag;
    for (var k in attrs) s += ' ' + k + '="' + attrs[k] + '"';
    return inner === undefined ? s + '/>' : s + '>' + inner + '</' + tag + '>';
  }
  function pick(a, idx) {  // the entry of a broadcast array for grid index idx
    for (var d = 0; d < idx.length; d++) a = a[a.length === 1 ? 0 : idx[d]];
    return a;
  }
  function fmt(v) {
    var big = Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3);
    return big ? v.toExponential(0) : String(+v.toPrecision(4));
  }
  function ticks(lo, hi, log) {  // [[value, label], ...]: decades on a log axis, 1-2-5 steps otherwise
    var out = [], v;
    if (log) {
      var every = Math.max(1, Math.ceil((Math.floor(hi) - Math.ceil(lo) + 1) / 6));
      for (v = Math.ceil(lo / every) * every; v <= hi; v += every) out.push([v, '10' + tex('^{' + v + '}')]);
      return out;
    }
    var raw = (hi - lo) / 5, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    var step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    for (v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push([v, fmt(Math.abs(v) < step * 1e-9 ? 0 : v)]);
    }
    return out;
  }
  function dash(style) { return style === 'dash' ? {'stroke-dasharray': '6 4'} : {}; }
  function draw(panel, idx) {  // one panel at grid index idx, as SVG markup
    var xs = [], ys = [];
    var sets = panel.series.map(function (s) {  // [[x, y or log10 y] or null (a gap), ...] per series
      var x = pick(s.x, idx), y = pick(s.y, idx), pts = [];
      for (var i = 0; i < Math.min(x.length, y.length); i++) {
        var ok = x[i] !== null && y[i] !== null && (!panel.logy || y[i] > 0);
        pts.push(ok ? [x[i], panel.logy ? Math.log10(y[i]) : y[i]] : null);
        if (ok) { xs.push(x[i]); ys.push(pts[i][1]); }
      }
      return pts;
    });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (panel.logy) { y0 = Math.floor(y0); y1 = Math.ceil(y1); }
    if (panel.square) { var m = 1.05 * Math.max(-x0, x1, -y0, y1); x0 = y0 = -m; x1 = y1 = m; }
    if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
    if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
    var w = W - L - R, h = H - T - B;
    if (panel.square) w = h = Math.min(w, h);
    function sx(v) { return (L + (v - x0) / (x1 - x0) * w).toFixed(1); }
    function sy(v) { return (T + h - (v - y0) / (y1 - y0) * h).toFixed(1); }
    var o = [el('text', {'class': 'title', x: L + w / 2, y: 18, 'text-anchor': 'middle', 'font-size': 14},
                tex(pick(panel.title, idx))),
             el('rect', {x: L, y: T, width: w, height: h, fill: 'none', stroke: '#444'})];
    ticks(x0, x1, false).forEach(function (t) {
      o.push(el('text', {x: sx(t[0]), y: T + h + 17, 'text-anchor': 'middle'}, t[1]));
    });
    ticks(y0, y1, panel.logy).forEach(function (t) {
      o.push(el('text', {x: L - 5, y: +sy(t[0]) + 4, 'text-anchor': 'end'}, t[1]));
    });
    o.push(el('text', {x: L + w / 2, y: T + h + 36, 'text-anchor': 'middle'}, tex(panel.xlabel)));
    o.push(el('text', {transform: 'translate(14,' + (T + h / 2) + ') rotate(-90)', 'text-anchor': 'middle'},
              tex(panel.ylabel)));
    var plot = [];  // clipped to the frame by a nested <svg>
    sets.forEach(function (pts, s) {
      var st = panel.series[s], d = '', pen = 'M';
      pts.forEach(function (p) {
        if (p && st.style === 'dots') {
          plot.push(el('circle', {'class': 'series-' + s, cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: st.color}));
        } else if (p) { d += pen + sx(p[0]) + ',' + sy(p[1]); pen = 'L'; } else pen = 'M';
      });
      if (st.style !== 'dots') {
        var line = {'class': 'series-' + s, d: d, fill: 'none', stroke: st.color, 'stroke-width': 1.5};
        plot.push(el('path', Object.assign(line, dash(st.style))));
      }
    });
    o.push(el('svg', {x: L, y: T, width: w, height: h, viewBox: [L, T, w, h].join(' ')}, plot.join('')));
    var lx = L, ly = T + h + 56;  // the legend: one row under the x label
    panel.series.forEach(function (st, s) {
      var label = pick(st.label, idx);
      if (!label) return;
      o.push(st.style === 'dots' ? el('circle', {cx: lx + 9, cy: ly - 4, r: 3, fill: st.color})
        : el('path', Object.assign({d: 'M' + lx + ',' + (ly - 4) + 'h18', stroke: st.color, 'stroke-width': 1.5},
                                   dash(st.style))));
      o.push(el('text', {'class': 'legend-' + s, x: lx + 24, y: ly}, tex(label)));
      lx += 40 + 7.5 * String(label).length;
    });
    return el('svg', {viewBox: '0 0 ' + W + ' ' + H, style: 'flex:1 1 300px;max-width:' + W + 'px',
                      'font-family': 'sans-serif', 'font-size': 13, role: 'img'}, o.join(''));
  }
  function update() {
    var idx = Array.prototype.map.call(inputs, function (input, c) {
      var i = +input.value, out = input.parentNode.querySelector('output');
      if (out) out.textContent = fmt(data.controls[c].values[i]);
      return i;
    });
    var svgs = data.panels.map(function (panel) { return draw(panel, idx); });
    root.querySelector('.explorer-panels').innerHTML = svgs.join('');
  }
  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener('input', update);
    input.addEventListener('change', update);
  });
  update();  // the first drawing; only then is the figure shown as interactive
  root.querySelector('.explorer-note').remove();
  root.querySelector('.explorer-controls').hidden = false;
})();
"""
