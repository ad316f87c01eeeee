"""Reading and writing a property on behalf of a client, with errors that say which.

Layer: domain (anyio, the declarations, the locks). A stored value is read on
the event loop; a functional getter or setter may block on hardware, and
assigning a setting writes its file, so those run in a worker thread of the
server's property limiter. Whatever they raise becomes an error naming the
property: a setter's ``ValueError`` is the client's mistake (422); anything
else, a getter's included, is the server's (500). A write takes the locks
that guard it (the server-wide lock, the Thing's own) for as long as it
runs, and is refused with ``LockBusyError`` (409) while an invocation holds
one; reads take none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from .errors import InvalidInputError, LabThingsError, PropertyAccessError
from .lock import bind_lock_owner, holding, unbind_lock_owner
from .properties import DataProperty, PropertyDescriptor
from .setting import DataSetting
from .thing import Thing

__all__ = ("read_property", "reset_property_value", "write_property")


class _ClientWrite:
    """Who holds a lock while a client writes a property."""

    __slots__ = ("_text",)

    def __init__(self, thing: str, name: str) -> None:
        self._text = f"a client's write of property {name!r} of Thing {thing!r}"

    def __str__(self) -> str:
        return self._text


async def read_property(
    descriptor: PropertyDescriptor, thing: Thing, limiter: anyio.CapacityLimiter
) -> Any:
    """The property's current value."""
    return await _access(descriptor, "reading", descriptor.read, limiter, thing)


async def write_property(
    descriptor: PropertyDescriptor, thing: Thing, value: Any, limiter: anyio.CapacityLimiter
) -> None:
    """Set an already validated value, holding the locks that guard the write.

    Raises:
        LockBusyError: An invocation holds a lock the write needs.
    """
    locks = thing._locks.needed_by(descriptor) if thing._locks is not None else ()
    if not locks:
        await _access(descriptor, "setting", descriptor.write, limiter, thing, value)
        return
    owner = _ClientWrite(thing.name, descriptor.name)
    with holding(locks, owner, str(owner)):
        # A setter that calls the Thing's actions holds the locks already.
        token = bind_lock_owner(owner)
        try:
            await _access(descriptor, "setting", descriptor.write, limiter, thing, value)
        finally:
            unbind_lock_owner(token)


async def reset_property_value(
    descriptor: PropertyDescriptor, thing: Thing, limiter: anyio.CapacityLimiter
) -> None:
    """Set the property back to its default (a resetter may block: it runs in a thread)."""
    await _access(descriptor, "resetting", descriptor.reset, limiter, thing)


async def _access(
    descriptor: PropertyDescriptor,
    verb: str,
    call: Callable[..., Any],
    limiter: anyio.CapacityLimiter,
    *args: Any,
) -> Any:
    try:
        if isinstance(descriptor, DataProperty) and not (
            verb == "setting" and isinstance(descriptor, DataSetting)
        ):
            return call(*args)  # A stored value: no need for a thread.
        return await anyio.to_thread.run_sync(call, *args, limiter=limiter)
    except LabThingsError:
        raise
    except ValueError as error:
        if verb != "setting":
            raise PropertyAccessError(
                f"{verb} property {descriptor.name!r} failed: ValueError: {error}"
            ) from error
        raise InvalidInputError(f"{verb} property {descriptor.name!r} failed: {error}") from error
    except Exception as error:
        raise PropertyAccessError(
            f"{verb} property {descriptor.name!r} failed: {type(error).__name__}: {error}"
        ) from error
