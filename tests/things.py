"""Helpers shared by the core tests: a cross-thread signal, a clock, event readers.

Things themselves are defined inline in each test, next to what they test.
"""

import asyncio
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import anyio

import labthings_async as lt

__all__ = ("FakeClock", "Signal", "collect", "names", "wait_for_status")

TIMEOUT = 5.0
"""Seconds any single wait in a test may take before the test fails."""


class Signal:
    """A flag that any thread sets and that both threads and the loop can await.

    Create it on the event loop (inside an async test).
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._async_flag = asyncio.Event()
        self._thread_flag = threading.Event()

    def set(self) -> None:
        """Set the flag, from any thread."""
        self._thread_flag.set()
        if threading.get_ident() == self._loop_thread:
            self._async_flag.set()
        else:
            self._loop.call_soon_threadsafe(self._async_flag.set)

    def is_set(self) -> bool:
        """True once set."""
        return self._thread_flag.is_set()

    async def wait(self, seconds: float = TIMEOUT) -> None:
        """Wait on the loop until the flag is set (fails the test after ``seconds``)."""
        with anyio.fail_after(seconds):
            await self._async_flag.wait()

    def wait_in_thread(self, seconds: float = TIMEOUT) -> None:
        """Block a worker thread until the flag is set; raise if it never is."""
        if not self._thread_flag.wait(seconds):
            raise TimeoutError("the test never set the signal")


class FakeClock:
    """A clock for ``ActionManager(clock=...)`` that moves only when the test moves it.

    ``move`` sets the time on; ``advance`` also wakes every sleeper the new
    time reaches (the manager's expiry timer) and returns once each has done
    its work and gone back to sleep, so the test needs no real waiting.
    Create it inside an async test.
    """

    def __init__(self, start: datetime = datetime(2030, 1, 1, tzinfo=UTC)) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []
        self._sleeps = 0
        self._slept = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), wake))
        self._sleeps += 1
        self._slept.set()
        await wake

    def move(self, seconds: float) -> None:
        """Set the time ``seconds`` on, waking nobody."""
        self._now += timedelta(seconds=seconds)

    async def advance(self, seconds: float) -> int:
        """Set the time on and let every sleeper it reaches run once; returns how many."""
        with anyio.fail_after(TIMEOUT):
            while not any(not wake.done() for _, wake in self._sleepers):  # Nobody asleep yet.
                self._slept.clear()
                await self._slept.wait()
            self.move(seconds)
            due = [
                wake
                for deadline, wake in self._sleepers
                if deadline <= self._now and not wake.done()  # done: its sleeper was cancelled
            ]
            self._sleepers = [entry for entry in self._sleepers if entry[0] > self._now]
            back_asleep = self._sleeps + len(due)
            for wake in due:
                wake.set_result(None)
            while self._sleeps < back_asleep:
                self._slept.clear()
                await self._slept.wait()
        return len(due)


async def collect(subscription: lt.Subscription, seconds: float = TIMEOUT) -> list[lt.Event]:
    """Every event of a subscription until it ends."""
    with anyio.fail_after(seconds):
        async with subscription:
            return [event async for event in subscription]


async def wait_for_status(
    invocation: lt.Invocation, status: lt.InvocationStatus, seconds: float = TIMEOUT
) -> None:
    """Wait until the invocation reaches ``status``, by following its events."""
    if invocation.status is status:
        return
    with anyio.fail_after(seconds):
        async with invocation.events.subscribe(after=0) as subscription:
            async for event in subscription:
                if event.name == "status" and event.json()["status"] == status.value:
                    return
    raise AssertionError(f"{invocation!r} ended without reaching {status.value}")


def names(events: Iterable[lt.Event]) -> list[str]:
    """The names of the events, with each status event written as its status."""
    return [
        f"status:{event.json()['status']}" if event.name == "status" else event.name
        for event in events
    ]
