"""Percentiles, medians and spreads of samples.

Every figure in the suite is measured several times; a figure is reported as
the median of its repeats with the lowest and highest repeat as its spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ("percentile", "spread")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(samples: Sequence[float]) -> tuple[float, float, float]:
    """Median, minimum and maximum of the finite samples (NaNs if there are none)."""
    finite = [value for value in samples if math.isfinite(value)]
    if not finite:
        return math.nan, math.nan, math.nan
    return statistics.median(finite), min(finite), max(finite)
