"""In-process invoke→result overhead, as a ratio to a bare thread round trip.

Run: ``python -m benchmarks.inprocess [--quick] [--json PATH]``.

Both sides run in this one process and in the same run, so machine noise hits
them alike: the baseline is ``anyio.to_thread.run_sync`` of a no-op (what any
threaded action costs at the least); ours is ``invoke_action`` then
``await invocation.wait()`` for a sync and an async no-op action. Each figure
is the median of several repeats, with the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import anyio

import labthings_async as lt


class Bench(lt.Thing):
    """No-op actions."""

    @lt.action
    def noop(self) -> None:
        """Do nothing in a worker thread."""

    @lt.action
    async def anoop(self) -> None:
        """Do nothing on the event loop."""


def _nothing() -> None:
    pass


async def _per_call(call: Callable[[], Awaitable[object]], count: int) -> float:
    """Mean seconds per call over ``count`` sequential calls."""
    start = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - start) / count


async def measure(count: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median and spread (min, max) in microseconds for each case."""
    thing = Bench()
    limiter = anyio.CapacityLimiter(4)
    samples: dict[str, list[float]] = {"bare_thread": [], "sync_noop": [], "async_noop": []}
    async with lt.ActionManager({"bench": thing}, max_threads=4) as manager:

        async def bare() -> object:
            return await anyio.to_thread.run_sync(_nothing, limiter=limiter)

        async def sync_noop() -> object:
            return await manager.invoke_action(thing, "noop").wait()

        async def async_noop() -> object:
            return await manager.invoke_action(thing, "anoop").wait()

        cases = {"bare_thread": bare, "sync_noop": sync_noop, "async_noop": async_noop}
        for case in cases.values():  # Warm up threads, caches and code paths.
            await _per_call(case, max(50, count // 10))
        for _ in range(repeats):
            for name, case in cases.items():
                samples[name].append(await _per_call(case, count) * 1e6)
            manager.expire_invocations()
    return {
        name: {
            "median_us": statistics.median(values),
            "min_us": min(values),
            "max_us": max(values),
        }
        for name, values in samples.items()
    }


def main() -> None:
    """Run the benchmark and print a table (and JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke-sized run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    count, repeats = (200, 3) if args.quick else (3000, 7)
    results = asyncio.run(measure(count, repeats))
    bare = results["bare_thread"]["median_us"]
    print(f"in-process invoke→result, {count} calls x {repeats} repeats (median [min-max])")
    for name, figures in results.items():
        ratio = figures["median_us"] / bare
        print(
            f"  {name:12s} {figures['median_us']:8.1f} µs  "
            f"[{figures['min_us']:.1f}-{figures['max_us']:.1f}]  {ratio:5.2f}x bare thread"
        )
    if args.json:
        record = {
            "benchmark": "inprocess",
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "labthings_async": "0.1.0",
            "anyio": anyio.__version__ if hasattr(anyio, "__version__") else "",
            "count": count,
            "repeats": repeats,
            "results": results,
        }
        with open(args.json, "w") as file:
            json.dump(record, file, indent=2)


if __name__ == "__main__":
    main()
