"""What an action can ask about the invocation it runs in, from any thread.

Layer: domain (errors and models only). The current invocation lives in a
``contextvars.ContextVar``: anyio copies the context into worker threads and
asyncio copies it into tasks, so the helpers work in threaded and async actions
alike, and with many invocations running at once each sees its own.

Progress has a scope, a context variable too. An action calling another
action runs it inline, in the same invocation, so the nested action's own
0-100% would make the caller's bar jump (2% to 100% for every move of a scan,
then back to 25%). Its reports are therefore kept out of the invocation's
progress, logged at DEBUG level instead, unless the caller gives it a share
of its bar with ``progress_span(start, end)``: inside the span, every report
(the caller's own and its nested actions') maps 0-100 onto start-end.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import InvocationCancelledError
from .models import LogEntry, Progress

__all__ = (
    "Binding",
    "CancelHook",
    "InvocationContext",
    "ProgressScope",
    "bind_invocation",
    "cancellable_sleep",
    "current_invocation",
    "nested_action_scope",
    "progress_span",
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

    @property
    def progress(self) -> Progress | None:
        """The latest progress report, or None."""

    @property
    def log(self) -> Any:
        """Its log records so far, oldest first (a sequence of ``LogEntry``)."""

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

    def clear(self) -> None:
        """Withdraw a request to stop that has not been raised yet (LabThings-FastAPI's method)."""
        self._event.clear()

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
    queue of stale ones. Outside an invocation this does nothing. Inside a
    ``progress_span`` the percentage is mapped onto the span; in an action
    called by another action (and outside any span its caller opened) the
    report is kept out of the invocation's progress and logged at DEBUG level.

    Args:
        percent: Completion, 0 to 100, or None if unknown.
        message: What the action is doing now.
    """
    invocation = _current.get()
    if invocation is None:
        return
    scope = _scope.get()
    if scope is None:
        invocation.set_progress(percent, message)
    elif scope.muted:
        invocation.logger.debug("progress of a nested action: %s%% %s", percent, message or "")
    else:
        invocation.set_progress(scope.place(percent, invocation.progress), message)


@dataclass(frozen=True, slots=True)
class ProgressScope:
    """Where reports made in a block land on the invocation's progress bar.

    Attributes:
        low: The percentage a report of 0 lands on.
        high: The percentage a report of 100 lands on.
        muted: Reports are kept out of the invocation's progress altogether.
        claimed: A nested action has taken this span as its whole bar; a
            further action it calls, outside a span of its own, is muted.
    """

    low: float = 0.0
    high: float = 100.0
    muted: bool = False
    claimed: bool = False

    def place(self, percent: float | None, current: Progress | None) -> float | None:
        """Where ``percent`` lands; an unknown one keeps the bar where it is."""
        if percent is None:
            return current.percent if current is not None else None
        return self.low + (self.high - self.low) * percent / 100

    def within(self, start: float, end: float) -> ProgressScope:
        """The span from ``start`` to ``end`` percent of this one."""
        if self.muted:
            return self
        width = self.high - self.low
        return ProgressScope(self.low + width * start / 100, self.low + width * end / 100)

    def for_nested_action(self) -> ProgressScope:
        """The scope of an action called inside this one: the open span, or muted."""
        if self.muted or self.claimed:
            return _MUTED
        return ProgressScope(self.low, self.high, claimed=True)


_MUTED = ProgressScope(muted=True)
_WHOLE_BAR = ProgressScope(claimed=True)

_scope: contextvars.ContextVar[ProgressScope | None] = contextvars.ContextVar(
    "labthings_async_progress_scope", default=None
)


@contextmanager
def progress_span(start: float, end: float) -> Iterator[None]:
    """Give what runs in the block the share ``start``-``end`` of the progress bar.

    Every report inside the block, the action's own and those of the actions
    it calls, maps its 0-100 onto ``start``-``end``. So a scan calling a move
    four times keeps its bar moving forward::

        for i, point in enumerate(points):
            with lt.progress_span(25 * i, 25 * (i + 1)):
                stage.move_to(**point)

    Spans nest: a span inside a span is a share of the outer one.

    Raises:
        ValueError: ``start`` and ``end`` are not ``0 <= start <= end <= 100``.
    """
    if not 0 <= start <= end <= 100:
        raise ValueError(
            f"a progress span needs 0 <= start <= end <= 100, got {start:g} to {end:g}"
        )
    outer = _scope.get() or _WHOLE_BAR
    token = _scope.set(outer.within(start, end))
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def nested_action_scope() -> Iterator[None]:
    """The progress scope of an action called inline by another (``ActionDescriptor`` uses it).

    Outside any invocation, or for the invocation's own action, it does nothing.
    """
    if _current.get() is None:
        yield
        return
    outer = _scope.get()
    token = _scope.set(_MUTED if outer is None else outer.for_nested_action())
    try:
        yield
    finally:
        _scope.reset(token)


Binding = tuple[
    contextvars.Token[InvocationContext | None], contextvars.Token[ProgressScope | None]
]
"""What ``bind_invocation`` returns, for ``unbind_invocation``."""


def bind_invocation(invocation: InvocationContext | None) -> Binding:
    """Make ``invocation`` current in this context, its progress unscoped; returns the binding.

    A task or thread copies the context it was started from, so the progress
    scope of whatever started it is set aside too.
    """
    return _current.set(invocation), _scope.set(None)


def unbind_invocation(binding: Binding) -> None:
    """Undo ``bind_invocation``."""
    current, scope = binding
    _scope.reset(scope)
    _current.reset(current)
