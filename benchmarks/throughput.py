"""Workload 2: completed noop invocations per second at 1, 8 and 64 clients, and CPU.

Run: ``python -m benchmarks.throughput [--quick]``.

Closed loop: each client invokes ``noop`` and waits for it to finish before
the next, on its own keep-alive connection. Server CPU time per invocation is
read from ``/proc`` over the same window, so it does not depend on the client.
Ours: with ``Prefer: wait`` and with tight polling. LabThings-FastAPI: with
tight polling and with its ThingClient's schedule (0.05 s, then 0.5 s); its
better figure is the baseline. The floor: hello-world POSTs on hypercorn.
Each (server, mode) gets a fresh server per repeat, which then runs 1, 8 and
64 clients in turn (LabThings keeps every invocation for 300 s, so its table
grows within that server, as it would for a user).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from .http_client import Connection
from .invoking import Mode, invoke
from .load import closed_loop
from .results import Ratio, Series, Target, TopicResult
from .servers import Kind, Server, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "2 throughput"
CONCURRENCY = (1, 8, 64)


@dataclass(frozen=True)
class Variant:
    """One server and one way of waiting for completion."""

    kind: Kind
    mode: Mode | None
    label: str


VARIANTS = (
    Variant("ours", "wait", "noop, Prefer: wait"),
    Variant("ours", "poll", "noop, tight polling"),
    Variant("labthings", "poll", "noop, tight polling"),
    Variant("labthings", "client_schedule", "noop, ThingClient's polling schedule"),
    Variant("floor", None, "hello-world POST"),
)


def _case(variant: Variant, concurrency: int) -> str:
    return f"{variant.label}, {concurrency} client{'s' if concurrency > 1 else ''}"


def _series(result: TopicResult, variant: Variant, concurrency: int) -> tuple[Series, Series]:
    case = _case(variant, concurrency)
    per = "request" if variant.kind == "floor" else "invocation"
    rate = result.find(case, variant.kind, "rate") or result.add(
        Series(WORKLOAD, case, variant.kind, "rate", f"{per}s/s")
    )
    cpu = result.find(case, variant.kind, f"server CPU/{per}") or result.add(
        Series(WORKLOAD, case, variant.kind, f"server CPU/{per}", "µs")
    )
    return rate, cpu


async def _run_variant(
    server: Server, variant: Variant, settings: Settings, result: TopicResult
) -> None:
    seconds, warmup = settings.size((3.0, 0.5), (0.3, 0.1))
    path = server.thing_path if variant.mode is None else server.thing_path + "noop"

    async def operation(connection: Connection) -> object:
        if variant.mode is None:
            return await connection.request("POST", path, b"{}")
        return await invoke(connection, variant.mode, path)

    for concurrency in CONCURRENCY:
        loop = await closed_loop(
            server.port,
            concurrency,
            operation,
            seconds=seconds,
            warmup=warmup,
            cpu=server.cpu_seconds,
        )
        rate, cpu = _series(result, variant, concurrency)
        rate.samples.append(loop.rate)
        cpu.samples.append(loop.cpu_per_operation * 1e6)


async def measure(settings: Settings, result: TopicResult) -> None:
    """Measure every variant ``settings.repeats`` times, interleaved."""
    variants = [v for v in VARIANTS if settings.labthings or v.kind != "labthings"]
    for _ in range(settings.repeats):
        for variant in variants:
            with serve(variant.kind, settings.cpus) as server:
                await _run_variant(server, variant, settings, result)
    result.notes.append(
        "CPU is utime+stime of the server process from /proc/PID/stat (10 ms ticks) over the "
        "measured window, divided by the invocations completed in it"
    )
    _ratios(result)


def _best(result: TopicResult, concurrency: int, metric: str, pick: str) -> Series | None:
    """LabThings' better variant, repeat by repeat (``pick``: max or min)."""
    found = [
        result.find(_case(v, concurrency), "labthings", metric)
        for v in VARIANTS
        if v.kind == "labthings"
    ]
    usable = [s for s in found if s is not None and s.samples]
    if not usable:
        return None
    choose = max if pick == "max" else min
    samples = [
        choose((s.samples[i] for s in usable if i < len(s.samples)), default=math.nan)
        for i in range(max(len(s.samples) for s in usable))
    ]
    return Series(WORKLOAD, f"LabThings best, {concurrency}", "labthings", metric, "", samples)


def _ratios(result: TopicResult) -> None:
    wait, floor = VARIANTS[0], VARIANTS[-1]
    ratios: list[Ratio] = []
    for concurrency in CONCURRENCY:
        ours_rate = result.find(_case(wait, concurrency), "ours", "rate")
        target = Target(">=", 4.0) if concurrency > 1 else None
        ratios.append(
            paired_ratio(
                f"throughput at {concurrency}: ours (Prefer: wait) / LabThings (its best mode)",
                ours_rate,
                _best(result, concurrency, "rate", "max"),
                target,
            )
        )
    for concurrency in CONCURRENCY:
        ours_cpu = result.find(_case(wait, concurrency), "ours", "server CPU/invocation")
        ratios.append(
            paired_ratio(
                f"server CPU per noop at {concurrency}: ours (Prefer: wait) / LabThings "
                "(its best mode)",
                ours_cpu,
                _best(result, concurrency, "server CPU/invocation", "min"),
                Target("<=", 0.2) if concurrency > 1 else None,
            )
        )
    for concurrency in CONCURRENCY:
        ratios.append(
            paired_ratio(
                f"server CPU per noop at {concurrency}: ours (Prefer: wait) / hello-world floor",
                result.find(_case(wait, concurrency), "ours", "server CPU/invocation"),
                result.find(_case(floor, concurrency), "floor", "server CPU/request"),
                Target("<=", 2.0) if concurrency > 1 else None,
            )
        )
    result.ratios += ratios


if __name__ == "__main__":
    sys.exit(run_topic("throughput", measure))
