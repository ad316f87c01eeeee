"""Property changes fanned out to many subscribers: ours over SSE, LabThings over websockets.

The like-for-like comparison next to ``sse_fanout.py`` (which measures our
invocation firehose; LabThings-FastAPI has no such stream). ``subscribers``
clients subscribe to the ``value`` property: on ours ``GET
/bench/value/events`` (SSE); on LabThings-FastAPI a websocket to
``/bench/ws`` sending ``addPropertyObservation``. Then ``value`` is written
``events`` times (``PUT``, one after another, with a pause between). Every
subscriber stamps each chunk or message as it arrives and parses afterwards.
Figures: delivered over expected, and latency from the write being sent to its
arrival. LabThings-FastAPI gives each websocket a 5-message buffer and drops
what does not fit (with a warning), so loss under load is its own behaviour.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec

from .http_client import Connection
from .stats import percentile

__all__ = ("FanoutOutcome", "property_fanout")

_CONNECT_BATCH = 50
_SETTLE = 10.0
_PROBE = -1
_QUIET = 0.3


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
        return self.client_cpu / self.seconds


class _Subscriber:
    """Stamps what arrives; ``arrivals`` parses it into value -> first arrival time."""

    def __init__(self) -> None:
        self.received: list[tuple[float, Any]] = []
        self.seen = asyncio.Event()

    async def open(self) -> None:
        """Connect and subscribe."""
        raise NotImplementedError

    async def follow(self) -> None:
        """Stamp everything that arrives, until cancelled."""
        raise NotImplementedError

    async def close(self) -> None:
        """Hang up."""
        raise NotImplementedError

    def values(self) -> list[tuple[float, Any]]:
        """(arrival time, value) of every notification received."""
        raise NotImplementedError

    def arrivals(self) -> dict[Any, float]:
        """The first arrival time of each value."""
        first: dict[Any, float] = {}
        for stamp, value in self.values():
            first.setdefault(value, stamp)
        return first


class SSESubscriber(_Subscriber):
    """Ours: ``GET /bench/value/events``."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.connection = Connection(port)
        self._stream: AsyncGenerator[bytes, None] | None = None

    async def open(self) -> None:
        """Connect and read the greeting: from then on the stream is subscribed."""
        stream = self.connection.stream("/bench/value/events", {"Accept": "text/event-stream"})
        self._stream = cast(AsyncGenerator[bytes, None], stream)
        await anext(self._stream)

    async def follow(self) -> None:
        """Stamp each chunk as it arrives."""
        assert self._stream is not None
        async for chunk in self._stream:
            self.received.append((time.perf_counter(), chunk))
            self.seen.set()

    async def close(self) -> None:
        """Hang up."""
        if self._stream is not None:
            await self._stream.aclose()
        await self.connection.close()

    def values(self) -> list[tuple[float, Any]]:
        """Frames are parsed after the run; one may span chunks (it counts when complete)."""
        out: list[tuple[float, Any]] = []
        buffer = b""
        for stamp, chunk in self.received:
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                for line in frame.split(b"\n"):
                    if line.startswith(b"data:"):
                        out.append((stamp, msgspec.json.decode(line[5:])))
        return out


class WebsocketSubscriber(_Subscriber):
    """LabThings-FastAPI: a websocket to ``/bench/ws`` observing ``value``."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.url = f"ws://127.0.0.1:{port}/bench/ws"
        self.socket: Any = None

    async def open(self) -> None:
        """Connect and ask to observe ``value`` (LabThings sends no acknowledgement)."""
        from websockets.asyncio.client import connect

        self.socket = await connect(self.url, max_queue=None)
        message = {"messageType": "addPropertyObservation", "data": {"value": True}}
        await self.socket.send(msgspec.json.encode(message).decode())

    async def follow(self) -> None:
        """Stamp each message as it arrives."""
        async for message in self.socket:
            self.received.append((time.perf_counter(), message))
            self.seen.set()

    async def close(self) -> None:
        """Hang up."""
        if self.socket is not None:
            await self.socket.close()

    def values(self) -> list[tuple[float, Any]]:
        """Values of the ``propertyStatus`` messages."""
        out = []
        for stamp, message in self.received:
            data = msgspec.json.decode(message)
            if data.get("messageType") == "propertyStatus" and "value" in data["data"]:
                out.append((stamp, data["data"]["value"]))
        return out


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
    make = SSESubscriber if kind == "ours" else WebsocketSubscriber
    members: list[_Subscriber] = [make(port) for _ in range(subscribers)]
    tasks: list[asyncio.Task[None]] = []
    sent: dict[int, float] = {}
    outcome = FanoutOutcome(subscribers, events)
    try:
        for start in range(0, subscribers, _CONNECT_BATCH):
            await asyncio.gather(*(m.open() for m in members[start : start + _CONNECT_BATCH]))
        tasks = [asyncio.create_task(member.follow()) for member in members]
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
            outcome.seconds = last - started
            outcome.client_cpu = time.process_time() - client_before
            outcome.server_cpu = (server_cpu() if server_cpu else math.nan) - cpu_before
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(member.close() for member in members), return_exceptions=True)
    for member in members:
        arrivals = member.arrivals()
        got = [value for value in sent if value in arrivals]
        outcome.delivered += len(got)
        outcome.latencies += [arrivals[value] - sent[value] for value in got]
    return outcome


async def _until_all_subscribed(http: Connection, members: list[_Subscriber]) -> None:
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
        member.received.clear()


async def _until_delivered(members: list[_Subscriber]) -> float:
    """Wait until nothing has arrived for a while (parsing now would slow the arrivals).

    Returns when the last arrival was (``time.perf_counter()``).
    """
    deadline = time.monotonic() + _SETTLE
    count = -1
    while time.monotonic() < deadline:
        now = sum(len(member.received) for member in members)
        if now == count:
            break
        count = now
        await asyncio.sleep(_QUIET)
    return max((member.received[-1][0] for member in members if member.received), default=0.0)
