"""Workload 3: many slow invocations at once; time to all completed, threads, memory.

Run: ``python -m benchmarks.burst [--quick]``.

200 x ``sleep(1.0)`` are POSTed at once, each on its own connection, then the
client waits until none is unfinished. Time to all completed is the latest
``timeCompleted`` the server reports minus the moment the first POST was
sent (one machine, one clock). Threads and resident memory of the server are
sampled every 10 ms from ``/proc/PID/status``. Ours runs with the default
``max_threads`` (32: the rest wait as ``pending``, so it takes about 200/32 s)
and with ``max_threads=200``; LabThings-FastAPI starts a thread per
invocation. Then (ours only) 10,000 x ``async_sleep(1.0)``, POSTed over 100
connections: async actions take no thread at all.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from .http_client import Connection
from .invoking import FINISHED
from .load import open_connections
from .procstat import PeakSampler
from .results import Ratio, Series, Target, TopicResult
from .servers import Kind, Server, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "3 burst"
DEFAULT_MAX_THREADS = 32
PATIENCE = 300.0
"""Seconds to wait for a burst to finish before reporting it as not finished."""


@dataclass(frozen=True)
class Burst:
    """One burst: which server, configured how, running which action how often."""

    kind: Kind
    options: dict[str, Any] | None
    action: str
    count: int
    seconds: float
    connections: int
    label: str


@dataclass(frozen=True)
class Outcome:
    """What one burst measured."""

    all_completed: float
    submitted: float
    idle_threads: int
    peak_threads: int
    peak_rss: int
    completed: int


def _timestamp(text: str) -> float:
    # Ours are UTC with "Z"; LabThings' are naive local time: both become epoch seconds.
    return datetime.fromisoformat(text).timestamp()


async def _unfinished(connection: Connection, server: Server, action: str) -> int:
    """How many invocations of ``action`` are not finished yet."""
    if server.kind == "ours":
        waiting = 0
        for status in ("pending", "running"):
            query = f"/action_invocations/?action={action}&status={status}&limit=1"
            waiting += len((await connection.request("GET", query)).json())
        return waiting
    listed = (await connection.request("GET", f"/bench/{action}")).json()
    return sum(item["status"] not in FINISHED for item in listed)


async def _summaries(connection: Connection, server: Server, action: str) -> list[Any]:
    if server.kind == "ours":
        query = f"/action_invocations/?action={action}&limit=10000"
        return list(msgspec.json.decode((await connection.request("GET", query)).body))
    return list((await connection.request("GET", f"/bench/{action}")).json())


async def _submit(connection: Connection, path: str, body: bytes, count: int) -> None:
    for _ in range(count):
        while True:
            reply = await connection.request("POST", path, body)
            if reply.status == 201:
                break
            if reply.status != 503:
                raise RuntimeError(f"POST {path} answered {reply.status}: {reply.body[:200]!r}")
            await asyncio.sleep(0.01)  # Queue full: back off as Retry-After asks.


async def _wait_all_finished(connection: Connection, server: Server, action: str) -> bool:
    """Poll until no invocation of ``action`` is unfinished; False if that never happens."""
    deadline = time.monotonic() + PATIENCE
    while await _unfinished(connection, server, action):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _run(server: Server, burst: Burst) -> Outcome:
    path = f"{server.thing_path}{burst.action}"
    body = msgspec.json.encode({"seconds": burst.seconds})
    connections = await open_connections(server.port, burst.connections)
    share, extra = divmod(burst.count, burst.connections)
    try:
        idle = server.status().threads
        with PeakSampler(server.pid) as sampler:
            start = time.time()
            await asyncio.gather(
                *(
                    _submit(connection, path, body, share + (index < extra))
                    for index, connection in enumerate(connections)
                )
            )
            submitted = time.time() - start
            finished = await _wait_all_finished(connections[0], server, burst.action)
        listed = await _summaries(connections[0], server, burst.action)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    done = [item for item in listed if item["status"] == "completed"]
    last = max((_timestamp(item["timeCompleted"]) for item in done), default=math.nan)
    return Outcome(
        all_completed=last - start if finished and len(done) == burst.count else math.nan,
        submitted=submitted,
        idle_threads=idle,
        peak_threads=sampler.peak_threads,
        peak_rss=sampler.peak_rss,
        completed=len(done),
    )


def _record(result: TopicResult, burst: Burst, outcome: Outcome) -> None:
    figures = [
        ("time to all completed", "s", outcome.all_completed),
        ("peak threads", "threads", float(outcome.peak_threads)),
        ("threads before", "threads", float(outcome.idle_threads)),
        ("peak RSS", "MiB", outcome.peak_rss / 2**20),
    ]
    if burst.action.startswith("async"):
        figures.insert(1, ("time to submit all", "s", outcome.submitted))
    for metric, unit, value in figures:
        series = result.find(burst.label, burst.kind, metric) or result.add(
            Series(WORKLOAD, burst.label, burst.kind, metric, unit)
        )
        series.samples.append(value)
    if outcome.completed != burst.count:
        result.notes.append(
            f"{burst.label} ({burst.kind}): {outcome.completed} of {burst.count} completed"
        )


def bursts(settings: Settings) -> list[Burst]:
    """The bursts of this run's size."""
    count, seconds = settings.size((200, 1.0), (40, 0.2))
    many = settings.size(10_000, 1_000)
    threaded = f"{count} x sleep({seconds:g}) at once"
    out = [
        Burst(
            "ours",
            None,
            "sleep",
            count,
            seconds,
            count,
            f"{threaded}, max_threads={DEFAULT_MAX_THREADS} (default)",
        ),
        Burst(
            "ours",
            {"max_threads": count},
            "sleep",
            count,
            seconds,
            count,
            f"{threaded}, max_threads={count}",
        ),
    ]
    if settings.labthings:
        out.append(
            Burst(
                "labthings",
                None,
                "sleep",
                count,
                seconds,
                count,
                f"{threaded}, a thread per invocation",
            )
        )
    out.append(
        Burst(
            "ours",
            {"max_retained": 2 * many},
            "async_sleep",
            many,
            seconds,
            100,
            f"{many:,} x async_sleep({seconds:g}) at once",
        )
    )
    return out


