"""LabThings-FastAPI's websocket property notifications, fanned out to many subscribers.

The counterpart of our SSE fan-out (``sse_fanout.py``): ``subscribers``
websockets connect to ``/bench/ws`` and each sends
``{"messageType": "addPropertyObservation", "data": {"value": true}}``; then
``value`` is written ``events`` times (``PUT``, one after another, with a
pause between). Each subscriber notes when each value arrives; delivered over
expected and the latency from the write being sent to its arrival are the
figures. LabThings-FastAPI gives each websocket a 5-message buffer and drops
what does not fit, so some loss under load is its documented behaviour.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .http_client import Connection
from .stats import percentile

__all__ = ("FanoutOutcome", "websocket_fanout")

_SETTLE = 10.0


@dataclass
class FanoutOutcome:
    """What one fan-out run measured."""

    subscribers: int
    events: int
    delivered: int
    latencies: list[float] = field(default_factory=list)

    @property
    def delivered_fraction(self) -> float:
        """Delivered over expected (subscribers x events)."""
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


class _Subscriber:
    """One websocket, noting when each value arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.seen = asyncio.Event()

    async def run(self, socket: Any) -> None:
        async for message in socket:
            data = msgspec.json.decode(message)
            if data.get("messageType") == "propertyStatus" and "value" in data["data"]:
                self.arrivals.setdefault(data["data"]["value"], time.perf_counter())
                self.seen.set()


async def websocket_fanout(
    port: int, subscribers: int, events: int, interval: float
) -> FanoutOutcome:
    """Fan ``events`` property writes out to ``subscribers`` websockets."""
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/bench/ws"
    sockets = []
    tasks: list[asyncio.Task[None]] = []
    members = [_Subscriber() for _ in range(subscribers)]
    try:
        for index in range(0, subscribers, 50):  # Connect in batches, not a 1,000-way storm.
            batch = await asyncio.gather(
                *(connect(url, max_queue=None) for _ in range(min(50, subscribers - index)))
            )
            sockets += batch
        subscribe = msgspec.json.encode(
            {"messageType": "addPropertyObservation", "data": {"value": True}}
        ).decode()
        await asyncio.gather(*(socket.send(subscribe) for socket in sockets))
        tasks = [asyncio.create_task(m.run(s)) for m, s in zip(members, sockets, strict=True)]
        async with Connection(port) as http:
            await _until_all_subscribed(http, members)
            sent: dict[int, float] = {}
            for value in range(events):
                sent[value] = time.perf_counter()
                reply = await http.request("PUT", "/bench/value", msgspec.json.encode(value))
                if reply.status >= 300:
                    raise RuntimeError(f"PUT /bench/value answered {reply.status}")
                await asyncio.sleep(interval)
            await _until_delivered(members, events)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    delivered = sum(sum(v in m.arrivals for v in sent) for m in members)
    latencies = [m.arrivals[v] - sent[v] for m in members for v in sent if v in m.arrivals]
    return FanoutOutcome(subscribers, events, delivered, latencies)


async def _until_all_subscribed(http: Connection, members: list[_Subscriber]) -> None:
    """Write a probe value until every subscriber has seen one (no ack is sent)."""
    deadline = time.monotonic() + _SETTLE
    while not all(m.seen.is_set() for m in members):
        if time.monotonic() > deadline:
            raise TimeoutError("not every websocket subscription took effect")
        await http.request("PUT", "/bench/value", b"-1")
        await asyncio.sleep(0.05)
    for member in members:
        member.arrivals.clear()


async def _until_delivered(members: list[_Subscriber], events: int) -> None:
    """Wait until every subscriber has the last value, or nothing arrives for a while."""
    last = events - 1
    deadline = time.monotonic() + _SETTLE
    while time.monotonic() < deadline:
        if all(last in m.arrivals for m in members):
            return
        await asyncio.sleep(0.05)
