"""Reading and writing a property on behalf of a client, with errors that say which.

Layer: domain (anyio, the declarations). A stored value is read on the event
loop; a functional getter or setter may block on hardware, so it runs in a
worker thread of the server's property limiter. Whatever they raise becomes
an error naming the property: a setter's ``ValueError`` is the client's
mistake (422); anything else, a getter's included, is the server's (500).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from .errors import InvalidInputError, LabThingsError, PropertyAccessError
from .properties import DataProperty, PropertyDescriptor
from .thing import Thing

__all__ = ("read_property", "reset_property_value", "write_property")


async def read_property(
    descriptor: PropertyDescriptor, thing: Thing, limiter: anyio.CapacityLimiter
) -> Any:
    """The property's current value."""
    return await _access(descriptor, "reading", descriptor.read, limiter, thing)


async def write_property(
    descriptor: PropertyDescriptor, thing: Thing, value: Any, limiter: anyio.CapacityLimiter
) -> None:
    """Set an already validated value."""
    await _access(descriptor, "setting", descriptor.write, limiter, thing, value)


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
        if isinstance(descriptor, DataProperty):
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
