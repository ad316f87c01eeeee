"""Workload 4: memory per retained finished invocation, and listing them.

Run: ``python -m benchmarks.retention [--quick]``.

A fresh server runs 200 warm-up noops, its resident memory (``VmRSS``) is
read, then noops are created (16 connections, POSTs back to back) until
10,000 are retained and memory is read again, and (ours) on to 100,000.
Memory per retained invocation is the growth over the count. Retention is
set high enough on both sides: ours ``retention=3600, max_retained=200000``;
LabThings-FastAPI keeps each for 300 s by default, longer than a run takes.
Then the latency of listing them: ours one page (``?limit=100``, newest
first) at 10,000 and 100,000, and all 10,000 (``?limit=10000``);
LabThings-FastAPI's list, which is always the full list, at 10,000.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from .http_client import Connection
from .invoking import FINISHED, InvocationRequestError, link, start
from .load import open_connections, timed_calls
from .results import Series, Target, TopicResult
from .servers import Kind, Server, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "4 retention"
CONNECTIONS = 16
WARMUP = 200


@dataclass(frozen=True)
class Listing:
    """A list request to time at a given size."""

    label: str
    target: str
    repeats: int


async def _create(server: Server, connections: list[Connection], count: int) -> float:
    """Create ``count`` noops; wait until they are finished; returns the creation rate."""
    path = server.thing_path + "noop"
    share, extra = divmod(count, len(connections))
    last: list[dict[str, object]] = []

    async def submit(connection: Connection, number: int) -> None:
        invocation = None
        for _ in range(number):
            while True:
                try:
                    invocation = await start(connection, path)
                    break
                except InvocationRequestError as error:
                    if error.reply.status != 503:
                        raise
                    await asyncio.sleep(0.01)  # Queue full: back off.
        if invocation is not None:
            last.append(invocation)

    begin = time.perf_counter()
    await asyncio.gather(*(submit(c, share + (i < extra)) for i, c in enumerate(connections)))
    rate = count / (time.perf_counter() - begin)
    # Noops finish in creation order, so once each client's last one has, all have.
    for invocation in last:
        target = link(invocation, "self")
        while True:
            reply = await connections[0].request("GET", target)
            if reply.json()["status"] in FINISHED:
                break
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # Let the server settle before its memory is read.
    return rate


async def _time_listing(connection: Connection, listing: Listing) -> tuple[float, int]:
    """p50 seconds of a list request, and the size of its body."""
    size = 0

    async def call() -> None:
        nonlocal size
        reply = await connection.request("GET", listing.target)
        if reply.status != 200:
            raise RuntimeError(f"GET {listing.target} answered {reply.status}")
        size = len(reply.body)

    await call()
    return percentile(await timed_calls(call, listing.repeats), 50), size


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def _run(server: Server, sizes: list[int], settings: Settings, result: TopicResult) -> None:
    connections = await open_connections(server.port, CONNECTIONS)
    try:
        await _create(server, connections, WARMUP)
        base = server.status().rss
        retained = 0
        for size in sizes:
            rate = await _create(server, connections, size - retained)
            retained = size
            case = f"{size:,} retained"
            _add(result, case, server.kind, "creation rate", "invocations/s", rate)
            growth = (server.status().rss - base) / size
            _add(result, case, server.kind, "RSS per retained invocation", "bytes", growth)
            for listing in _listings(server.kind, size, settings):
                latency, body = await _time_listing(connections[0], listing)
                _add(result, listing.label, server.kind, "p50", "ms", latency * 1000)
                _add(result, listing.label, server.kind, "body", "KiB", body / 1024)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))


def _listings(kind: Kind, size: int, settings: Settings) -> list[Listing]:
    if kind == "labthings":
        return [
            Listing(
                f"full list at {size:,} (LabThings' only list)",
                "/action_invocations",
                settings.size(10, 3),
            )
        ]
    out = [
        Listing(
            f"page of 100 at {size:,} (?limit=100)",
            "/action_invocations/?limit=100",
            settings.size(50, 10),
        )
    ]
    if size <= 10_000:
        out.append(
            Listing(
                f"full list at {size:,} (?limit={size})",
                f"/action_invocations/?limit={size}",
                settings.size(10, 3),
            )
        )
    return out


async def measure(settings: Settings, result: TopicResult) -> None:
    """Fill each server, ``settings.repeats`` times on fresh servers."""
    small, large = settings.size((10_000, 100_000), (1_000, 5_000))
    options = {"retention": 3600, "max_retained": 2 * large}
    result.parameters.update(sizes=[small, large], options=options)
    for _ in range(settings.repeats):
        with serve("ours", settings.cpus, options=options) as server:
            await _run(server, [small, large], settings, result)
        if settings.labthings:
            with serve("labthings", settings.cpus) as server:
                await _run(server, [small], settings, result)
    if settings.labthings:
        result.notes.append(
            f"LabThings-FastAPI is filled to {small:,} only: every POST scans every retained "
            "invocation for expiry (actions.py expire_invocations), so filling grows "
            "quadratically (see its creation rate)"
        )
    result.ratios += [
        paired_ratio(
            f"RSS per retained invocation at {small:,}: ours / LabThings",
            result.find(f"{small:,} retained", "ours", "RSS per retained invocation"),
            result.find(f"{small:,} retained", "labthings", "RSS per retained invocation"),
            Target("<=", 0.25),
        ),
        paired_ratio(
            f"LabThings full list at {small:,} / ours page of 100 at {large:,}",
            result.find(f"full list at {small:,} (LabThings' only list)", "labthings", "p50"),
            result.find(f"page of 100 at {large:,} (?limit=100)", "ours", "p50"),
            Target(">=", 100.0),
        ),
        paired_ratio(
            f"full list at {small:,}: LabThings / ours (?limit={small})",
            result.find(f"full list at {small:,} (LabThings' only list)", "labthings", "p50"),
            result.find(f"full list at {small:,} (?limit={small})", "ours", "p50"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("retention", measure))
