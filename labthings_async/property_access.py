"""Reading and writing a property on behalf of a client, with errors that say which.

Layer: domain (anyio, the declarations, the locks, the worker threads). A
stored value is read on the event loop; a functional getter or setter may
block on hardware, and assigning a setting writes its file, so those run in
a daemon worker thread, a bounded number at a time, and a client waits for
one at most ``timeout`` seconds. However one ends, it becomes an answer
naming the property: a setter's ``ValueError`` is the client's mistake
(422); anything else it raises, any ``BaseException``, a getter's included,
is the server's (500); one still running after the time limit is a 504, and
its thread, abandoned, keeps its place in the bound until it returns. A
write takes the locks that guard it (the server-wide lock, the Thing's own)
for as long as it runs, and is refused with ``LockBusyError`` (409) while an
invocation holds one; reads take none.
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
from .lock import bind_lock_owner, holding, unbind_lock_owner
from .properties import DataProperty, PropertyDescriptor
from .setting import DataSetting
from .thing import Thing
from .workers import WorkerThreads

__all__ = ("PropertyAccess",)


class _ClientWrite:
    """Who holds a lock while a client writes a property."""

    __slots__ = ("_text",)

    def __init__(self, thing: str, name: str) -> None:
        self._text = f"a client's write of property {name!r} of Thing {thing!r}"

    def __str__(self) -> str:
        return self._text


class PropertyAccess:
    """Runs the getters, setters and resetters clients call: in threads, bounded, time-limited.

    Args:
        threads: The worker threads to run them in.
        max_threads: Most getters and setters running at once (abandoned
            ones included, until they return).
        timeout: Seconds a client waits for one (a thread included).

    Attributes:
        threads: The worker threads they run in.
        limiter: Bounds the threads running them (custom endpoints' too).
        timeout: Seconds a client waits for one.
    """

    def __init__(
        self, threads: WorkerThreads, *, max_threads: int = 8, timeout: float = 60.0
    ) -> None:
        self.threads = threads
        self.timeout = timeout
        self.limiter = anyio.CapacityLimiter(max_threads)

    async def read(self, descriptor: PropertyDescriptor, thing: Thing) -> Any:
        """The property's current value.

        Raises:
            PropertyAccessError: The getter raised.
            PropertyTimeoutError: The getter took longer than ``timeout``.
        """
        return await self._access(descriptor, "reading", descriptor.read, thing)

    async def write(self, descriptor: PropertyDescriptor, thing: Thing, value: Any) -> None:
        """Set an already validated value, holding the locks that guard the write.

        Raises:
            InvalidInputError: The setter raised ``ValueError``.
            PropertyAccessError: The setter raised anything else.
            PropertyTimeoutError: The setter took longer than ``timeout``.
            LockBusyError: An invocation holds a lock the write needs.
        """
        locks = thing._locks.needed_by(descriptor) if thing._locks is not None else ()
        if not locks:
            await self._access(descriptor, "setting", descriptor.write, thing, value)
            return
        owner = _ClientWrite(thing.name, descriptor.name)
        with holding(locks, owner, str(owner)):
            # A setter that calls the Thing's actions holds the locks already.
            token = bind_lock_owner(owner)
            try:
                await self._access(descriptor, "setting", descriptor.write, thing, value)
            finally:
                unbind_lock_owner(token)

    async def reset(self, descriptor: PropertyDescriptor, thing: Thing) -> None:
        """Set the property back to its default (a resetter may block: it runs in a thread).

        Raises:
            PropertyAccessError: The resetter raised.
            PropertyTimeoutError: The resetter took longer than ``timeout``.
        """
        await self._access(descriptor, "resetting", descriptor.reset, thing)

    async def _access(
        self, descriptor: PropertyDescriptor, verb: str, call: Callable[..., Any], *args: Any
    ) -> Any:
        if isinstance(descriptor, DataProperty) and not (
            verb == "setting" and isinstance(descriptor, DataSetting)
        ):
            try:
                return call(*args)  # A stored value: no thread needed.
            except Exception as failure:
                raise _access_error(descriptor, verb, failure) from failure
        result, raised = await self._in_thread(descriptor, verb, call, *args)
        if raised is None:
            return result
        raise _access_error(descriptor, verb, raised) from raised

    async def _in_thread(
        self, descriptor: PropertyDescriptor, verb: str, call: Callable[..., Any], *args: Any
    ) -> tuple[Any, BaseException | None]:
        limiter = self.limiter
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
    """What a client is told of a getter, setter or resetter that raised ``error``."""
    if isinstance(error, LabThingsError):
        return error
    if isinstance(error, ValueError) and verb == "setting":
        return InvalidInputError(f"{verb} property {descriptor.name!r} failed: {error}")
    return PropertyAccessError(
        f"{verb} property {descriptor.name!r} failed: {type(error).__name__}: {error}"
    )
