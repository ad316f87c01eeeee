"""Workload 5: SSE fan-out (``sse_fanout.py``), and property notifications side by side.

Run: ``python -m benchmarks.fanout [--quick]``.

First ``sse_fanout.measure``: our invocation firehose with 1, 100 and 1,000
subscribers (its own module, run as is). Then property-change fan-out on
both servers (``property_fanout.py``): ours over SSE, LabThings-FastAPI over
its websocket, to the same numbers of subscribers (a fresh server per repeat).
The target: on our firehose every subscriber gets every event, up to 1,000.
"""

from __future__ import annotations

import sys

from . import sse_fanout
from .property_fanout import property_fanout
from .results import Ratio, Series, Target, TopicResult
from .servers import Kind, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "5 fan-out, property changes"
INTERVAL = 0.01


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def _property_fanout(settings: Settings, result: TopicResult) -> list[str]:
    counts = settings.size((1, 100, 1000), (1, 10, 100))
    events = settings.size(100, 20)
    kinds: list[Kind] = ["ours", "labthings"] if settings.labthings else ["ours"]
    cases = {
        n: f"{n:,} subscriber{'s' * (n > 1)} x {events} writes, {INTERVAL * 1000:g} ms apart"
        for n in counts
    }
    for _ in range(settings.repeats):
        for kind in kinds:
            with serve(kind, settings.cpus) as server:
                for subscribers, case in cases.items():
                    run = await property_fanout(server.port, kind, subscribers, events, INTERVAL)
                    _add(
                        result,
                        case,
                        kind,
                        "delivered / expected",
                        "%",
                        100 * run.delivered_fraction,
                    )
                    _add(result, case, kind, "p50", "ms", run.p50 * 1000)
                    _add(result, case, kind, "p99", "ms", run.p99 * 1000)
    result.notes.append(
        "property fan-out: ours is SSE (GET /bench/value/events), LabThings-FastAPI its "
        "websocket (addPropertyObservation); latency from sending the PUT to the arrival"
    )
    return list(cases.values())


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
    cases = await _property_fanout(settings, result)
    result.ratios.insert(0, _every_event_ratio(result))
    most = cases[-1]
    result.ratios += [
        paired_ratio(
            f"property fan-out, {most}, delivered: ours / LabThings",
            result.find(most, "ours", "delivered / expected"),
            result.find(most, "labthings", "delivered / expected"),
        ),
        paired_ratio(
            f"property fan-out, {most}, p50: ours / LabThings",
            result.find(most, "ours", "p50"),
            result.find(most, "labthings", "p50"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("fanout", measure))
