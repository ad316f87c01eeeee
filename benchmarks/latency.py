"""Workload 1: noop invoke→completed latency, sequential, p50 and p99.

Run: ``python -m benchmarks.latency [--quick]``.

One client, one invocation at a time, timed from sending the POST to knowing
the invocation completed. Ours: with our client ``lt.AsyncThingClient``, on
its defaults (``Prefer: wait=0.25``, then the SSE stream) and with
``invoke_wait=0`` (always the SSE stream), or, while that client does not
exist, a minimal raw SSE reader; with tight polling; with ``Prefer: wait``;
and LabThings-FastAPI's own ``ThingClient`` pointed at our server (it keeps
working, at its polling pace). LabThings-FastAPI: its ``ThingClient`` (first
poll after 0.05 s, then every 0.5 s) and tight polling. The floor: a
hello-world POST round trip.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import labthings_async

from .http_client import Connection
from .invoking import Mode, invoke
from .load import timed_calls
from .results import Series, Target, TopicResult
from .servers import Kind, Server, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "1 latency"
THING_CLIENT = "noop, LabThings ThingClient (polls at 0.05 s, then 0.5 s)"
WARMUP = 20


def thing_client_durations(thing_url: str, count: int) -> list[float]:
    """Seconds per ``client.noop()`` of LabThings-FastAPI's own (blocking) ThingClient."""
    from labthings_fastapi.client import ThingClient

    client: Any = ThingClient.from_url(thing_url)
    try:
        for _ in range(2):
            client.noop()
        durations = []
        for _ in range(count):
            start = time.perf_counter()
            client.noop()
            durations.append(time.perf_counter() - start)
    finally:
        client.client.close()  # Its own httpx2.Client, which it never closes itself.
    return durations


class Recorder:
    """Adds p50 and p99 series per case, in milliseconds."""

    def __init__(self, result: TopicResult) -> None:
        self.result = result

    def record(self, case: str, side: str, durations: list[float], note: str = "") -> None:
        """Append this repeat's p50 and p99 to the case's series."""
        for metric, q in (("p50", 50.0), ("p99", 99.0)):
            series = self.result.find(case, side, metric) or self.result.add(
                Series(WORKLOAD, case, side, metric, "ms", note=note)
            )
            series.samples.append(percentile(durations, q) * 1000)


def _our_client_class() -> Any:
    """``lt.AsyncThingClient``, or None while it does not exist yet."""
    return getattr(labthings_async, "AsyncThingClient", None)


OUR_CLIENT_CASES = {
    "noop, our client (defaults: Prefer: wait=0.25, then SSE)": {},
    "noop, our client (invoke_wait=0: follows SSE)": {"invoke_wait": 0.0},
}


async def _time_our_client(
    server: Server, count: int, recorder: Recorder, client_class: Any
) -> None:
    url = server.origin + server.thing_path
    for case, options in OUR_CLIENT_CASES.items():
        async with await client_class.from_url(url, **options) as client:

            async def call(client: Any = client) -> object:
                return await client.invoke_action("noop")

            await timed_calls(call, WARMUP)
            recorder.record(case, "ours", await timed_calls(call, count))


async def _time_modes(
    server: Server, modes: dict[str, Mode], count: int, recorder: Recorder
) -> None:
    async with Connection(server.port) as connection:
        for case, mode in modes.items():
            path = server.thing_path + "noop"

            async def call(mode: Mode = mode, path: str = path) -> object:
                return await invoke(connection, mode, path)

            await timed_calls(call, WARMUP)
            recorder.record(case, server.kind, await timed_calls(call, count))


async def _measure_ours(server: Server, count: int, slow: int, recorder: Recorder) -> None:
    client_class = _our_client_class()
    if client_class is not None:
        await _time_our_client(server, count, recorder, client_class)
    else:
        await _time_modes(server, {"noop, our client (raw SSE reader)": "sse"}, count, recorder)
    modes: dict[str, Mode] = {"noop, tight polling": "poll", "noop, Prefer: wait": "wait"}
    await _time_modes(server, modes, count, recorder)
    if recorder.result.parameters.get("labthings"):
        url = server.origin + server.thing_path
        recorder.record(
            THING_CLIENT, "ours", await asyncio.to_thread(thing_client_durations, url, slow)
        )


async def _measure_floor(server: Server, count: int, recorder: Recorder) -> None:
    async with Connection(server.port) as connection:

        async def call() -> object:
            return await connection.request("POST", server.thing_path, b"{}")

        await timed_calls(call, WARMUP)
        recorder.record("hello-world POST round trip", "floor", await timed_calls(call, count))


async def measure(settings: Settings, result: TopicResult) -> None:
    """Time each case, ``settings.repeats`` times, servers interleaved."""
    count, slow = settings.size((500, 100), (40, 10))
    result.parameters.update(count=count, thing_client_count=slow, labthings=settings.labthings)
    recorder = Recorder(result)
    kinds: list[Kind] = ["ours", "labthings", "floor"] if settings.labthings else ["ours", "floor"]
    for _ in range(settings.repeats):
        for kind in kinds:
            with serve(kind, settings.cpus) as server:
                if kind == "ours":
                    await _measure_ours(server, count, slow, recorder)
                elif kind == "labthings":
                    url = server.origin + server.thing_path
                    durations = await asyncio.to_thread(thing_client_durations, url, slow)
                    recorder.record(THING_CLIENT, "labthings", durations)
                    await _time_modes(server, {"noop, tight polling": "poll"}, count, recorder)
                else:
                    await _measure_floor(server, count, recorder)
    if not hasattr(labthings_async, "AsyncThingClient"):
        result.notes.append(
            "lt.AsyncThingClient does not exist yet: 'our client' is a minimal raw SSE reader "
            "that POSTs, then follows the invocation's `events` link to its terminal status"
        )
    _ratios(result)


def _ratios(result: TopicResult) -> None:
    our_cases = dict.fromkeys(
        s.case for s in result.series if s.case.startswith("noop, our client")
    )
    lt_client = result.find(THING_CLIENT, "labthings", "p50")
    lt_poll = result.find("noop, tight polling", "labthings", "p50")
    for case in our_cases:
        label = case.removeprefix("noop, ")
        ours = result.find(case, "ours", "p50")
        result.ratios += [
            paired_ratio(
                f"noop latency p50: {label} / LabThings ThingClient",
                ours,
                lt_client,
                Target("<=", 1 / 20),
            ),
            paired_ratio(
                f"noop latency p99: {label} / LabThings ThingClient",
                result.find(case, "ours", "p99"),
                result.find(THING_CLIENT, "labthings", "p99"),
            ),
            paired_ratio(
                f"noop latency p50: {label} / LabThings tight polling",
                ours,
                lt_poll,
                Target("<", 1.0),
            ),
        ]
    result.ratios += [
        paired_ratio(
            "noop latency p50: ours tight polling / LabThings tight polling",
            result.find("noop, tight polling", "ours", "p50"),
            lt_poll,
        ),
        paired_ratio(
            "noop latency p50: ours Prefer: wait / hello-world floor",
            result.find("noop, Prefer: wait", "ours", "p50"),
            result.find("hello-world POST round trip", "floor", "p50"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("latency", measure))
