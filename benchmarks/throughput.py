"""Workload 2: completed noop invocations per second at 1, 8 and 64 clients, and CPU.

Run: ``python -m benchmarks.throughput [--quick]``.

Closed loop: each client invokes ``noop`` and waits for it to finish before
the next, on its own keep-alive connection. Server CPU time per invocation is
read from ``/proc`` over the same window, so it does not depend on the client.
Ours: with ``Prefer: wait`` and with tight polling, a threaded ``noop`` and
an ``async_noop``, on the default asyncio loop and on uvloop (``serve --loop
uvloop``; skipped when the server has no such option). LabThings-FastAPI: with
tight polling and with its ThingClient's schedule (0.05 s, then 0.5 s); its
better figure is the baseline. The floor: hello-world POSTs on hypercorn.
Each (server, mode) gets a fresh server per repeat, which then runs 1, 8 and
64 clients in turn (LabThings keeps every invocation for 300 s, so its table
grows within that server, as it would for a user).
"""

from __future__ import annotations

import functools
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    action: str = "noop"
    loop: str = "asyncio"


VARIANTS = (
    Variant("ours", "wait", "noop, Prefer: wait"),
    Variant("ours", "poll", "noop, tight polling"),
    Variant("ours", "wait", "async noop, Prefer: wait", action="async_noop"),
    Variant("ours", "wait", "noop, Prefer: wait, uvloop", loop="uvloop"),
    Variant("ours", "wait", "async noop, Prefer: wait, uvloop", action="async_noop", loop="uvloop"),
    Variant("labthings", "poll", "noop, tight polling"),
    Variant("labthings", "client_schedule", "noop, ThingClient's polling schedule"),
    Variant("floor", None, "hello-world POST"),
)
WAIT, ASYNC_WAIT, FLOOR = VARIANTS[0], VARIANTS[2], VARIANTS[-1]
UVLOOP_WAIT, UVLOOP_ASYNC_WAIT = VARIANTS[3], VARIANTS[4]


@functools.cache
def serve_has_loop_option() -> bool:
    """True if this ``labthings-async serve`` takes ``--loop`` (a tree before it had none)."""
    script = Path(sys.executable).with_name("labthings-async")
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "labthings_async.cli.serve"]
    )
    done = subprocess.run([*command, "serve", "--help"], capture_output=True, check=False)
    return b"--loop" in done.stdout


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
    path = server.thing_path if variant.mode is None else server.thing_path + variant.action

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
    if not serve_has_loop_option():
        variants = [v for v in variants if v.loop == "asyncio"]
        result.notes.append("uvloop rows skipped: this server's serve command has no --loop")
    for _ in range(settings.repeats):
        for variant in variants:
            with serve(variant.kind, settings.cpus, loop=variant.loop) as server:
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


def _cpu(result: TopicResult, variant: Variant, concurrency: int) -> Series | None:
    metric = "server CPU/request" if variant.kind == "floor" else "server CPU/invocation"
    return result.find(_case(variant, concurrency), variant.kind, metric)


def _ratios(result: TopicResult) -> None:
    ratios: list[Ratio] = []
    for concurrency in CONCURRENCY:
        ours_rate = result.find(_case(WAIT, concurrency), "ours", "rate")
        target = Target(">=", 4.0) if concurrency > 1 else None
        ratios.append(
            paired_ratio(
                f"throughput at {concurrency}: ours (Prefer: wait) / LabThings (its best mode)",
                ours_rate,
                _best(result, concurrency, "rate", "max"),
                target,
            )
        )
    for variant in (WAIT, UVLOOP_WAIT):
        how = variant.label.removeprefix("noop, ")
        for concurrency in CONCURRENCY:
            ratios.append(
                paired_ratio(
                    f"server CPU per noop at {concurrency}: ours ({how}) / LabThings "
                    "(its best mode)",
                    _cpu(result, variant, concurrency),
                    _best(result, concurrency, "server CPU/invocation", "min"),
                    Target("<=", 1 / 6) if concurrency > 1 else None,
                )
            )
    for variant, limit in ((WAIT, 2.0), (ASYNC_WAIT, 1.5), (UVLOOP_WAIT, 2.0)):
        for concurrency in CONCURRENCY:
            ratios.append(
                paired_ratio(
                    f"server CPU per invocation at {concurrency}: ours ({variant.label}) / "
                    "hello-world floor",
                    _cpu(result, variant, concurrency),
                    _cpu(result, FLOOR, concurrency),
                    Target("<=", limit) if concurrency > 1 else None,
                )
            )
    for concurrency in CONCURRENCY[1:]:
        ratios.append(
            paired_ratio(
                f"server CPU per invocation at {concurrency}: ours ({UVLOOP_ASYNC_WAIT.label}) / "
                "hello-world floor",
                _cpu(result, UVLOOP_ASYNC_WAIT, concurrency),
                _cpu(result, FLOOR, concurrency),
            )
        )
        for threaded, on_loop in ((WAIT, UVLOOP_WAIT), (ASYNC_WAIT, UVLOOP_ASYNC_WAIT)):
            ratios.append(
                paired_ratio(
                    f"server CPU per invocation at {concurrency}: {on_loop.label} / "
                    f"{threaded.label}",
                    _cpu(result, on_loop, concurrency),
                    _cpu(result, threaded, concurrency),
                )
            )
    result.ratios += ratios


if __name__ == "__main__":
    sys.exit(run_topic("throughput", measure))
