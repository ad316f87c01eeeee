"""The Invocation: one call of one action, its status state machine, and how it ends.

Layer: domain (stdlib, msgspec, asyncio). ``transition`` is the one place a
status changes: it checks the move is legal, stamps the time, and publishes
the event. ``finish`` is the one place that decides how an invocation ends
(completed, error or cancelled, and the problem details saying why), whether
its action returned, raised, was cancelled by a client or abandoned at
shutdown. Log records and progress may come from worker threads; they reach
the event loop through the manager's ``EventBridge``.

Events carry a snapshot of what they announce, never the invocation, so a
forgotten invocation is freed whatever the event buffers still hold. The
output is encoded once, when the action returns, and that encoding is what
every reply and event sends.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import logging
import struct
import time
import traceback
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from .blob import Blob, absolute_links
from .bridge import EventBridge
from .clock import Clock
from .codec import encode_json
from .context import CancelHook
from .errors import (
    ActionCancelledError,
    IllegalTransitionError,
    InvocationCancelledError,
    InvocationFinishedError,
    InvocationNotFinishedError,
    LabThingsError,
)
from .events import Event, EventHub, Topic
from .extensions import encode_value
from .logs import NOT_CAPTURED, exception_entry, invocation_logger, without_server_details
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

__all__ = ("Invocation", "InvocationHost", "problem_from_exception")

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

    @property
    def bridge(self) -> EventBridge:
        """Carries its log and progress from worker threads to the loop."""

    @property
    def hub(self) -> EventHub:
        """Publishes its events, and owns the firehose of every status change."""

    @property
    def clock(self) -> Clock:
        """Stamps its times."""

    @property
    def debug(self) -> bool:
        """Keep tracebacks and the server's file names in its log, which clients read."""

    def status_changed(self, invocation: Invocation, old: Status) -> None:
        """Bookkeeping after a transition (queue counts, retention)."""

    def find_thing(self, cls: type[Any], name: str | None) -> Thing:
        """Another Thing of the same manager, for a Thing dependency."""


def _cancelled_problem(detail: str) -> ProblemDetails:
    """The problem details of a cancelled invocation: built here and nowhere else."""
    return ProblemDetails(
        type=CANCELLED_PROBLEM_TYPE, title="InvocationCancelledError", status=409, detail=detail
    )


def problem_from_exception(error: BaseException) -> ProblemDetails:
    """Problem details describing an exception raised by an action.

    A ``BaseException`` that is not an ``Exception`` (``SystemExit``,
    ``KeyboardInterrupt``, ``GeneratorExit``, a class of the action's own)
    would stop a program; here it ends only its invocation, and the detail
    says so, since its message alone (an exit code, or nothing) explains little.
    """
    if isinstance(error, InvocationCancelledError):
        return _cancelled_problem(str(error) or "the invocation was cancelled")
    cls = type(error)
    if getattr(builtins, cls.__name__, None) is cls:
        kind = f"https://docs.python.org/3/library/exceptions.html#{cls.__name__}"
    else:
        kind = "about:blank"
    status = error.http_status if isinstance(error, LabThingsError) else 500
    detail = str(error)
    if not isinstance(error, Exception):
        said = f" ({detail})" if detail else ""
        detail = (
            f"the action raised {cls.__name__}{said}, which would stop a program; "
            "it ended this invocation instead, and the server carries on"
        )
    return ProblemDetails(type=kind, title=cls.__name__, status=status, detail=detail)


@functools.cache
def _action_path(thing: str, action: str) -> str:
    """One shared string per action, not one per invocation and event."""
    return f"/{thing}/{action}"


_NEVER = datetime.max.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=64)
def _retention_delta(retention: float) -> timedelta:
    """One timedelta per retention time (there are a handful), not one per invocation."""
    try:
        return timedelta(seconds=retention)
    except OverflowError:
        return timedelta.max


def _expiry(finished: datetime, retention: float) -> datetime:
    """When an invocation finished at ``finished`` expires; ``inf`` means never."""
    try:
        return finished + _retention_delta(retention)
    except OverflowError:  # A huge or infinite retention: keep it (max_retained still bounds).
        return _NEVER


class _AbandonedError(Exception):
    """How ``abandon`` tells ``finish`` that the server gave up waiting for the action."""


@dataclass(frozen=True, slots=True)
class _CancelRequest:
    """Who asked an invocation to stop, and when (``time.monotonic()``)."""

    by_shutdown: bool
    asked_at: float


