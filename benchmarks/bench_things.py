"""The Thing every labthings_async measurement serves (``bench_things:BenchThing``).

It mirrors ``lt_bench_things.LTBenchThing`` (the same affordances written with
LabThings-FastAPI's API), so both servers run the same workload: a no-op, a
sleep, an action that logs ``n`` lines, and a plain data property. The async
variants exist only here: LabThings-FastAPI runs every action in a thread.
"""

from __future__ import annotations

import anyio

import labthings_async as lt

__all__ = ("BenchThing",)


class BenchThing(lt.Thing):
    """Actions and a property that do as little as possible, for benchmarks."""

    value: int = lt.property(default=0, description="A plain data property.")

    @lt.action
    def noop(self) -> None:
        """Do nothing, in a worker thread."""

    @lt.action
    def sleep(self, seconds: float) -> None:
        """Sleep (cancellably) in a worker thread."""
        lt.cancellable_sleep(seconds)

    @lt.action
    def log_lines(self, n: int) -> int:
        """Log ``n`` INFO lines into the invocation's log."""
        for index in range(n):
            self.logger.info("log line %d of %d", index + 1, n)
        return n

    @lt.action
    async def async_noop(self) -> None:
        """Do nothing, on the event loop."""

    @lt.action
    async def async_sleep(self, seconds: float) -> None:
        """Sleep on the event loop (no thread)."""
        await anyio.sleep(seconds)
