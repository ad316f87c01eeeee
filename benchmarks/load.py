"""Driving a server: closed-loop concurrent clients, and sequential timed calls.

A closed loop is ``concurrency`` clients, each on its own keep-alive
connection, each doing one operation after another as fast as the server lets
it. After a warm-up, the server's CPU time and the count of finished
operations are read at the start and the end of a fixed window; operations
still in flight at the end are not counted.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .http_client import Connection

__all__ = ("LoopResult", "closed_loop", "open_connections", "run_window", "timed_calls")

Operation = Callable[[Connection], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class LoopResult:
    """What one closed-loop window measured.

    Attributes:
        completed: Operations finished inside the window.
        seconds: The window's length.
        cpu_seconds: Server CPU time used inside the window (NaN if not read).
    """

    completed: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.completed / self.seconds

    @property
    def cpu_per_operation(self) -> float:
        """Server CPU seconds per operation."""
        return self.cpu_seconds / self.completed if self.completed else math.nan


async def open_connections(port: int, count: int) -> list[Connection]:
    """Open ``count`` connections (so connecting is not part of what is timed)."""
    connections = [Connection(port) for _ in range(count)]
    await asyncio.gather(*(connection.open() for connection in connections))
    return connections


async def closed_loop(
    port: int,
    concurrency: int,
    operation: Operation,
    *,
    seconds: float,
    warmup: float,
    cpu: Callable[[], float] | None = None,
) -> LoopResult:
    """Run ``concurrency`` clients, each on its own connection, doing ``operation``."""
    connections = await open_connections(port, concurrency)
    try:
        workers = [_bind(operation, connection) for connection in connections]
        return await run_window(workers, seconds=seconds, warmup=warmup, cpu=cpu)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))


def _bind(operation: Operation, connection: Connection) -> Callable[[], Awaitable[object]]:
    return lambda: operation(connection)


async def run_window(
    workers: list[Callable[[], Awaitable[object]]],
    *,
    seconds: float,
    warmup: float,
    cpu: Callable[[], float] | None = None,
) -> LoopResult:
    """Run each worker back to back; count what finishes inside the measured window."""
    done = 0
    stop = False

    async def client(work: Callable[[], Awaitable[object]]) -> None:
        nonlocal done
        while not stop:
            await work()
            done += 1

    tasks = [asyncio.create_task(client(work)) for work in workers]
    try:
        await asyncio.sleep(warmup)
        _check(tasks)
        count0, cpu0, time0 = done, cpu() if cpu else math.nan, time.perf_counter()
        await asyncio.sleep(seconds)
        count1, cpu1, time1 = done, cpu() if cpu else math.nan, time.perf_counter()
        _check(tasks)
        stop = True
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return LoopResult(count1 - count0, time1 - time0, cpu1 - cpu0)


def _check(tasks: list[asyncio.Task[None]]) -> None:
    """Re-raise the first failure of a client, if one has failed."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def timed_calls(operation: Callable[[], Awaitable[object]], count: int) -> list[float]:
    """Seconds each of ``count`` sequential calls took."""
    durations = []
    for _ in range(count):
        start = time.perf_counter()
        await operation()
        durations.append(time.perf_counter() - start)
    return durations
