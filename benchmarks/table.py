"""Plain-text tables of results for the terminal (and for benchmarks/README.md).

Each series is one row: its median over the repeats, the spread from the
lowest to the highest repeat, and its unit. Ratios get a table of their own
with their targets and whether the median meets them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .results import Ratio, Series
from .stats import spread

__all__ = ("format_number", "ratio_table", "series_table")


def format_number(value: float) -> str:
    """A number with about three significant figures; ``—`` when unknown."""
    if not math.isfinite(value):
        return "—"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    if size == 0:
        return "0"
    return f"{value:.3g}"


def _spread_text(samples: Sequence[float]) -> str:
    _, low, high = spread(samples)
    if not math.isfinite(low):
        return ""
    return f"[{format_number(low)}-{format_number(high)}]"


def _render(header: Sequence[str], rows: Iterable[Sequence[str]], markdown: bool) -> str:
    rows = [list(row) for row in rows]
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(len(header))]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        ]
        return "\n".join(lines)
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def series_table(series: Sequence[Series], *, markdown: bool = False) -> str:
    """One row per series, grouped by workload in the order given."""
    header = ["workload", "case", "server", "metric", "median", "spread", "unit"]
    rows = []
    last = None
    for item in series:
        workload = item.workload if item.workload != last else ""
        last = item.workload
        rows.append(
            [
                workload,
                item.case,
                item.side,
                item.metric,
                format_number(item.median),
                _spread_text(item.samples),
                item.unit,
            ]
        )
    return _render(header, rows, markdown)


def ratio_table(ratios: Sequence[Ratio], *, markdown: bool = False) -> str:
    """One row per ratio: median, spread, target and verdict."""
    header = ["headline ratio", "median", "spread", "target", "verdict"]
    rows = []
    for ratio in ratios:
        met = ratio.met()
        verdict = {True: "met", False: "MISSED", None: "—"}[met]
        if not ratio.samples and ratio.note:
            verdict = ratio.note
        rows.append(
            [
                ratio.name,
                format_number(ratio.median),
                _spread_text(ratio.samples),
                str(ratio.target) if ratio.target else "",
                verdict,
            ]
        )
    return _render(header, rows, markdown)
