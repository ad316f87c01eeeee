"""The server schemathesis fuzzes: ``python fuzz_server.py FD``.

Its Thing has a little of everything an OpenAPI document must describe:
observable and read-only properties, a structured value, threaded and async
actions with required and optional arguments, one that fails and one that
reports progress and logs. Every input is bounded, so no generated value can
make an action run for long or take much memory.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
from typing import Annotated

import msgspec

import labthings_async as lt
from labthings_async.server import ThingServer


class Mode(enum.StrEnum):
    FAST = "fast"
    FINE = "fine"


class Point(msgspec.Struct):
    x: Annotated[float, msgspec.Meta(ge=-100, le=100)]
    y: Annotated[float, msgspec.Meta(ge=-100, le=100)]


Count = Annotated[int, msgspec.Meta(ge=0, le=5)]


class Plotter(lt.Thing):
    """A plotter whose every input is small."""

    speed: float = lt.property(default=1.0, ge=0.1, le=10.0)
    mode: Mode = lt.property(default=Mode.FAST)
    label: Annotated[str, msgspec.Meta(max_length=20)] = lt.property(default="plotter")
    strokes: int = lt.property(default=0, readonly=True)

    def __init__(self) -> None:
        self._pen = Point(0.0, 0.0)

    @lt.property
    def pen(self) -> Point:
        """Where the pen is."""
        return self._pen

    @lt.action
    def draw(self, to: Point, repeats: Count = 1) -> Point:
        """Move the pen, drawing."""
        for step in range(repeats):
            lt.report_progress(100 * (step + 1) / max(repeats, 1))
        self._pen = to
        self.strokes += 1
        return to

    @lt.action
    async def lift(self, seconds: Annotated[float, msgspec.Meta(ge=0, le=0.05)] = 0.0) -> bool:
        """Lift the pen (async)."""
        await asyncio.sleep(seconds)
        return True

    @lt.action
    def jam(self, reason: Annotated[str, msgspec.Meta(max_length=30)] = "paper") -> None:
        """Always fails."""
        self.logger.info("jamming: %s", reason)
        raise RuntimeError(f"jammed by {reason}")


def main() -> None:
    logging.basicConfig(level="WARNING")
    # Property streams last until their client goes; schemathesis reads a
    # response to its end, so streams here end after a second (a client
    # reconnects with Last-Event-ID: what stream_lifetime is for).
    server = ThingServer(
        {"plotter": Plotter()},
        max_wait=1.0,
        sync_timeout=2.0,
        keepalive=0.5,
        stream_lifetime=1.0,
    )
    asyncio.run(server.serve(f"fd://{sys.argv[1]}"))


if __name__ == "__main__":
    main()
