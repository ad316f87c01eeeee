"""Workload 0: the load generator's own ceiling, against a do-nothing server.

Run: ``python -m benchmarks.ceiling [--quick]``.

Requests per second that 64 concurrent clients reach against ``null_server``
(a canned reply, nothing parsed): with the suite's raw asyncio HTTP/1.1
client, with httpx2 (one ``AsyncClient``, generous pool limits) and with plain
httpx 0.28 (the same), whose pool collapses with many concurrent requests on
one client. The suite's client must reach well above any server's rate in the
other workloads, or those workloads would measure the client.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .load import closed_loop, run_window
from .results import Series, TopicResult
from .servers import Server, serve
from .topic import Settings, run_topic

__all__ = ("measure",)

WORKLOAD = "0 load generator"
CONCURRENCY = 64


async def _library_rate(
    module_name: str, server: Server, seconds: float, warmup: float
) -> float | None:
    """Requests/s of one AsyncClient of ``httpx``-like ``module_name``; None if absent."""
    try:
        module: Any = importlib.import_module(module_name)
    except ImportError:
        return None
    limits = module.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with module.AsyncClient(base_url=server.origin, limits=limits, timeout=60) as client:

        def worker() -> Callable[[], Awaitable[object]]:
            return lambda: client.get("/things/")

        result = await run_window(
            [worker() for _ in range(CONCURRENCY)], seconds=seconds, warmup=warmup
        )
    return result.rate


async def measure(settings: Settings, result: TopicResult) -> None:
    """Measure each client's ceiling, ``settings.repeats`` times, interleaved."""
    seconds, warmup = settings.size((2.0, 0.5), (0.3, 0.1))
    raw64 = result.add(
        Series(
            WORKLOAD,
            f"GET, {CONCURRENCY} clients, raw asyncio HTTP/1.1",
            "loadgen",
            "requests/s",
            "req/s",
        )
    )
    raw1 = result.add(
        Series(WORKLOAD, "GET, 1 client, raw asyncio HTTP/1.1", "loadgen", "requests/s", "req/s")
    )
    libraries = {
        "httpx2": result.add(
            Series(
                WORKLOAD,
                f"GET, {CONCURRENCY} clients, one httpx2.AsyncClient",
                "loadgen",
                "requests/s",
                "req/s",
            )
        ),
        "httpx": result.add(
            Series(
                WORKLOAD,
                f"GET, {CONCURRENCY} clients, one httpx.AsyncClient (0.28)",
                "loadgen",
                "requests/s",
                "req/s",
            )
        ),
    }

    async def get(connection: Any) -> object:
        return await connection.request("GET", "/things/")

    with serve("null", settings.cpus) as server:
        for _ in range(settings.repeats):
            for series, concurrency in ((raw64, CONCURRENCY), (raw1, 1)):
                loop = await closed_loop(
                    server.port, concurrency, get, seconds=seconds, warmup=warmup
                )
                series.samples.append(loop.rate)
            for name, series in libraries.items():
                rate = await _library_rate(name, server, seconds, warmup)
                if rate is not None:
                    series.samples.append(rate)
    for name, series in libraries.items():
        if not series.samples:
            result.series.remove(series)
            result.notes.append(f"{name} is not installed; its ceiling was not measured")
    result.notes.append(
        "the do-nothing server answers from one core; a client rate here is a lower bound "
        "on what that client can drive"
    )


if __name__ == "__main__":
    sys.exit(run_topic("ceiling", measure))
