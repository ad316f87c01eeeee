"""Workload 5: Server-Sent Events fan-out on the firehose, 1 to 1,000 subscribers.

Run: ``python -m benchmarks.sse_fanout [--quick] [--json PATH]``.

Our server runs in its own process (``labthings-async serve``, the bench
Thing). This process opens ``subscribers`` connections to
``/action_invocations/events`` (raw HTTP/1.1, see ``http_client.py``), waits
until each has its greeting (so it is subscribed), then fires a burst of
``invocations`` async no-op invocations over a few keep-alive connections.
Each subscriber stops once it has seen every terminal status, or when nothing
more comes.

Every status event carries the time the server changed the status
(``timeRequested``, ``timeStarted`` or ``timeCompleted``, stamped just before
it is published); a subscriber notes the wall-clock time each chunk arrives.
Both clocks are the same machine's, so the difference is the delivery
latency: publish, framing, hypercorn, the kernel, and this process reading.
The client does nothing else while the burst is in flight (chunks are parsed
afterwards), so its own cost stays out of the figure as far as it can.
Figures: events delivered over expected (subscribers x invocations x 3
statuses), p50 and p99 latency, and server CPU per delivered event.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import msgspec

from .environment import describe
from .http_client import Connection
from .results import Series, TopicResult
from .servers import Server, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("FanoutRun", "measure", "sse_fanout")

WORKLOAD = "5 SSE fan-out"
FIREHOSE = "/action_invocations/events"
ACTION = "async_noop"
STATUSES_PER_INVOCATION = 3  # pending, running, completed
_POSTERS = 8
_CONNECT_BATCH = 50  # Below hypercorn's listen backlog, so no SYN is dropped.
_SETTLE = 20.0  # Seconds a subscriber may wait for more before it gives up.
_MIN_CPU = 0.2  # Server CPU is read in 10 ms clock ticks: below this it is noise.
_TERMINAL = re.compile(rb'"status":"(?:completed|error|cancelled)"')


class _StatusEvent(msgspec.Struct):
    """The fields of a ``status`` event this benchmark reads."""

    id: str
    status: str
    timeRequested: datetime  # The wire names.
    timeStarted: datetime | None = None
    timeCompleted: datetime | None = None

    def stamp(self) -> datetime | None:
        """When the server made this status change."""
        if self.status == "pending":
            return self.timeRequested
        if self.status == "running":
            return self.timeStarted
        return self.timeCompleted


_decode_status = msgspec.json.Decoder(_StatusEvent).decode


@dataclass
class FanoutRun:
    """What one burst measured.

    Attributes:
        subscribers: Streams open on the firehose.
        invocations: Invocations in the burst.
        delivered: Distinct (invocation, status) events received, over all subscribers.
        duplicates: Events a subscriber received more than once.
        lost: ``lost`` events received (the subscriber fell out of the buffer).
        latencies: Seconds from status change to receipt, per delivered event.
        server_cpu: Server CPU seconds used from the first POST to the last receipt.
    """

    subscribers: int
    invocations: int
    delivered: int = 0
    duplicates: int = 0
    lost: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = float("nan")

    @property
    def expected(self) -> int:
        """Every status of every invocation, at every subscriber."""
        return self.subscribers * self.invocations * STATUSES_PER_INVOCATION


class _Subscriber:
    """One firehose stream: stamps each chunk on arrival, parses them afterwards."""

    def __init__(self, port: int) -> None:
        self.connection = Connection(port)
        self.chunks: list[tuple[float, bytes]] = []

    async def open(self) -> None:
        """Connect and read the greeting: from then on the stream is subscribed."""
        stream = self.connection.stream(FIREHOSE, {"Accept": "text/event-stream"})
        self._stream = cast(AsyncGenerator[bytes, None], stream)
        await anext(self._stream)

    async def follow(self, terminal: int) -> None:
        """Read chunks until ``terminal`` terminal statuses have arrived."""
        seen = 0
        async for chunk in self._stream:
            self.chunks.append((time.time(), chunk))
            seen += len(_TERMINAL.findall(chunk))
            if seen >= terminal:
                return

    async def close(self) -> None:
        """Hang up."""
        await self._stream.aclose()
        await self.connection.close()

    def tally(self, run: FanoutRun, wanted: set[str]) -> None:
        """Add what this subscriber received to ``run``."""
        seen: set[tuple[str, str]] = set()
        for received, chunk in self.chunks:
            for frame in chunk.split(b"\n\n"):
                if b"\nevent: lost\n" in frame:
                    run.lost += 1
                    continue
                if b"\nevent: status\n" not in frame:
                    continue
                event = _decode_status(frame[frame.index(b"\ndata: ") + 7 :])
                if event.id not in wanted:
                    continue
                key = (event.id, event.status)
                if key in seen:
                    run.duplicates += 1
                    continue
                seen.add(key)
                stamp = event.stamp()
                if stamp is not None:
                    run.latencies.append(received - stamp.timestamp())
        run.delivered += len(seen)


async def _fire(port: int, path: str, count: int) -> set[str]:
    """POST ``count`` invocations over a few connections at once; their IDs."""
    ids: set[str] = set()
    share = [count // _POSTERS + (index < count % _POSTERS) for index in range(_POSTERS)]

    async def post(times: int) -> None:
        async with Connection(port) as connection:
            for _ in range(times):
                reply = await connection.request("POST", path, b"{}")
                if reply.status != 201:
                    raise RuntimeError(f"POST {path} answered {reply.status}: {reply.body!r}")
                ids.add(reply.json()["id"])

    await asyncio.gather(*(post(times) for times in share if times))
    return ids


async def sse_fanout(server: Server, subscribers: int, invocations: int) -> FanoutRun:
    """Open ``subscribers`` firehose streams, fire ``invocations``, and tally deliveries."""
    members = [_Subscriber(server.port) for _ in range(subscribers)]
    run = FanoutRun(subscribers, invocations)
    try:
        for start in range(0, subscribers, _CONNECT_BATCH):
            await asyncio.gather(*(m.open() for m in members[start : start + _CONNECT_BATCH]))
        followers = [asyncio.create_task(m.follow(invocations)) for m in members]
        cpu_before = server.cpu_seconds()
        ids = await _fire(server.port, f"{server.thing_path}{ACTION}", invocations)
        _, pending = await asyncio.wait(followers, timeout=_SETTLE)
        run.server_cpu = server.cpu_seconds() - cpu_before
        for task in pending:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    finally:
        await asyncio.gather(*(m.close() for m in members), return_exceptions=True)
    for member in members:
        member.tally(run, ids)
    return run


def _record(result: TopicResult, case: str, run: FanoutRun) -> None:
    """Append one run's figures to the case's series."""
    figures = {
        ("delivered / expected", "%"): 100 * run.delivered / run.expected,
        ("p50", "ms"): percentile(run.latencies, 50) * 1000,
        ("p99", "ms"): percentile(run.latencies, 99) * 1000,
        ("server CPU per delivered event", "µs"): (
            run.server_cpu / run.delivered * 1e6
            if run.delivered and run.server_cpu >= _MIN_CPU
            else float("nan")
        ),
    }
    for (metric, unit), value in figures.items():
        series = result.find(case, "ours", metric) or result.add(
            Series(WORKLOAD, case, "ours", metric, unit)
        )
        series.samples.append(value)
    if run.duplicates or run.lost or run.delivered != run.expected:
        result.notes.append(
            f"{case}: delivered {run.delivered:,} of {run.expected:,}, "
            f"{run.duplicates} duplicates, {run.lost} lost events"
        )


async def measure(settings: Settings, result: TopicResult) -> None:
    """Each subscriber count on a fresh server: a warm-up burst, then the repeats."""
    counts = settings.size((1, 100, 1000), (1, 10, 100))
    invocations = settings.size(100, 20)
    result.parameters.update(
        subscribers=list(counts),
        invocations=invocations,
        action=ACTION,
        environment=describe(settings.cpus.describe()),
    )
    cases = {}
    for subscribers in counts:
        case = f"{subscribers:,} subscriber{'s' * (subscribers > 1)} x {invocations} invocations"
        cases[subscribers] = case
        with serve("ours", settings.cpus) as server:
            await sse_fanout(server, 1, 10)
            for _ in range(settings.repeats):
                run = await sse_fanout(server, subscribers, invocations)
                _record(result, case, run)
                print(
                    f"{case}: {run.delivered:,}/{run.expected:,} delivered, "
                    f"p50 {percentile(run.latencies, 50) * 1000:.1f} ms, "
                    f"p99 {percentile(run.latencies, 99) * 1000:.1f} ms",
                    flush=True,
                )
    most, fewest = cases[counts[-1]], cases[counts[0]]
    for metric in ("p50", "p99"):
        result.ratios.append(
            paired_ratio(
                f"SSE delivery latency {metric}: {counts[-1]:,} subscribers / {counts[0]}",
                result.find(most, "ours", metric),
                result.find(fewest, "ours", metric),
                note="repeat by repeat, each count on its own server",
            )
        )
    result.notes.append(
        "latency: from the server's status timestamp to this process reading the chunk "
        "(same machine clock); expected = subscribers x invocations x 3 statuses"
    )


if __name__ == "__main__":
    sys.exit(run_topic("sse_fanout", measure))
