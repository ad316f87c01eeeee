"""The clock that stamps invocations and times their retention, replaceable in tests.

Layer: domain (stdlib, asyncio). An invocation's times (requested, started,
completed, expiry) and the manager's expiry timer all read one ``Clock``, so
a test can hand the manager a clock of its own, move it forward, and see
invocations expire without waiting for real time to pass.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

__all__ = ("Clock", "SystemClock")


class Clock(Protocol):
    """What the manager asks of a clock: the time, and a way to wait."""

    def now(self) -> datetime:
        """The current time, in UTC."""

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""


class SystemClock:
    """Real time: ``datetime.now(UTC)`` and ``asyncio.sleep``."""

    __slots__ = ()

    def now(self) -> datetime:
        """The current time, in UTC."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of real time."""
        await asyncio.sleep(seconds)