class Invocation:
    """One call of one action: its input, status, output, log and progress.

    Attributes:
        id_text: Unique ID (a UUID4) as text, as every event and reply carries it.
        thing: The Thing whose action this is.
        action: The action's descriptor.
        input: The validated arguments.
        output: The return value encoded as JSON (``msgspec.Raw``), once
            completed; ``result()`` gives it back as Python. A blob's href
            in it is relative to the API root (see ``output_at``).
        attachments: The blobs in the output, kept (and served) as long as
            the invocation is.
        status: Where it is in its life (``InvocationStatus``).
        time_requested: When it was invoked (UTC).
        time_started: When it started running (UTC), or None.
        time_completed: When it finished (UTC), or None.
        retention_time: Seconds it is kept once finished.
        progress: The latest progress report, or None.
        error: Problem details of the failure, for ``error`` and ``cancelled``.
        exception: The exception the action raised, for ``error``.
        events: The invocation's own event topic (status, log and progress),
            which replays its history to late subscribers. Once finished, an
            invocation whose story was its status changes alone keeps only
            their IDs, and ``events`` rebuilds the topic from it when asked.
        task: The asyncio task running an async action (or waiting for a
            lock), until it finishes; a threaded action has none.
    """

    __slots__ = (
        "__weakref__",
        "_cancel_hook",
        "_cancel_request",
        "_host",
        "_log",
        "_log_len",
        "_logger",
        "_status_ids",
        "_topic",
        "_waiters",
        "action",
        "attachments",
        "error",
        "exception",
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
        # Only the text is kept: every event and reply carries it, and a UUID
        # object besides would double what the ID costs per retained invocation.
        self.id_text = str(uuid.uuid4())
        self.sequence = sequence
        self.thing = thing
        self.thing_name = thing.name
        self.action = action
        self.input = arguments
        self.output: msgspec.Raw | None = None
        self.attachments: tuple[Blob, ...] = ()
        self.status = Status.PENDING
        self.time_requested = host.clock.now()
        self.time_started: datetime | None = None
        self.time_completed: datetime | None = None
        self.retention_time = retention_time
        # Made on first use: most invocations never log, are never cancelled,
        # and many are kept for minutes, so these would be dead weight.
        self._log: deque[LogEntry] | None = None
        self._log_len = log_len
        self._cancel_hook: CancelHook | None = None
        self._cancel_request: _CancelRequest | None = None
        self.progress: Progress | None = None
        self.error: ProblemDetails | None = None
        self.exception: BaseException | None = None
        self._topic: Topic | None = Topic(history_len)
        self._status_ids = b""
        self.task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None
        self._logger: logging.Logger | None = None

    def __repr__(self) -> str:
        return f"<Invocation {self.id_text} {self.action_path} {self.status.value}>"

    @property
    def id(self) -> uuid.UUID:
        """Unique ID (a UUID4)."""
        return uuid.UUID(self.id_text)

    @property
    def expiry_time(self) -> datetime | None:
        """When it will be forgotten (UTC), once finished.

        Worked out when asked, rather than kept: it is ``time_completed``
        plus ``retention_time``, and storing it would cost every retained
        invocation another datetime.
        """
        completed = self.time_completed
        return None if completed is None else _expiry(completed, self.retention_time)

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
            # Publish the hook before reading the request, so a cancel() racing
            # from the loop thread either sees the hook or is seen here.
            self._cancel_hook = hook
            if self._cancel_request is not None:
                hook.set()
        return hook

    @property
    def cancel_requested(self) -> bool:
        """True once ``cancel()`` has been called."""
        return self._cancel_request is not None

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
        return self._host.bridge.on_loop_thread()

    # -- the state machine -----------------------------------------------------

    def transition(
        self,
        status: Status,
        *,
        output: msgspec.Raw | None = None,
        error: ProblemDetails | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """Move to ``status``, stamp the time, and publish the change (loop thread only).

        Ending an invocation is ``finish``'s to decide; this only carries it out.

        Raises:
            IllegalTransitionError: The state machine forbids this move.
        """
        old = self.status
        if status not in _ALLOWED.get(old, frozenset()):
            raise IllegalTransitionError(
                f"invocation {self.id_text} cannot go from {old.value} to {status.value}"
            )
        now = self._host.clock.now()
        self.status = status
        if status is Status.RUNNING:
            self.time_started = now
        else:
            self.time_completed = now
            self.output = output
            self.error = error
            self.exception = exception
        self._host.status_changed(self, old)
        self._publish_status()
        if status.is_finished:
            # Its task is about to end; a retained invocation need not keep it.
            self.task = None
            topic = self._topic
            if topic is not None:
                topic.close()
                if self._status_ids:
                    self._topic = None  # Its story can be rebuilt (see _publish_status).
            waiters = self._waiters
            if waiters is not None:
                self._waiters = None
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def publish_created(self) -> None:
        """Publish the ``pending`` event of a new invocation (loop thread only)."""
        self._publish_status()

    def _publish_status(self) -> None:
        """Publish the status as a snapshot of the invocation now: the event never holds it.

        An invocation's own stream ends with its result. When it finishes
        with nobody following it and nothing but status changes in its
        history, which is most invocations, that last event is not built:
        the IDs of its status changes are kept instead, and ``events``
        rebuilds the same events from the invocation if someone asks.
        """
        hub = self._host.hub
        status = self.status
        summary = Event(
            "status",
            payload=self._snapshot(status),
            thing=self.thing_name,
            affordance=self.action.name,
            terminal=status.is_finished,
        )
        topic = self._topic
        if topic is None:  # Only an invocation tracked after it finished has none.
            hub.publish(summary, hub.invocations)
        elif not status.is_finished:
            hub.publish(summary, topic, hub.invocations)
        elif topic.subscriber_count == 0 and topic.holds_only("status"):
            hub.publish(summary, hub.invocations)
            ids = (*topic.ids(), summary.id)
            self._status_ids = struct.pack(f"{len(ids)}q", *ids)  # A tuple of ints costs 3x.
        else:
            hub.publish_pair(self._final_event(), summary, topic, hub.invocations)

    def _snapshot(self, status: Status) -> StatusChange:
        """The invocation as a ``status`` event says it changed to ``status``."""
        thing = self.thing_name
        return StatusChange(
            id=self.id_text,
            thing=thing,
            action=_action_path(thing, self.action.name),
            status=status,
            time_requested=self.time_requested,
            time_started=None if status is Status.PENDING else self.time_started,
            time_completed=self.time_completed if status.is_finished else None,
        )

    def _final_event(self) -> Event:
        """The last event of its own stream: the finished status, with output or error."""
        thing = self.thing_name
        result = FinalStatus(
            id=self.id_text,
            thing=thing,
            action=_action_path(thing, self.action.name),
            status=self.status,
            time_requested=self.time_requested,
            time_started=self.time_started,
            time_completed=self.time_completed,
            output=self.output,
            error=self.error,
        )
        return Event(
            "status", payload=result, thing=thing, affordance=self.action.name, terminal=True
        )

    @property
    def events(self) -> Topic:
        """Its own event topic; for a finished one kept as IDs, rebuilt now (and closed)."""
        topic = self._topic
        if topic is not None:
            return topic
        ids = struct.unpack(f"{len(self._status_ids) // 8}q", self._status_ids)
        statuses = (Status.PENDING, Status.RUNNING)[: len(ids) - 1]
        rebuilt = []
        for event_id, status in zip(ids, statuses, strict=False):
            event = Event(
                "status",
                payload=self._snapshot(status),
                thing=self.thing_name,
                affordance=self.action.name,
            )
            event.id = event_id
            rebuilt.append(event)
        if ids:
            final = self._final_event()
            final.id = ids[-1]
            rebuilt.append(final)
        return Topic.closed_with(rebuilt)

    # -- how it ends (loop thread) ------------------------------------------------

    def finish(self, output: Any = None, *, error: BaseException | None = None) -> None:
        """End the invocation: the one place that decides how, and says why (loop thread).

        An output that does not fit the action's return annotation, or that
        JSON cannot carry, ends it in ``error``; a cancellation
        (raised by the action, or its task's ``CancelledError``) in
        ``cancelled``, with a detail saying who asked, and how long the action
        took to stop or whether it was abandoned; anything else the action
        raised, any ``BaseException`` (``SystemExit``, ``KeyboardInterrupt``,
        ``GeneratorExit``, a class of its own), in ``error``: user code ends
        its invocation, never the server. A cancellation or failure gets one
        line on the server's console. Finishing a finished invocation does
        nothing.

        Args:
            output: What the action returned (already encoded, or encoded here).
            error: What it raised instead, or the ``CancelledError`` of its task.
        """
        if self.status.is_finished:
            return
        # Whatever its threads logged or reported before this goes out before its end.
        self._host.bridge.flush()
        if error is None:
            attachments: list[Blob] = []
            try:
                encoded = self.action.encode_output(output, attachments)
            except TypeError as unsendable:  # InvalidOutputError is one.
                error = unsendable
            else:
                if attachments:
                    self.attachments = tuple(attachments)
                self.transition(Status.COMPLETED, output=encoded)
                return
        logger = self.thing.logger
        if isinstance(error, InvocationCancelledError | asyncio.CancelledError | _AbandonedError):
            detail = self._cancellation(error)
            log = logger.warning if isinstance(error, _AbandonedError) else logger.info
            log(
                "action %s cancelled (invocation %s): %s",
                self.action.name,
                self.id_text,
                detail,
                extra=NOT_CAPTURED,
            )
            self.transition(Status.CANCELLED, error=_cancelled_problem(detail))
            return
        message = f"action {self.action.name} failed: {type(error).__name__}: {error}"
        self.add_log(exception_entry(logger, message, error))
        # The server's log keeps the traceback, at the level the failure is
        # logged (clients see it only in debug mode: ``add_log``). As text: a
        # record holding the traceback itself would keep the invocation alive
        # for as long as a handler keeps the record.
        logger.error(
            "%s (invocation %s)\n%s",
            message,
            self.id_text,
            "".join(traceback.format_exception(error)).rstrip(),
            extra=NOT_CAPTURED,
        )
        self.transition(Status.ERROR, error=problem_from_exception(error), exception=error)

    def _cancellation(self, error: BaseException) -> str:
        """What to tell a client about how its cancelled invocation ended."""
        request = self._cancel_request
        if request is None:
            # Nobody asked: the action raised the cancellation itself.
            return str(error) or "the action was cancelled without a cancel request"
        if self.status is Status.PENDING:
            if request.by_shutdown:
                return "the server shut down before the invocation started"
            return "the invocation was cancelled before it started"
        waited = time.monotonic() - request.asked_at
        if isinstance(error, _AbandonedError):
            left = (
                "its coroutine was closed" if self.action.is_async else "its thread may still run"
            )
            return (
                f"the server shut down and the action was still running {waited:.2f} s "
                f"after it was asked to stop, so it was abandoned ({left})"
            )
        asker = "the server shut down" if request.by_shutdown else "the invocation was cancelled"
        return f"{asker}; the action stopped {waited:.2f} s after it was asked to"

    def abandon(self) -> None:
        """End a running invocation that did not stop when the shutdown asked (loop thread).

        It ends ``cancelled``, through ``finish``, with a detail saying it was
        abandoned. Its thread, if it has one, may still run; the manager
        closes the coroutine of an async one.
        """
        self.finish(error=_AbandonedError())

    def cancel(self, *, by_shutdown: bool = False) -> None:
        """Cancel the invocation (loop thread only).

        A pending invocation is cancelled at once and never runs; a running
        async action is cancelled for real; a running threaded action is asked
        to stop, and ends ``cancelled`` when it lets the cancellation escape.

        Args:
            by_shutdown: The server is shutting down (rather than a client asking).

        Raises:
            InvocationFinishedError: It has already finished.
        """
        if self.status.is_finished:
            raise InvocationFinishedError(
                f"invocation {self.id_text} has already finished ({self.status.value}); "
                "there is nothing to cancel"
            )
        if self._cancel_request is None:
            self._cancel_request = _CancelRequest(by_shutdown, time.monotonic())
        if self._cancel_hook is not None:
            self._cancel_hook.set()
        task = self.task
        if self.status is Status.PENDING:
            self.finish(error=InvocationCancelledError("cancelled before it started"))
        # A pending invocation's task only waits for a thread; an async
        # action's task is the action itself. A threaded action's thread
        # cannot be interrupted, so its task is left alone.
        if task is not None and (self.action.is_async or self.status.is_finished):
            task.cancel()

    # -- log and progress (any thread) -----------------------------------------

    def add_log(self, entry: LogEntry) -> None:
        """Append a log record and publish it (any thread).

        Outside debug mode the record loses its traceback and source file
        first: clients read this log.
        """
        if not self._host.debug:
            entry = without_server_details(entry)
        log = self._log
        if log is None:
            log = self._log = deque(maxlen=self._log_len)
        log.append(entry)
        if not self.status.is_finished:
            self._host.bridge.send(
                Event("log", payload=entry, thing=self.thing_name, affordance=self.action.name),
                self.events,
            )

    def set_progress(self, percent: float | None, message: str | None = None) -> None:
        """Record progress; a burst of reports is published as its latest one (any thread).

        Reports are coalesced only while nothing else was sent in between, so
        subscribers see progress and log records in the order they happened.
        """
        progress = self.progress = Progress(percent=percent, message=message)
        if not self.status.is_finished:
            host = self._host
            host.bridge.send_latest(
                progress, self.events, self._progress_event, also=(host.hub.progress,)
            )

    def _progress_event(self, progress: Progress) -> Event:
        return Event(
            "progress",
            payload=progress,
            thing=self.thing_name,
            affordance=self.action.name,
            invocation=self.id_text,
        )

    @property
    def logger(self) -> logging.Logger:
        """A logger bound to this invocation: its records land in this log from any thread."""
        if self._logger is None:
            self._logger = invocation_logger(self.thing.logger, self)
        return self._logger

    def find_thing(self, cls: type[Any], name: str | None) -> Thing:
        """Another Thing of the same manager (for Thing dependencies)."""
        return self._host.find_thing(cls, name)

    # -- waiting and results (loop thread) --------------------------------------

    async def wait(self) -> Invocation:
        """Wait until the invocation has finished; returns it."""
        if not self.status.is_finished:
            waiter = self.waiter()
            try:
                await waiter
            finally:
                self.stop_waiting(waiter)
        return self

    def waiter(self) -> asyncio.Future[None]:
        """A future of its own that resolves when the invocation finishes (loop thread).

        For a wait with a limit of the caller's own, cheaper than a cancel
        scope around ``wait()``: give it back with ``stop_waiting`` if you
        stop waiting before it resolves.
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.status.is_finished:
            waiter.set_result(None)
        elif self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        return waiter

    def stop_waiting(self, waiter: asyncio.Future[None]) -> None:
        """Forget a ``waiter`` nobody awaits any more (loop thread)."""
        waiters = self._waiters
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)

    def result(self) -> Any:
        """The output of a completed invocation, decoded afresh from what clients receive.

        It is a copy, typed by the action's return annotation where that
        fits: changing it changes nothing a client sees.

        Raises:
            InvocationNotFinishedError: It has not finished yet.
            ActionCancelledError: It was cancelled (an ordinary exception:
                the ``InvocationCancelledError`` that stopped the action is
                a ``BaseException``, which no caller should have to catch).
            Exception: The exception the action raised, when it failed.
        """
        if self.status is Status.COMPLETED and self.output is not None:
            output_type = self.action.output_type
            if (
                len(self.attachments) == 1
                and isinstance(output_type, type)
                and issubclass(output_type, Blob)
            ):
                return self.attachments[0]  # The blob itself: there are no bytes in JSON.
            return self.action.decode_output(self.output)
        if self.status is Status.CANCELLED:
            detail = f": {self.error.detail}" if self.error and self.error.detail else ""
            raise ActionCancelledError(
                f"action {self.action.name!r} was cancelled (invocation {self.id_text}){detail}",
                msgspec.json.decode(encode_json(self.response())),
                problem=self.error,
            )
        if self.status is Status.ERROR:
            if self.exception is not None:
                raise self.exception
            detail = self.error.detail if self.error else "unknown error"
            raise LabThingsError(f"invocation {self.id_text} failed: {detail}")
        raise InvocationNotFinishedError(
            f"invocation {self.id_text} is {self.status.value}; wait for it to finish first"
        )

    # -- wire representations ---------------------------------------------------

    def _input_at(self, base_url: str) -> dict[str, Any] | msgspec.Raw:
        """The input as a reply echoes it: a blob given as input, as its absolute link."""
        arguments = self.input
        if not any(isinstance(value, Blob) for value in arguments.values()):
            return arguments
        encoded = msgspec.json.encode(arguments, enc_hook=encode_value)
        return msgspec.Raw(absolute_links(encoded, base_url))

    def output_at(self, base_url: str) -> msgspec.Raw | None:
        """The output as a reply under ``base_url`` sends it: blob hrefs made absolute."""
        output = self.output
        if output is None or not self.attachments:
            return output
        return msgspec.Raw(absolute_links(bytes(output), base_url))

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
            input=self._input_at(base_url),
            output=self.output_at(base_url),
            log=list(self._log or ()),
            error=self.error,
        )
