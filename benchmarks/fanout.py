"""Workload 5: SSE fan-out (``sse_fanout.py``), and property notifications side by side.

Run: ``python -m benchmarks.fanout [--quick]``.

First ``sse_fanout.measure``: our invocation firehose with 1, 100 and 1,000
subscribers (its own module, run as is). Then property-change fan-out on
both servers (``property_fanout.py``): ours over SSE, LabThings-FastAPI over
its websocket, to the same numbers of subscribers (a fresh server per repeat).
The targets: on our firehose every subscriber gets every event, up to 1,000;
property changes at 1,000 subscribers no slower than LabThings' websocket.
"""

from __future__ import annotations

import sys

from . import property_fanout, sse_fanout
from .results import Ratio, Target, TopicResult
from .topic import Settings, run_topic

__all__ = ("measure",)


def _every_event_ratio(result: TopicResult) -> Ratio:
    """Delivered over expected on our firehose at its largest subscriber count."""
    firehose = [
        s
        for s in result.series
        if s.workload == sse_fanout.WORKLOAD and s.metric == "delivered / expected"
    ]
    if not firehose:
        return Ratio("SSE firehose: delivered / expected", [], Target(">=", 1.0), "not measured")
    largest = firehose[-1]
    return Ratio(
        f"SSE firehose, {largest.case}: delivered / expected",
        [value / 100 for value in largest.samples],
        Target(">=", 1.0),
    )


async def measure(settings: Settings, result: TopicResult) -> None:
    """The firehose fan-out, then property fan-out on both servers."""
    await sse_fanout.measure(settings, result)
    await property_fanout.measure(settings, result)
    result.ratios.insert(0, _every_event_ratio(result))


if __name__ == "__main__":
    sys.exit(run_topic("fanout", measure))
