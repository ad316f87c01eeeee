"""Helpers shared by the core tests: a cross-thread signal and event readers.

Things themselves are defined inline in each test, next to what they test.
"""

import asyncio
import threading
from collections.abc import Iterable

import anyio

import labthings_async as lt

__all__ = ("Signal", "collect", "names", "wait_for_status")

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