async def measure(settings: Settings, result: TopicResult) -> None:
    """Run every burst ``settings.repeats`` times, each on a fresh server."""
    plan = bursts(settings)
    for _ in range(settings.repeats):
        for burst in plan:
            with serve(burst.kind, settings.cpus, options=burst.options) as server:
                outcome = await _run(server, burst)
            _record(result, burst, outcome)
    _ratios(result, plan)


def _threads_started(result: TopicResult, burst: Burst) -> Ratio:
    """Threads a burst started over the default ``max_threads``, repeat by repeat."""
    name = f"threads started, {burst.label}: ours / max_threads ({DEFAULT_MAX_THREADS})"
    peak = result.find(burst.label, burst.kind, "peak threads")
    idle = result.find(burst.label, burst.kind, "threads before")
    if peak is None or idle is None:
        return Ratio(name, [], Target("<=", 1.0), "not measured")
    started = [p - i for p, i in zip(peak.samples, idle.samples, strict=True)]
    return Ratio(name, [n / DEFAULT_MAX_THREADS for n in started], Target("<=", 1.0))


def _ratios(result: TopicResult, plan: list[Burst]) -> None:
    default, wide, many = plan[0], plan[1], plan[-1]
    lt_burst = next((b for b in plan if b.kind == "labthings"), None)

    def find(burst: Burst | None, metric: str) -> Series | None:
        return None if burst is None else result.find(burst.label, burst.kind, metric)

    threaded = f"{default.count} x sleep"
    result.ratios += [
        _threads_started(result, default),
        _threads_started(result, many),
        paired_ratio(
            f"peak threads, {threaded}: ours (default) / LabThings",
            find(default, "peak threads"),
            find(lt_burst, "peak threads"),
        ),
        paired_ratio(
            f"time to all completed, {threaded}: ours (max_threads={wide.count}) / LabThings",
            find(wide, "time to all completed"),
            find(lt_burst, "time to all completed"),
        ),
        paired_ratio(
            f"peak RSS, {threaded}: ours (default) / LabThings",
            find(default, "peak RSS"),
            find(lt_burst, "peak RSS"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("burst", measure))
