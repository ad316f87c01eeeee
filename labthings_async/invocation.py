"""The Invocation: one call of one action, and its status state machine.

Layer: invocation (stdlib, msgspec, asyncio). ``transition`` is the one place a
status changes: it checks the move is legal, stamps the time, and publishes
the event. Log records and progress may come from worker threads; they reach
the event loop through ``loop.call_soon_threadsafe``, and progress is coalesced
so a burst of reports costs one event.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from .context import CancelHook
from .errors import (
    IllegalTransitionError,
    InvocationCancelledError,
    InvocationFinishedError,
    InvocationNotFinishedError,
    LabThingsError,
)
from .events import Event, EventHub, Topic
from .models import (
    FinalStatus,
    InvocationResponse,
    InvocationStatus,
    InvocationSummary,
    Link,
    LogEntry,
    ProblemDetails,
    Progress,
    StatusChange,
)

if TYPE_CHECKING:
    from .action import ActionDescriptor
    from .thing import Thing

__all__ = ("Invocation", "InvocationHost", "StatusEvent", "problem_from_exception")

Status = InvocationStatus

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.CANCELLED}),
    Status.RUNNING: frozenset({Status.COMPLETED, Status.CANCELLED, Status.ERROR}),
}

# LabThings' ThingClient recognises a cancellation only by this problem type.
CANCELLED_PROBLEM_TYPE = (
    "https://labthings-fastapi.readthedocs.io/en/latest/autoapi/labthings_fastapi/"
    "exceptions/index.html#labthings_fastapi.exceptions.InvocationCancelledError"
)


class InvocationHost(Protocol):
    """What an invocation needs from the manager that runs it."""

    loop: asyncio.AbstractEventLoop
    loop_thread_id: int
    hub: EventHub

    def status_changed(self, invocation: Invocation, old: Status) -> None:
        """Bookkeeping after a transition (queue counts, retention)."""

    def find_thing(self, cls: type[Any], name: str | None) -> Thing:
        """Another Thing of the same manager, for a Thing dependency."""


def problem_from_exception(error: BaseException) -> ProblemDetails:
    """Problem details describing an exception raised by an action."""
    if isinstance(error, InvocationCancelledError):
        return ProblemDetails(
            type=CANCELLED_PROBLEM_TYPE,
            title="InvocationCancelledError",
            status=409,
            detail=str(error) or "the invocation was cancelled",
        )
    cls = type(error)
    if getattr(builtins, cls.__name__, None) is cls:
        kind = f"https://docs.python.org/3/library/exceptions.html#{cls.__name__}"
    else:
        kind = "about:blank"
    status = error.http_status if isinstance(error, LabThingsError) else 500
    return ProblemDetails(type=kind, title=cls.__name__, status=status, detail=str(error))


@functools.cache
def _action_path(thing: str, action: str) -> str:
    """One shared string per action, not one per invocation and event."""
    return f"/{thing}/{action}"


def _now() -> datetime:
    return datetime.now(UTC)


def _expiry(finished: datetime, retention: float) -> datetime:
    """When an invocation finished at ``finished`` expires; ``inf`` means never."""
    try:
        return finished + timedelta(seconds=retention)
    except OverflowError:  # A huge or infinite retention: keep it (max_retained still bounds).
        return datetime.max.replace(tzinfo=UTC)


class StatusEvent(Event):
    """A ``status`` event, its payload made from the invocation only when read.

    Nothing is copied at publish time: what a status event says is the
    status it announces plus the invocation's times and result, which do not
    change once set. Most status events are never read, so most never build a
    payload, and a retained invocation carries no copies of its own fields.
    The detailed rendering (an invocation's own stream) adds the output or
    error to a terminal event; the firehose gets the summary.
    """

    __slots__ = ("_detailed", "_status")

    def __init__(self, invocation: Invocation, status: Status, *, detailed: bool) -> None:
        super().__init__(
            "status",
            payload=invocation,
            thing=invocation.thing_name,
            affordance=invocation.action.name,
            terminal=status.is_finished,
        )
        self._status = status
        self._detailed = detailed

    @property
    def data(self) -> bytes:
        """The payload as JSON, encoded on first read and then shared."""
        data = self._data
        if data is None:
            invocation: Invocation = self._payload
            status = self._status
            fields: dict[str, Any] = {
                "id": invocation.id_text,
                "thing": invocation.thing_name,
                "action": invocation.action_path,
                "status": status,
                "time_requested": invocation.time_requested,
                "time_started": None if status is Status.PENDING else invocation.time_started,
                "time_completed": invocation.time_completed if status.is_finished else None,
            }
            if self._detailed:
                payload: StatusChange = FinalStatus(
                    **fields, output=invocation.output, error=invocation.error
                )
            else:
                payload = StatusChange(**fields)
            data = self._data = msgspec.json.encode(payload)
            self._payload = None  # Let an expired invocation go.
        return data


class Invocation:
    """One call of one action: its input, status, output, log and progress.

    Attributes:
        id: Unique ID (a UUID4).
        thing: The Thing whose action this is.
        action: The action's descriptor.
        input: The validated arguments.
        output: The return value, once completed.
        status: Where it is in its life (``InvocationStatus``).
        time_requested: When it was invoked (UTC).
        time_started: When it started running (UTC), or None.
        time_completed: When it finished (UTC), or None.
        retention_time: Seconds it is kept once finished.
        expiry_time: When it will be forgotten (UTC), once finished.
        log: The most recent log records (bounded).
        progress: The latest progress report, or None.
        error: Problem details of the failure, for ``error`` and ``cancelled``.
        exception: The exception the action raised, for ``error``.
        cancel_hook: The flag that asks a running action to stop.
        events: The invocation's own event topic (status, log and progress),
            which replays its history to late subscribers.
    """

    __slots__ = (
        "__weakref__",
        "_cancel_hook",
        "_cancel_requested",
        "_done",
        "_host",
        "_log",
        "_log_len",
        "_logger",
        "_progress_box",
        "_progress_lock",
        "action",
        "error",
        "events",
        "exception",
        "expiry_time",
        "id",
        "id_text",
        "input",
        "output",
        "progress",
        "retention_time",
        "sequence",
        "status",
        "task",
        "thing",
        "thing_name",
        "time_completed",
        "time_requested",
        "time_started",
    )

    def __init__(
        self,
        host: InvocationHost,
        thing: Thing,
        action: ActionDescriptor,
        arguments: dict[str, Any],
        *,
        retention_time: float,
        log_len: int,
        history_len: int,
        sequence: int = 0,
    ) -> None:
        self._host = host
        self.id = uuid.uuid4()
        self.id_text = str(self.id)
        """The ID as text, made once: every event and representation carries it."""
        self.sequence = sequence
        self.thing = thing
        self.thing_name = thing.name
        self.action = action
        self.input = arguments
        self.output: Any = None
        self.status = Status.PENDING
        self.time_requested = _now()
        self.time_started: datetime | None = None
        self.time_completed: datetime | None = None
        self.retention_time = retention_time
        self.expiry_time: datetime | None = None
        # Made on first use: most invocations never log, are never cancelled,
        # and many are kept for minutes, so these would be dead weight.
        self._log: deque[LogEntry] | None = None
        self._log_len = log_len
        self._cancel_hook: CancelHook | None = None
        self._cancel_requested = False
        self.progress: Progress | None = None
        self.error: ProblemDetails | None = None
        self.exception: BaseException | None = None
        self.events = Topic(history_len)
        self.task: asyncio.Task[None] | None = None
        self._done: asyncio.Event | None = None
        self._logger: logging.Logger | None = None
        self._progress_box: list[Progress | None] | None = None
        self._progress_lock: threading.Lock | None = None

    def __repr__(self) -> str:
        return f"<Invocation {self.id} {self.action_path} {self.status.value}>"

    @property
    def log(self) -> Sequence[LogEntry]:
        """The most recent log records, oldest first (at most ``log_len``)."""
        return self._log if self._log is not None else ()

    @property
    def cancel_hook(self) -> CancelHook:
        """The flag that asks a running action to stop (set by ``cancel()``)."""
        hook = self._cancel_hook
        if hook is None:
            hook = CancelHook()
            # Publish the hook before reading the flag, so a cancel() racing
            # from the loop thread either sees the hook or is seen here.
            self._cancel_hook = hook
            if self._cancel_requested:
                hook.set()
        return hook

    @property
    def cancel_requested(self) -> bool:
        """True once ``cancel()`` has been called."""
        return self._cancel_requested

    @property
    def action_name(self) -> str:
        """The action's name."""
        return self.action.name

    @property
    def action_path(self) -> str:
        """``/{thing}/{action}``, as LabThings' ``action`` field has it."""
        return _action_path(self.thing_name, self.action.name)

    @property
    def finished(self) -> bool:
        """True once the invocation is completed, cancelled or failed."""
        return self.status.is_finished

    def on_loop_thread(self) -> bool:
        """True when called on the event loop thread of the manager."""
        return threading.get_ident() == self._host.loop_thread_id

    # -- the state machine -----------------------------------------------------

    def transition(
        self,
        status: Status,
        *,
        output: Any = None,
        error: ProblemDetails | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """Move to ``status``, stamp the time, and publish the change (loop thread only).

        Raises:
            IllegalTransitionError: The state machine forbids this move.
        """
        old = self.status
        if status not in _ALLOWED.get(old, frozenset()):
            raise IllegalTransitionError(
                f"invocation {self.id} cannot go from {old.value} to {status.value}"
            )
        now = _now()
        self.status = status
        if status is Status.RUNNING:
            self.time_started = now
        else:
            self.time_completed = now
            self.expiry_time = _expiry(now, self.retention_time)
            self.output = output
            self.error = error
            self.exception = exception
        self._host.status_changed(self, old)
        self._publish_status()
        if status.is_finished:
            self.events.close()
            if self._done is not None:
                self._done.set()

    def publish_created(self) -> None:
        """Publish the ``pending`` event of a new invocation (loop thread only)."""
        self._publish_status()

    def _publish_status(self) -> None:
        hub = self._host.hub
        summary = StatusEvent(self, self.status, detailed=False)
        if not self.status.is_finished:
            hub.publish(summary, self.events, hub.invocations)
            return
        detailed = StatusEvent(self, self.status, detailed=True)
        hub.publish_pair(detailed, summary, self.events, hub.invocations)

    # -- log and progress (any thread) -----------------------------------------

    def _emit(self, event: Event) -> None:
        """Publish one of this invocation's own events, from any thread."""
        if self.status.is_finished:
            return
        if self._progress_box is not None and self._progress_lock is not None:
            # Seal the scheduled progress report: a later report must not jump
            # ahead of this event by being coalesced into the earlier one.
            with self._progress_lock:
                self._progress_box = None
        self._publish_soon(self._host.hub.publish, event, self.events)

    def _publish_soon(self, publish: Callable[..., None], *args: Any) -> None:
        """Run ``publish`` on the loop: now if on it, else through call_soon_threadsafe."""
        host = self._host
        if threading.get_ident() == host.loop_thread_id:
            publish(*args)
            return
        # RuntimeError: the loop has closed; the server is gone, and the event with it.
        with contextlib.suppress(RuntimeError):
            host.loop.call_soon_threadsafe(publish, *args)

    def add_log(self, entry: LogEntry) -> None:
        """Append a log record and publish it (any thread)."""
        log = self._log
        if log is None:
            log = self._log = deque(maxlen=self._log_len)
        log.append(entry)
        self._emit(Event.lazy("log", entry, thing=self.thing_name, affordance=self.action.name))

    def set_progress(self, percent: float | None, message: str | None = None) -> None:
        """Record progress; a burst of reports is published as its latest one (any thread).

        Reports are coalesced only while nothing else was emitted in between,
        so subscribers see progress and log records in the order they happened.
        """
        progress = self.progress = Progress(percent=percent, message=message)
        if self.status.is_finished:
            return
        if self.on_loop_thread():
            self._publish_progress([progress])
            return
        lock = self._progress_lock
        if lock is None:
            lock = self._progress_lock = threading.Lock()
        with lock:
            box = self._progress_box
            if box is not None:  # A flush is scheduled and nothing came since: coalesce.
                box[0] = progress
                return
            box = self._progress_box = [progress]
        self._publish_soon(self._publish_progress, box)

    def _publish_progress(self, box: list[Progress | None]) -> None:
        if self._progress_lock is not None:
            with self._progress_lock:
                if self._progress_box is box:
                    self._progress_box = None
        if self.status.is_finished:
            return
        hub = self._host.hub
        event = Event.lazy(
            "progress",
            box[0],
            thing=self.thing_name,
            affordance=self.action.name,
            invocation=self.id_text,
        )
        hub.publish(event, self.events, hub.progress)

    @property
    def logger(self) -> logging.Logger:
        """A logger bound to this invocation: its records land in this log from any thread."""
        if self._logger is None:
            parent = self.thing.logger
            # Not registered with logging.getLogger, so it is freed with the invocation.
            logger = logging.Logger(f"{parent.name}.invocation")
            logger.parent = parent
            invocation = self

            def tag(record: logging.LogRecord) -> bool:
                record.labthings_invocation = invocation
                return True

            logger.addFilter(tag)
            self._logger = logger
        return self._logger

    def find_thing(self, cls: type[Any], name: str | None) -> Thing:
        """Another Thing of the same manager (for Thing dependencies)."""
        return self._host.find_thing(cls, name)

    # -- waiting, results and cancelling (loop thread) --------------------------

    async def wait(self) -> Invocation:
        """Wait until the invocation has finished; returns it."""
        if not self.status.is_finished:
            if self._done is None:
                self._done = asyncio.Event()
            await self._done.wait()
        return self

    def result(self) -> Any:
        """The output of a completed invocation.

        Raises:
            InvocationNotFinishedError: It has not finished yet.
            InvocationCancelledError: It was cancelled.
            Exception: The exception the action raised, when it failed.
        """
        if self.status is Status.COMPLETED:
            return self.output
        if self.status is Status.CANCELLED:
            raise InvocationCancelledError(f"invocation {self.id} was cancelled")
        if self.status is Status.ERROR:
            if self.exception is not None:
                raise self.exception
            detail = self.error.detail if self.error else "unknown error"
            raise LabThingsError(f"invocation {self.id} failed: {detail}")
        raise InvocationNotFinishedError(
            f"invocation {self.id} is {self.status.value}; wait for it to finish first"
        )

    def cancel(self) -> None:
        """Cancel the invocation (loop thread only).

        A pending invocation is cancelled at once and never runs; a running
        async action is cancelled for real; a running threaded action is asked
        to stop, and ends ``cancelled`` when it lets the cancellation escape.

        Raises:
            InvocationFinishedError: It has already finished.
        """
        if self.status.is_finished:
            raise InvocationFinishedError(
                f"invocation {self.id} has already finished ({self.status.value}); "
                "there is nothing to cancel"
            )
        self._cancel_requested = True
        if self._cancel_hook is not None:
            self._cancel_hook.set()
        if self.status is Status.PENDING:
            self.transition(
                Status.CANCELLED,
                error=problem_from_exception(
                    InvocationCancelledError("the invocation was cancelled before it started")
                ),
            )
        # A pending invocation's task only waits for a thread; an async
        # action's task is the action itself. A threaded action's thread
        # cannot be interrupted, so its task is left alone.
        if self.task is not None and (self.action.is_async or self.status.is_finished):
            self.task.cancel()

    # -- wire representations ---------------------------------------------------

    def links(self, base_url: str = "") -> list[Link]:
        """Links to this invocation's resources, under ``base_url``."""
        href = f"{base_url}/action_invocations/{self.id_text}"
        return [
            Link(rel="self", href=href),
            Link(rel="output", href=f"{href}/output"),
            Link(rel="events", href=f"{href}/events"),
            Link(rel="cancel", href=href, method="DELETE"),
        ]

    def _summary_fields(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id_text,
            "thing": self.thing_name,
            "action": self.action_path,
            "status": self.status,
            "href": f"{base_url}/action_invocations/{self.id_text}",
            "time_requested": self.time_requested,
            "time_started": self.time_started,
            "time_completed": self.time_completed,
            "expiry_time": self.expiry_time,
            "progress": self.progress,
            "links": self.links(base_url),
        }

    def summary_model(self, base_url: str = "") -> InvocationSummary:
        """The summary used in lists (no input, output, log or error)."""
        return InvocationSummary(**self._summary_fields(base_url))

    def response(self, base_url: str = "") -> InvocationResponse:
        """The full representation."""
        return InvocationResponse(
            **self._summary_fields(base_url),
            input=self.input,
            output=self.output,
            log=list(self._log or ()),
            error=self.error,
        )
