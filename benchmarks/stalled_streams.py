"""Workload 12: event-stream clients that stop reading, and what they cost everyone else.

Run: ``python -m benchmarks.stalled_streams [--quick] [--json PATH]``.

A browser tab put to sleep, a wedged script: a client that opens an event
stream and then never reads again. On one fresh server (ours) per repeat:

1. throughput with no such client: 8 closed-loop clients invoke
   ``async_noop`` with ``Prefer: wait``, each on its own keep-alive
   connection, for a fixed window (after a warm-up);
2. ``stalled`` clients open the firehose (``/action_invocations/events``),
   read the response head and greeting, and from then on read nothing; the
   same load runs again, in the same server, for the same window, twice:
   at once, while the kernel still takes what the server sends them (so far
   they cost what a reading client costs), and again after ``fill`` more
   invocations (some 10 MB of events for each stream, more than the kernel
   buffers of a connection hold), once it takes no more: the steady state of
   a stalled client;
3. the stalled clients all hang up at once; the server's resident memory is
   sampled every 10 ms from just before until a few seconds after, and the
   figure is its peak over what it held just before.

Figures: invocations per second without and with the stalled clients (and
their ratios, repeat by repeat), and the memory rise when they disconnect.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

from .http_client import Connection
from .invoking import invoke
from .load import closed_loop
from .procstat import PeakSampler
from .results import Series, TopicResult
from .servers import Server, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "12 stalled event-stream clients"
FIREHOSE = "/action_invocations/events"
ACTION = "async_noop"
CLIENTS = 8
EVENT_BYTES = 330
"""About the size of one status event on the firehose, framed."""

_AFTER_DISCONNECT = 3.0  # Seconds memory is watched after the hang-up.
_CONNECT_BATCH = 50  # Below hypercorn's listen backlog.


class _Stalled:
    """A firehose client that reads its greeting and then nothing, ever."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET {FIREHOSE} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await reader.readuntil(b": connected\n")
        # Nothing more is read: what arrives stays in the kernel, which soon takes no more.
        cast(asyncio.Transport, writer.transport).pause_reading()
        self.writer = writer

    def hang_up(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


async def _throughput(server: Server, seconds: float, warmup: float) -> float:
    path = f"{server.thing_path}{ACTION}"

    async def operation(connection: Connection) -> object:
        return await invoke(connection, "wait", path)

    result = await closed_loop(server.port, CLIENTS, operation, seconds=seconds, warmup=warmup)
    return result.rate


async def _fill(server: Server, invocations: int) -> None:
    """Make ``invocations`` invocations, as fast as the server takes them."""
    path = f"{server.thing_path}{ACTION}"
    share = [invocations // CLIENTS + (index < invocations % CLIENTS) for index in range(CLIENTS)]

    async def client(count: int) -> None:
        async with Connection(server.port) as connection:
            for _ in range(count):
                await invoke(connection, "wait", path)

    await asyncio.gather(*(client(count) for count in share))


async def stalled_run(
    server: Server, stalled: int, fill: int, seconds: float, warmup: float
) -> tuple[float, float, float, float]:
    """Throughput alone, then with ``stalled`` clients (at once and filled); the hang-up's cost."""
    alone = await _throughput(server, seconds, warmup)
    clients = [_Stalled(server.port) for _ in range(stalled)]
    for start in range(0, stalled, _CONNECT_BATCH):
        await asyncio.gather(*(client.open() for client in clients[start : start + _CONNECT_BATCH]))
    try:
        fresh = await _throughput(server, seconds, warmup)
        await _fill(server, fill)
        filled = await _throughput(server, seconds, warmup)
    finally:
        before = server.status().rss
        with PeakSampler(server.pid) as sampler:
            for client in clients:
                client.hang_up()
            await asyncio.sleep(_AFTER_DISCONNECT)
    return alone, fresh, filled, max(0, sampler.peak_rss - before)


def _add(result: TopicResult, case: str, metric: str, unit: str, value: float) -> Series:
    series = result.find(case, "ours", metric) or result.add(
        Series(WORKLOAD, case, "ours", metric, unit)
    )
    series.samples.append(value)
    return series


async def measure(settings: Settings, result: TopicResult) -> None:
    """A fresh server per repeat: throughput alone, with the stalled clients, then hang-up."""
    stalled = settings.size(200, 50)
    fill = settings.size(10_000, 3_000)
    seconds = settings.size(5.0, 2.0)
    warmup = settings.size(1.0, 0.5)
    result.parameters.update(
        stalled=stalled, clients=CLIENTS, action=ACTION, window_seconds=seconds, fill=fill
    )
    alone_case = f"{CLIENTS} clients, no stalled stream"
    fresh_case = f"{CLIENTS} clients, {stalled} streams just stalled"
    filled_case = f"{CLIENTS} clients, {stalled} streams stalled, {fill:,} invocations on"
    hang_up_case = f"{stalled} stalled streams hang up"
    for _ in range(settings.repeats):
        with serve("ours", settings.cpus) as server:
            await _throughput(server, 1.0, 0.5)  # Warm the server up.
            alone, fresh, filled, rise = await stalled_run(server, stalled, fill, seconds, warmup)
        _add(result, alone_case, "rate", "invocations/s", alone)
        _add(result, fresh_case, "rate", "invocations/s", fresh)
        _add(result, filled_case, "rate", "invocations/s", filled)
        _add(result, hang_up_case, "peak RSS rise", "MB", rise / 1e6)
        print(
            f"{alone:,.0f} invocations/s alone, {fresh:,.0f} with {stalled} streams just "
            f"stalled, {filled:,.0f} once they are full; +{rise / 1e6:.1f} MB at their hang-up",
            flush=True,
        )
    for case, when in ((fresh_case, "just stalled"), (filled_case, "stalled and full")):
        result.ratios.append(
            paired_ratio(
                f"throughput with {stalled} streams {when} / with none",
                result.find(case, "ours", "rate"),
                result.find(alone_case, "ours", "rate"),
                note="repeat by repeat, all in the same server",
            )
        )
    result.notes.append(
        "a stalled client reads its stream's greeting, then nothing; until its kernel "
        f"buffers are full it costs the server what a reading client costs; {fill:,} "
        f"invocations send each stream ~{fill * 3 * EVENT_BYTES / 1e6:.0f} MB; memory: the "
        "server's peak RSS while they hang up, over its RSS just before"
    )


if __name__ == "__main__":
    sys.exit(run_topic("stalled_streams", measure))
