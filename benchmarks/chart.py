"""One PNG chart per run: a panel per workload and metric, and the headline ratios.

Each panel shows the median of every series as a bar, with the spread of its
repeats as an error bar, coloured by server. The last panel shows each
headline ratio against its target (log scale): green where the median meets
it, red where it does not, grey where there is no target.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # No display: render to files only.

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .results import Ratio, Series
from .stats import spread

__all__ = ("draw",)

COLOURS = {"ours": "#1f77b4", "labthings": "#ff7f0e", "floor": "#7f7f7f", "loadgen": "#2ca02c"}
COLUMNS = 3


def _panels(series: Sequence[Series]) -> list[tuple[str, list[Series]]]:
    panels: dict[tuple[str, str, str], list[Series]] = {}
    for item in series:
        if math.isfinite(item.median):
            panels.setdefault((item.workload, item.metric, item.unit), []).append(item)
    return [(f"{w}: {m} ({u})", items) for (w, m, u), items in panels.items()]


def _label(text: str, width: int = 44) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _draw_series(axes: Axes, title: str, items: list[Series]) -> None:
    medians, lows, highs = zip(*(spread(item.samples) for item in items), strict=True)
    positions = range(len(items))
    axes.barh(
        positions,
        medians,
        xerr=[
            [m - lo for m, lo in zip(medians, lows, strict=True)],
            [hi - m for m, hi in zip(medians, highs, strict=True)],
        ],
        color=[COLOURS.get(item.side, "#9467bd") for item in items],
        capsize=2,
    )
    axes.set_yticks(list(positions), [_label(f"{i.case} [{i.side}]") for i in items], fontsize=6)
    axes.invert_yaxis()
    axes.set_title(_label(title, 60), fontsize=8)
    axes.tick_params(axis="x", labelsize=6)
    if min(medians) > 0 and max(medians) / min(medians) > 50:
        axes.set_xscale("log")


def _draw_ratios(axes: Axes, ratios: Sequence[Ratio]) -> None:
    shown = [r for r in ratios if math.isfinite(r.median) and r.median > 0]
    if not shown:
        axes.set_axis_off()
        return
    colours = {True: "#2ca02c", False: "#d62728", None: "#9e9e9e"}
    positions = range(len(shown))
    axes.barh(positions, [r.median for r in shown], color=[colours[r.met()] for r in shown])
    for position, ratio in zip(positions, shown, strict=True):
        if ratio.target is not None:
            axes.plot([ratio.target.bound] * 2, [position - 0.4, position + 0.4], color="black")
    axes.set_xscale("log")
    axes.axvline(1.0, color="#555555", linewidth=0.5)
    axes.set_yticks(list(positions), [_label(r.name, 50) for r in shown], fontsize=6)
    axes.invert_yaxis()
    axes.set_title("headline ratios (black tick: target)", fontsize=8)
    axes.tick_params(axis="x", labelsize=6)


def draw(series: Sequence[Series], ratios: Sequence[Ratio], title: str, path: Path) -> Path:
    """Draw the chart and save it as a PNG at ``path``."""
    panels = _panels(series)
    rows = math.ceil(len(panels) / COLUMNS)
    heights = [
        max([len(items) for _, items in panels[row * COLUMNS : (row + 1) * COLUMNS]] + [3])
        for row in range(rows)
    ]
    heights.append(max(3, len(ratios)))
    figure = plt.figure(figsize=(COLUMNS * 7, sum(0.3 * h + 1.0 for h in heights)))
    grid = figure.add_gridspec(rows + 1, COLUMNS, height_ratios=heights)
    for index, (panel_title, items) in enumerate(panels):
        axes = figure.add_subplot(grid[index // COLUMNS, index % COLUMNS])
        _draw_series(axes, panel_title, items)
    _draw_ratios(figure.add_subplot(grid[rows, :]), ratios)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
