"""Workload 7: property GET latency (sequential) and throughput (64 clients).

Run: ``python -m benchmarks.property_reads [--quick]``.

``GET /bench/value`` (a plain data property) one at a time for p50 and p99,
then 64 closed-loop clients for requests per second and server CPU per
request. The floor is a hello-world GET on hypercorn.
"""

from __future__ import annotations

import sys

from .http_client import Connection
from .load import closed_loop, timed_calls
from .results import Series, TopicResult
from .servers import Kind, Server, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "7 property GET"
CONCURRENCY = 64
SEQUENTIAL = "GET, one client"
LOADED = f"GET, {CONCURRENCY} clients"


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def _run(server: Server, settings: Settings, result: TopicResult) -> None:
    target = server.thing_path if server.kind == "floor" else server.thing_path + "value"

    async def get(connection: Connection) -> object:
        reply = await connection.request("GET", target)
        if reply.status != 200:
            raise RuntimeError(f"GET {target} answered {reply.status}")
        return reply

    async with Connection(server.port) as connection:
        await timed_calls(lambda: get(connection), 50)
        durations = await timed_calls(lambda: get(connection), settings.size(1000, 100))
    for metric, q in (("p50", 50.0), ("p99", 99.0)):
        _add(result, SEQUENTIAL, server.kind, metric, "ms", percentile(durations, q) * 1000)
    seconds, warmup = settings.size((2.0, 0.5), (0.3, 0.1))
    loop = await closed_loop(
        server.port, CONCURRENCY, get, seconds=seconds, warmup=warmup, cpu=server.cpu_seconds
    )
    _add(result, LOADED, server.kind, "rate", "requests/s", loop.rate)
    _add(result, LOADED, server.kind, "server CPU/request", "µs", loop.cpu_per_operation * 1e6)


async def measure(settings: Settings, result: TopicResult) -> None:
    """Measure each server ``settings.repeats`` times, interleaved, on fresh servers."""
    kinds: list[Kind] = ["ours", "labthings", "floor"] if settings.labthings else ["ours", "floor"]
    for _ in range(settings.repeats):
        for kind in kinds:
            with serve(kind, settings.cpus) as server:
                await _run(server, settings, result)
    result.notes.append("the floor serves GET /hello (a constant), not a property")
    result.ratios += [
        paired_ratio(
            "property GET p50: ours / LabThings",
            result.find(SEQUENTIAL, "ours", "p50"),
            result.find(SEQUENTIAL, "labthings", "p50"),
        ),
        paired_ratio(
            f"property GET throughput at {CONCURRENCY}: ours / LabThings",
            result.find(LOADED, "ours", "rate"),
            result.find(LOADED, "labthings", "rate"),
        ),
        paired_ratio(
            f"server CPU per property GET at {CONCURRENCY}: ours / hello-world floor",
            result.find(LOADED, "ours", "server CPU/request"),
            result.find(LOADED, "floor", "server CPU/request"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("property_reads", measure))
