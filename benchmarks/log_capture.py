"""Workload 6: what capturing log lines costs, and fetching an invocation that has many.

Run: ``python -m benchmarks.log_capture [--quick]``.

Server CPU per captured line is the CPU of ``log_lines(1000)`` minus that of
``log_lines(0)``, over 1000, each invoked one after another and polled every
10 ms on both servers (so polling costs little and cancels out). Then the
last invocation with 1,000 lines is fetched (``GET`` its ``self`` link)
again and again: the body's size and the p50 time. Both servers keep the last
1,000 records of an invocation. Our ``labthings-async serve`` also echoes
Thing log records to its stderr (``logging.basicConfig(level=INFO)``); that
is part of what a user of the command pays, so it is included.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from .http_client import Connection
from .invoking import invoke_polling, link
from .load import timed_calls
from .results import Series, TopicResult
from .servers import Kind, Server, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "6 logging"
LINES = 1000
PER_LINE = f"log line captured (log_lines({LINES}) - log_lines(0))"
FETCH = f"GET an invocation with {LINES:,} log lines"


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def _cpu_per_invocation(
    server: Server, connection: Connection, lines: int, count: int
) -> tuple[float, dict[str, Any]]:
    path = server.thing_path + "log_lines"
    body = msgspec.json.encode({"n": lines})
    for _ in range(3):
        await invoke_polling(connection, path, body)
    before = server.cpu_seconds()
    invocation: dict[str, Any] = {}
    for _ in range(count):
        invocation = await invoke_polling(connection, path, body)
    return (server.cpu_seconds() - before) / count, invocation


async def _run(server: Server, settings: Settings, result: TopicResult) -> None:
    count = settings.size(30, 6)
    async with Connection(server.port) as connection:
        empty, _ = await _cpu_per_invocation(server, connection, 0, count)
        full, invocation = await _cpu_per_invocation(server, connection, LINES, count)
        _add(result, PER_LINE, server.kind, "server CPU/line", "µs", (full - empty) / LINES * 1e6)
        target = link(invocation, "self")
        size = 0
        kept = 0

        async def fetch() -> None:
            nonlocal size, kept
            reply = await connection.request("GET", target)
            size = len(reply.body)
            kept = len(reply.json()["log"])

        await fetch()
        latency = percentile(await timed_calls(fetch, settings.size(50, 10)), 50)
    _add(result, FETCH, server.kind, "p50", "ms", latency * 1000)
    _add(result, FETCH, server.kind, "body", "KiB", size / 1024)
    if kept != LINES:
        result.notes.append(f"{server.kind} kept {kept} of {LINES} log lines")


async def measure(settings: Settings, result: TopicResult) -> None:
    """Measure both servers ``settings.repeats`` times, on fresh servers."""
    kinds: list[Kind] = ["ours", "labthings"] if settings.labthings else ["ours"]
    for _ in range(settings.repeats):
        for kind in kinds:
            with serve(kind, settings.cpus) as server:
                await _run(server, settings, result)
    result.ratios += [
        paired_ratio(
            "server CPU per captured log line: ours / LabThings",
            result.find(PER_LINE, "ours", "server CPU/line"),
            result.find(PER_LINE, "labthings", "server CPU/line"),
        ),
        paired_ratio(
            f"fetching an invocation with {LINES:,} lines, p50: ours / LabThings",
            result.find(FETCH, "ours", "p50"),
            result.find(FETCH, "labthings", "p50"),
        ),
        paired_ratio(
            f"size of an invocation with {LINES:,} lines: ours / LabThings",
            result.find(FETCH, "ours", "body"),
            result.find(FETCH, "labthings", "body"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("log_capture", measure))
