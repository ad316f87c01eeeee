"""Turning the records of stand-alone benchmark scripts into topic results.

``inprocess.py`` (workload 8) predates the suite and writes its own JSON;
its figures become series here, and its headline ratio (a sync no-op
invocation over a bare thread round trip, both in the same process and run)
a ratio.
"""

from __future__ import annotations

from typing import Any

from .results import Ratio, Series, TopicResult

__all__ = ("from_inprocess",)

WORKLOAD = "8 in-process"
_CASES = {
    "bare_thread": "bare thread round trip (anyio.to_thread.run_sync)",
    "sync_noop": "invoke→result, sync noop (thread pool)",
    "async_noop": "invoke→result, async noop (event loop)",
}


def from_inprocess(record: dict[str, Any]) -> TopicResult:
    """Series and ratios from ``inprocess.py --json``'s record.

    It reports a median and a min-max spread per case rather than every
    repeat, so the series carry those three values as their samples.
    """
    result = TopicResult(
        "inprocess",
        parameters={"count": record.get("count"), "repeats": record.get("repeats")},
    )
    figures: dict[str, Any] = record.get("results", {})
    for key, figure in figures.items():
        samples = [figure["min_us"], figure["median_us"], figure["max_us"]]
        result.add(
            Series(
                WORKLOAD,
                _CASES.get(key, key),
                "ours",
                "per call",
                "µs",
                samples,
                note="min, median, max of the script's repeats",
            )
        )
    bare = figures.get("bare_thread", {}).get("median_us")
    for key in ("sync_noop", "async_noop"):
        if bare and key in figures:
            result.ratios.append(
                Ratio(
                    f"in-process {key.replace('_', ' ')} / bare thread round trip",
                    [figures[key]["median_us"] / bare],
                    note="medians of the script's repeats",
                )
            )
    result.notes.append(
        "in-process figures come from benchmarks/inprocess.py, run as its own process"
    )
    return result
