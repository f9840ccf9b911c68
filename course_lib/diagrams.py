"""Drawing helpers for the book's diagrams: boxes and arrows, sequence patterns, text heatmaps.

Nothing here is course material; the pages import these so that their figure cells show only what
is drawn, not how. Every function draws on a matplotlib Axes ``ax`` that the caller creates.
"""
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# Colours of the diagrams: input, hidden state, output, encoder state, loss.
COLOURS = {"x": "#f4a6a6", "h": "#a8d8a8", "y": "#a6c8f4", "enc": "#cfe8cf", "loss": "#f0e0a0",
           "W": "#d9c2f0"}


def box(ax, x: float, y: float, label: str, colour: str, w: float = 0.7, h: float = 0.55,
        fontsize: int = 11) -> None:
    """A rounded box of size (w, h) centred at (x, y), with ``label`` in its middle."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                fc=colour, ec="0.25", lw=1.2))
    ax.text(x, y, label, ha="center", va="center", fontsize=fontsize)


def arrow(ax, start: tuple, end: tuple, style: str = "-|>", colour: str = "0.2", ls: str = "-",
          shrink: float = 17) -> None:
    """An arrow from ``start`` to ``end`` (data coordinates), cut ``shrink`` points short at both ends."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=colour,
                                 lw=1.2, ls=ls, shrinkA=shrink, shrinkB=shrink))


def pattern(ax, n: int, inputs, outputs, title: str, example: str, encoder=()) -> None:
    """An input/output pattern of an RNN over ``n`` steps, one column per step.

    Inputs:
    - n: number of steps (columns); each has a hidden-state box in the middle row
    - inputs, outputs: the steps (0..n-1) with an input box below / an output box above
    - title: drawn above; example: drawn below in italics
    - encoder: steps whose hidden state is drawn in the encoder's colour
    Draws n hidden boxes, one box and one arrow per input and per output, and n - 1 arrows that
    carry the state from step to step.
    """
    for t in range(n):
        box(ax, t, 1, "", COLOURS["enc"] if t in encoder else COLOURS["h"])
        if t in inputs:
            box(ax, t, 0, "", COLOURS["x"])
            arrow(ax, (t, 0), (t, 1))
        if t in outputs:
            box(ax, t, 2, "", COLOURS["y"])
            arrow(ax, (t, 1), (t, 2))
        if t > 0:
            arrow(ax, (t - 1, 1), (t, 1))
    ax.set_xlim(-0.7, max(n, 3) - 0.3)
    ax.set_ylim(-0.7, 2.9)
    ax.set_title(title, fontsize=11)
    ax.text((max(n, 3) - 1) / 2, -0.65, example, ha="center", va="top", fontsize=9, style="italic")
    ax.set_axis_off()


def unrolled(ax, steps: int = 4) -> None:
    """The unrolled RNN: h_0 -> f_W -> ... -> h_T, with inputs, outputs, losses and one shared W."""
    ax.text(0, 1, "$h_0$", ha="center", va="center", fontsize=13)
    for t in range(1, steps + 1):
        label = "T" if t == steps else str(t)
        box(ax, 2 * t, 1, "$f_W$", COLOURS["h"], w=0.9)
        box(ax, 2 * t, -0.3, f"$x_{{{label}}}$", COLOURS["x"])
        box(ax, 2 * t, 2.3, f"$y_{{{label}}}$", COLOURS["y"])
        box(ax, 2 * t, 3.5, f"$L_{{{label}}}$", COLOURS["loss"])
        arrow(ax, (2 * t, -0.3), (2 * t, 1))
        arrow(ax, (2 * t, 1), (2 * t, 2.3))
        arrow(ax, (2 * t, 2.3), (2 * t, 3.5))
        arrow(ax, (2 * t - 2, 1), (2 * t, 1), shrink=22)
        prev = "0" if t == 1 else ("T-1" if t == steps else str(t - 1))
        ax.text(2 * t - 1, 1.2, f"$h_{{{prev}}}$" if t > 1 else "", ha="center", fontsize=11)
        arrow(ax, (2 * t, 3.5), (steps + 1, 4.6), colour="0.5", shrink=14)
        arrow(ax, (2 * t - 0.6, -1.1), (2 * t - 0.3, 0.72), colour="tab:purple", ls="--", shrink=0)
    ax.plot([0.9, 2 * steps - 0.6], [-1.1, -1.1], color="tab:purple", ls="--", lw=1.2)
    ax.text(2 * steps + 1.2, 1, "$h_T$", ha="center", va="center", fontsize=13)
    arrow(ax, (2 * steps, 1), (2 * steps + 1.2, 1), shrink=22)
    box(ax, steps + 1, 4.6, "$L = \\sum_t L_t$", COLOURS["loss"], w=1.6)
    box(ax, 0.6, -1.1, "$W$", COLOURS["W"], w=0.6)
    ax.text(2 * steps - 1, 0.55, "…", fontsize=16, ha="center")
    ax.set_xlim(-0.6, 2 * steps + 1.8)
    ax.set_ylim(-1.7, 5.1)
    ax.set_axis_off()


def text_heatmap(ax, text: str, values, title: str | None = None, *, vmax: float = 1.0,
                 cmap: str = "coolwarm", fontsize: float = 8, title_loc: str = "left"):
    """Draw ``text`` as a grid of characters, each on a background coloured by its value.

    Inputs:
    - text: the characters, lines separated by '\\n'
    - values: one number per character of ``text`` (newlines included), of shape (len(text),)
      or longer (the rest is ignored); a newline's value colours the cell after its line's end
    - title: drawn above the grid (None: no title), at ``title_loc``
    - vmax: the colour scale runs from -vmax to vmax; cmap: its matplotlib colormap
    - fontsize: of the characters (spaces are not drawn)
    Returns the image (for a colorbar). Cells past the end of a line are blank.
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    if len(values) < len(text):
        raise ValueError(f"text_heatmap needs one value per character: {len(text)} characters, "
                         f"{len(values)} values.")
    lines = text.split("\n")
    grid = np.full((len(lines), max(len(line) for line in lines) + 1), np.nan)
    i = 0
    for r, line in enumerate(lines):
        row = line + "\n" if r < len(lines) - 1 else line
        grid[r, :len(row)] = values[i:i + len(row)]
        for c, ch in enumerate(line):
            if ch != " ":
                ax.text(c, r, ch, ha="center", va="center", family="monospace", fontsize=fontsize)
        i += len(row)
    image = ax.imshow(grid, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
    if title is not None:
        ax.set_title(title, fontsize=10, loc=title_loc)
    ax.set_xticks([])
    ax.set_yticks([])
    return image
