"""The same bench Thing written with LabThings-FastAPI 0.3.0's own API.

Served by ``lt_serve.py``. It has the threaded affordances of
``bench_things.BenchThing`` (LabThings-FastAPI has no async actions).
"""

from __future__ import annotations

import labthings_fastapi as lt

__all__ = ("LTBenchThing",)


class LTBenchThing(lt.Thing):
    """Actions and a property that do as little as possible, for benchmarks."""

    value: int = lt.property(default=0)
    "A plain data property."

    @lt.action
    def noop(self) -> None:
        """Do nothing, in the invocation's thread."""

    @lt.action
    def sleep(self, seconds: float) -> None:
        """Sleep (cancellably) in the invocation's thread."""
        lt.cancellable_sleep(seconds)

    @lt.action
    def log_lines(self, n: int) -> int:
        """Log ``n`` INFO lines into the invocation's log."""
        for index in range(n):
            self.logger.info("log line %d of %d", index + 1, n)
        return n
