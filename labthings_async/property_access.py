"""Reading and writing a property on behalf of a client, with errors that say which.

Layer: domain (anyio, the declarations, the worker threads). A stored value
is read on the event loop; a functional getter or setter may block on
hardware, so it runs in a daemon worker thread, a bounded number at a time,
and a client waits for it at most ``timeout`` seconds. However one ends, it
becomes an answer naming the property: a setter's ``ValueError`` is the
client's mistake (422); anything else it raises, any ``BaseException``, a
getter's included, is the server's (500); one still running after the time
limit is a 504, and its thread, abandoned, keeps its place in the bound
until it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio

from .errors import (
    InvalidInputError,
    LabThingsError,
    PropertyAccessError,
    PropertyTimeoutError,
)
from .properties import DataProperty, PropertyDescriptor
from .thing import Thing
from .workers import WorkerThreads

__all__ = ("PropertyAccess",)


class PropertyAccess:
    """Runs the getters and setters clients call: in threads, bounded, time-limited.

    Args:
        threads: The worker threads to run them in.
        max_threads: Most getters and setters running at once (abandoned
            ones included, until they return).
        timeout: Seconds a client waits for one (a thread included).
    """

    def __init__(
        self, threads: WorkerThreads, *, max_threads: int = 8, timeout: float = 60.0
    ) -> None:
        self.threads = threads
        self.timeout = timeout
        self._limiter = anyio.CapacityLimiter(max_threads)

    async def read(self, descriptor: PropertyDescriptor, thing: Thing) -> Any:
        """The property's current value.

        Raises:
            PropertyAccessError: The getter raised.
            PropertyTimeoutError: The getter took longer than ``timeout``.
        """
        return await self._access(descriptor, "reading", descriptor.read, thing)

    async def write(self, descriptor: PropertyDescriptor, thing: Thing, value: Any) -> None:
        """Set an already validated value.

        Raises:
            InvalidInputError: The setter raised ``ValueError``.
            PropertyAccessError: The setter raised anything else.
            PropertyTimeoutError: The setter took longer than ``timeout``.
        """
        await self._access(descriptor, "setting", descriptor.write, thing, value)

    async def _access(
        self, descriptor: PropertyDescriptor, verb: str, call: Callable[..., Any], *args: Any
    ) -> Any:
        if isinstance(descriptor, DataProperty):
            return call(*args)  # A stored value: no user code, no thread.
        result, error = await self._in_thread(descriptor, verb, call, *args)
        if error is None:
            return result
        raise _access_error(descriptor, verb, error) from error

    async def _in_thread(
        self, descriptor: PropertyDescriptor, verb: str, call: Callable[..., Any], *args: Any
    ) -> tuple[Any, BaseException | None]:
        limiter = self._limiter
        claim = object()  # Held by the call, not by the request: it may outlive the request.
        with anyio.move_on_after(self.timeout):
            await limiter.acquire_on_behalf_of(claim)
            job = self.threads.submit(call, *args)
            job.add_done_callback(lambda _: limiter.release_on_behalf_of(claim))
            # Shielded: a request that stops waiting leaves the call to finish.
            return await asyncio.shield(job)
        # Only the deadline leaves the block without returning.
        raise PropertyTimeoutError(
            f"{verb} property {descriptor.name!r} took longer than {self.timeout:g} s, so "
            f"the server stopped waiting; {limiter.borrowed_tokens} of "
            f"{limiter.total_tokens:g} property threads are busy"
        )


def _access_error(descriptor: PropertyDescriptor, verb: str, error: BaseException) -> Exception:
    """What a client is told of a getter or setter that raised ``error``."""
    if isinstance(error, LabThingsError):
        return error
    if isinstance(error, ValueError) and verb == "setting":
        return InvalidInputError(f"{verb} property {descriptor.name!r} failed: {error}")
    return PropertyAccessError(
        f"{verb} property {descriptor.name!r} failed: {type(error).__name__}: {error}"
    )
