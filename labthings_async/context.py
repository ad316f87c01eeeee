"""What an action can ask about the invocation it runs in, from any thread.

Layer: domain (errors and models only). The current invocation lives in a
``contextvars.ContextVar``: anyio copies the context into worker threads and
asyncio copies it into tasks, so the helpers work in threaded and async actions
alike, and with many invocations running at once each sees its own.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from typing import Any, Protocol

from .errors import InvocationCancelledError
from .models import LogEntry

__all__ = (
    "CancelHook",
    "InvocationContext",
    "bind_invocation",
    "cancellable_sleep",
    "current_invocation",
    "raise_if_cancelled",
    "report_progress",
    "unbind_invocation",
)


class InvocationContext(Protocol):
    """What the helpers here, and the parameters actions ask for, need of an invocation.

    ``Invocation`` provides it; this module owns the description so that it
    need not import the invocation, which sits above it.
    """

    @property
    def id(self) -> uuid.UUID:
        """The invocation's ID."""

    @property
    def action_name(self) -> str:
        """The name of the action it runs."""

    @property
    def cancel_hook(self) -> CancelHook:
        """The flag that asks it to stop."""

    @property
    def logger(self) -> logging.Logger:
        """A logger whose records land in its log."""

    def on_loop_thread(self) -> bool:
        """True when called on the event loop's thread."""

    def set_progress(self, percent: float | None, message: str | None = None) -> None:
        """Record how far it has got."""

    def add_log(self, entry: LogEntry) -> None:
        """Append a record to its log."""

    def find_thing(self, cls: type[Any], name: str | None) -> Any:
        """Another Thing of the same manager, for a Thing parameter."""


_current: contextvars.ContextVar[InvocationContext | None] = contextvars.ContextVar(
    "labthings_async_invocation", default=None
)


class CancelHook:
    """A flag a client sets to ask a running invocation to stop.

    Threaded actions cannot be interrupted, so they look at this flag through
    ``raise_if_set()`` or ``sleep()``. Each request raises
    ``InvocationCancelledError`` once: raising it clears the flag, so an
    action that catches it may clean up (and sleep while it does) without
    the next helper raising again at once; a second request sets the flag
    again. This is LabThings-FastAPI's rule. Let the error escape and the
    invocation ends ``cancelled``.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask the invocation to stop."""
        self._event.set()

    def is_set(self) -> bool:
        """True while a request to stop has not been raised yet."""
        return self._event.is_set()

    def raise_if_set(self) -> None:
        """Raise ``InvocationCancelledError`` if a request to stop is waiting; consume it."""
        if self._event.is_set():
            self._event.clear()
            raise InvocationCancelledError("the invocation was cancelled")

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early to raise ``InvocationCancelledError`` for a request to stop.

        The request is consumed as it is raised, as in ``raise_if_set``.
        """
        if self._event.wait(seconds):
            self._event.clear()
            raise InvocationCancelledError("the invocation was cancelled during a sleep")


def current_invocation() -> InvocationContext | None:
    """The invocation the calling code runs in, or None outside any action."""
    return _current.get()


def raise_if_cancelled() -> None:
    """Raise ``InvocationCancelledError`` if the current invocation was cancelled.

    Outside an invocation this does nothing.
    """
    invocation = _current.get()
    if invocation is not None:
        invocation.cancel_hook.raise_if_set()


def cancellable_sleep(seconds: float) -> None:
    """Sleep in a threaded action, ending early if the invocation is cancelled.

    Outside an invocation this is ``time.sleep``. An async action should
    ``await anyio.sleep(...)`` instead: async actions are cancelled for real.

    Raises:
        InvocationCancelledError: The invocation was cancelled.
        RuntimeError: Called on the event loop thread, where it would block
            every other request.
    """
    invocation = _current.get()
    if invocation is None:
        time.sleep(seconds)
        return
    if invocation.on_loop_thread():
        raise RuntimeError(
            "cancellable_sleep() blocks, so it would stall the event loop in the "
            "async action "
            f"{invocation.action_name!r}; use `await anyio.sleep(...)` there instead"
        )
    invocation.cancel_hook.sleep(seconds)


def report_progress(percent: float | None, message: str | None = None) -> None:
    """Report how far the current invocation has got.

    Bursts of reports are coalesced: subscribers see the latest value, never a
    queue of stale ones. Outside an invocation this does nothing.

    Args:
        percent: Completion, 0 to 100, or None if unknown.
        message: What the action is doing now.
    """
    invocation = _current.get()
    if invocation is not None:
        invocation.set_progress(percent, message)


def bind_invocation(
    invocation: InvocationContext | None,
) -> contextvars.Token[InvocationContext | None]:
    """Make ``invocation`` current in this context; returns the token to reset."""
    return _current.set(invocation)


def unbind_invocation(token: contextvars.Token[InvocationContext | None]) -> None:
    """Undo ``bind_invocation``."""
    _current.reset(token)
