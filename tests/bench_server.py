"""A labthings_async server for the command-line tests, on a socket it inherits.

Run as ``python bench_server.py FD``: it serves the Thing ``bench`` on the
listening socket FD, bound by the test, which so knows the port before the
server starts. SIGINT or SIGTERM stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import sys

import labthings_async as lt


class Lamp(enum.StrEnum):
    """Lamp settings."""

    OFF = "off"
    DIM = "dim"
    BRIGHT = "bright"


class Bench(lt.Thing):
    """A test bench."""

    speed: float = lt.property(default=1.0, ge=0, le=10, description="How fast it moves.")
    lamp: Lamp = lt.property(default=Lamp.OFF, description="The lamp.")

    @lt.action
    def count(self, n: int = 3) -> int:
        """Count to n, reporting each step."""
        for step in range(1, n + 1):
            self.logger.info("step %d of %d", step, n)
            lt.report_progress(100 * step / n, f"step {step} of {n}")
        return n

    @lt.action
    def fail(self, message: str = "kaboom") -> None:
        """Always fails."""
        raise ValueError(message)

    @lt.action
    def hold(self, seconds: float = 60.0) -> str:
        """Hold still until the time is up or the invocation is cancelled."""
        self.logger.info("holding")
        lt.report_progress(50, "half way")
        lt.cancellable_sleep(seconds)
        return "held"

    @lt.action
    def stubborn(self, cancel: lt.CancelHook) -> str:
        """Take no notice of a cancel: finish as soon as one comes."""
        self.logger.info("holding")
        with contextlib.suppress(lt.InvocationCancelledError):
            cancel.sleep(60)
        return "held anyway"


def main() -> None:
    """Serve ``bench`` on the socket whose descriptor is the first argument."""
    server = lt.ThingServer({"bench": Bench()})
    asyncio.run(server.serve(f"fd://{int(sys.argv[1])}"))


if __name__ == "__main__":
    main()
