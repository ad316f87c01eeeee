"""A simulated microscope: the example Thing that ``make serve`` puts online.

It shows what a real instrument Thing looks like: typed properties with
constraints, slow actions that report progress, log as they go and can be
cancelled, an async action, a nested action that uses another action inline,
and an action that fails, so clients can see every kind of outcome.
"""

from __future__ import annotations

import enum
import math
import random
from typing import Annotated

import anyio
import msgspec

import labthings_async as lt

__all__ = ("Exposure", "Microscope", "Position")


class Position(msgspec.Struct):
    """A stage position in micrometres."""

    x: float
    y: float
    z: float


class Exposure(enum.StrEnum):
    """Camera exposure presets."""

    SHORT = "short"
    NORMAL = "normal"
    LONG = "long"


_EXPOSURE_SECONDS = {Exposure.SHORT: 0.01, Exposure.NORMAL: 0.05, Exposure.LONG: 0.2}

Micrometres = Annotated[float, msgspec.Meta(ge=-10_000, le=10_000)]


class Microscope(lt.Thing):
    """A simulated microscope with a motorised stage and a camera."""

    speed: float = lt.property(default=500.0, gt=0, le=5000, description="Stage speed in µm/s.")
    exposure: Exposure = lt.property(default=Exposure.NORMAL, description="Camera exposure.")
    moves: int = lt.property(default=0, readonly=True, description="Moves since start-up.")

    def __init__(self) -> None:
        self._position = Position(0.0, 0.0, 0.0)

    @lt.property
    def position(self) -> Position:
        """Where the stage is now."""
        return self._position

    @lt.action
    def move_to(self, x: Micrometres, y: Micrometres, z: Micrometres = 0.0) -> Position:
        """Move the stage, reporting progress; cancellable while it moves."""
        start = self._position
        distance = math.dist((start.x, start.y, start.z), (x, y, z))
        steps = max(1, min(50, int(distance / self.speed * 20)))
        self.logger.info("moving %.1f µm in %d steps", distance, steps)
        for step in range(1, steps + 1):
            lt.cancellable_sleep(distance / self.speed / steps)
            fraction = step / steps
            self._position = Position(
                start.x + (x - start.x) * fraction,
                start.y + (y - start.y) * fraction,
                start.z + (z - start.z) * fraction,
            )
            lt.report_progress(100 * fraction, f"step {step} of {steps}")
        self.moves += 1
        self.logger.info("arrived at %s", self._position)
        return self._position

    @lt.action
    def capture(self, width: int = 8, height: int = 8) -> list[list[int]]:
        """Take a (tiny, random) grey-scale image at the current exposure."""
        lt.cancellable_sleep(_EXPOSURE_SECONDS[self.exposure])
        self.logger.info("captured %dx%d at %s exposure", width, height, self.exposure)
        return [[random.randrange(256) for _ in range(width)] for _ in range(height)]

    @lt.action
    def scan(self, columns: int = 3, rows: int = 3, pitch: float = 100.0) -> int:
        """Capture a grid of images, moving between them; returns how many were taken."""
        total = columns * rows
        for index in range(total):
            row, column = divmod(index, columns)
            self.move_to(x=column * pitch, y=row * pitch)
            self.capture(width=4, height=4)
            lt.report_progress(100 * (index + 1) / total, f"image {index + 1} of {total}")
        return total

    @lt.action
    async def autofocus(self, steps: int = 10) -> float:
        """Find the best focus (async: runs on the event loop, cancelled for real)."""
        best = self._position.z
        for step in range(steps):
            await anyio.sleep(0.02)
            lt.report_progress(100 * (step + 1) / steps)
        self.logger.info("focused at z=%.2f", best)
        return best

    @lt.action
    def fail(self, message: str = "the lamp is broken") -> None:
        """Always fails, to show how errors are reported."""
        self.logger.warning("about to fail")
        raise RuntimeError(message)
