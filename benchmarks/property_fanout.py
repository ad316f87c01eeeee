"""Property changes fanned out to many subscribers: ours over SSE, LabThings over websockets.

The like-for-like comparison next to ``sse_fanout.py`` (which measures our
invocation firehose; LabThings-FastAPI has no such stream). ``subscribers``
clients subscribe to the ``value`` property: on ours ``GET
/bench/value/events`` (SSE); on LabThings-FastAPI a websocket to
``/bench/ws`` sending ``addPropertyObservation``. Then ``value`` is written
``events`` times (``PUT``, one after another, with a pause between). Every
subscriber is a lean reader (``followers.py``) that stamps each chunk as it
arrives and parses afterwards. Figures: delivered over expected, latency
from the write being sent to its arrival, server CPU per delivery, and this
process's own load over the writes (near 1, the latencies are partly its
own). LabThings-FastAPI gives each websocket a 5-message buffer and drops
what does not fit (with a warning), so loss under load is its own behaviour.

Run: ``python -m benchmarks.property_fanout [--quick]`` (``fanout`` runs it too).
The target: at 1,000 subscribers, p50 and p99 no worse than LabThings'
websocket in the same run.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from .followers import Follower, SSEFollower, WebsocketFollower, open_followers
from .http_client import Connection
from .results import Series, Target, TopicResult
from .servers import Kind, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("FanoutOutcome", "measure", "property_fanout")

WORKLOAD = "5 fan-out, property changes"
INTERVAL = 0.01

_SETTLE = 10.0
_PROBE = -1
_QUIET = 0.3
_OBSERVE = {"messageType": "addPropertyObservation", "data": {"value": True}}


@dataclass
class FanoutOutcome:
    """What one fan-out run measured."""

    subscribers: int
    events: int
    delivered: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = math.nan
    client_cpu: float = math.nan
    seconds: float = math.nan

    @property
    def delivered_fraction(self) -> float:
        """Delivered over expected (every write at every subscriber)."""
        expected = self.subscribers * self.events
        return self.delivered / expected if expected else math.nan

    @property
    def p50(self) -> float:
        """Median delivery latency, seconds."""
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        """99th percentile delivery latency, seconds."""
        return percentile(self.latencies, 99)

    @property
    def server_cpu_per_delivery(self) -> float:
        """Server CPU seconds per notification delivered, over the writes."""
        return self.server_cpu / self.delivered if self.delivered else math.nan

    @property
    def client_load(self) -> float:
        """The load generator's CPU over the writes, as a fraction of their wall time.

        Near 1, this process was busy the whole time: the latencies are then
        partly its own.
        """
        return self.client_cpu / self.seconds if self.seconds else math.nan


def _follower(port: int, kind: str) -> Callable[[], Follower]:
    host = f"127.0.0.1:{port}"
    if kind == "ours":
        return lambda: SSEFollower(host, "/bench/value/events")
    return lambda: WebsocketFollower(host, "/bench/ws", _OBSERVE)


async def property_fanout(
    port: int,
    kind: str,
    subscribers: int,
    events: int,
    interval: float,
    server_cpu: Callable[[], float] | None = None,
) -> FanoutOutcome:
    """Fan ``events`` writes of ``value`` out to ``subscribers`` (``kind``: ours or labthings).

    ``server_cpu`` reads the server's CPU seconds, to report them over the writes.
    """
    members = await open_followers(port, subscribers, _follower(port, kind))
    sent: dict[int, float] = {}
    outcome = FanoutOutcome(subscribers, events)
    try:
        async with Connection(port) as http:
            await _until_all_subscribed(http, members)
            cpu_before = server_cpu() if server_cpu else math.nan
            client_before, started = time.process_time(), time.perf_counter()
            for value in range(events):
                sent[value] = time.perf_counter()
                reply = await http.request("PUT", "/bench/value", msgspec.json.encode(value))
                if reply.status >= 300:
                    raise RuntimeError(f"PUT /bench/value answered {reply.status}")
                await asyncio.sleep(interval)
            last = await _until_delivered(members)
            outcome.seconds = max(last, sent[events - 1]) - started
            outcome.client_cpu = time.process_time() - client_before
            outcome.server_cpu = (server_cpu() if server_cpu else math.nan) - cpu_before
    finally:
        for member in members:
            member.close()
    for member in members:
        arrivals: dict[object, float] = {}
        for stamp, value in member.notifications():
            arrivals.setdefault(value, stamp)
        got = [value for value in sent if value in arrivals]
        outcome.delivered += len(got)
        outcome.latencies += [arrivals[value] - sent[value] for value in got]
    return outcome


async def _until_all_subscribed(http: Connection, members: list[Follower]) -> None:
    """Write a probe value until every subscriber has received something.

    A subscriber still silent after ``_SETTLE`` seconds is left to show up in
    delivered/expected rather than fail the run.
    """
    deadline = time.monotonic() + _SETTLE
    while not all(member.seen.is_set() for member in members):
        if time.monotonic() > deadline:
            break
        await http.request("PUT", "/bench/value", msgspec.json.encode(_PROBE))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # Let the last probes drain before counting starts.
    for member in members:
        member.forget()


async def _until_delivered(members: list[Follower]) -> float:
    """Wait until nothing has arrived for a while; when the last arrival was.

    The time is ``time.perf_counter()``; nothing is parsed before the end.
    """
    deadline = time.monotonic() + _SETTLE
    count = -1
    while time.monotonic() < deadline:
        now = sum(len(member.chunks) + len(_messages(member)) for member in members)
        if now == count:
            break
        count = now
        await asyncio.sleep(_QUIET)
    stamps = [member.chunks[-1][0] for member in members if member.chunks]
    stamps += [_messages(member)[-1][0] for member in members if _messages(member)]
    return max(stamps, default=0.0)


def _messages(member: Follower) -> list[tuple[float, bytes]]:
    return member.messages if isinstance(member, WebsocketFollower) else []


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def measure(settings: Settings, result: TopicResult) -> None:
    """Property fan-out on both servers, 1 to 1,000 subscribers, a fresh server per repeat."""
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
                    run = await property_fanout(
                        server.port, kind, subscribers, events, INTERVAL, server.cpu_seconds
                    )
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
                    _add(
                        result,
                        case,
                        kind,
                        "server CPU per delivery",
                        "µs",
                        run.server_cpu_per_delivery * 1e6,
                    )
                    _add(result, case, kind, "load generator busy", "%", 100 * run.client_load)
    result.notes.append(
        "property fan-out: ours is SSE (GET /bench/value/events), LabThings-FastAPI its "
        "websocket (addPropertyObservation); latency from sending the PUT to the arrival; "
        "'load generator busy' is this process's CPU over the writes' wall time (near 100%, "
        "the latencies are partly its own)"
    )
    most = cases[counts[-1]]
    result.ratios += [
        paired_ratio(
            f"property fan-out, {most}, delivered: ours / LabThings",
            result.find(most, "ours", "delivered / expected"),
            result.find(most, "labthings", "delivered / expected"),
            Target(">=", 1.0),
        ),
        *(
            paired_ratio(
                f"property fan-out, {most}, {metric}: ours / LabThings",
                result.find(most, "ours", metric),
                result.find(most, "labthings", metric),
                Target("<=", 1.0),
            )
            for metric in ("p50", "p99")
        ),
        paired_ratio(
            f"property fan-out, {most}, server CPU per delivery: ours / LabThings",
            result.find(most, "ours", "server CPU per delivery"),
            result.find(most, "labthings", "server CPU per delivery"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("property_fanout", measure))
