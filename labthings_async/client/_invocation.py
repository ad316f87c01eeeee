"""An invocation seen from the client: what is known of it, and how to follow it.

Layer: client (stdlib, msgspec, models, client_errors, client_protocol,
client_replies).
``InvocationState`` merges everything the client learns about one invocation
(the reply to the POST, events from its SSE stream, polled snapshots, the
reply to a cancel) and turns each *change* into one ``InvocationEvent``, so a
replayed stream, a reconnection or a re-read after ``lost`` never reports the
same thing twice. ``invoking`` is the sans-I/O flow of one invocation: the
POST (whose reply may be its event stream), then ``follow_invocation`` to
the end: the invocation's event stream when the server links one, polling
``links[rel=self]`` when it does not (LabThings-FastAPI 0.3.0).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import msgspec

from ..errors import AffordanceNotFoundError, InvocationNotFoundError
from ..models import INVOCATION_EVENT, LOST, InvocationStatus, LogEntry, ProblemDetails, Progress
from ._replies import checked
from ._sansio import (
    END_STREAM,
    NEXT_EVENT,
    ClientSettings,
    Emit,
    OpenStream,
    Protocol,
    Request,
    Sleep,
    Step,
    StreamCursor,
    StreamRefusedError,
    is_event_stream,
    read_stream,
)
from .errors import (
    ActionCancelledError,
    ActionFailedError,
    ClientError,
    ClientTimeoutError,
    ServerUnavailableError,
)
from .eventsource import SSEEvent

__all__ = (
    "CancelOutcome",
    "InvocationEvent",
    "InvocationState",
    "InvocationView",
    "Listener",
    "accept_invocation",
    "cancel_outcome",
    "describe_cancel",
    "follow_invocation",
    "format_percent",
    "invoking",
)

_EPOCH = "1970-01-01T00:00:00Z"
_RANK = {
    InvocationStatus.PENDING: 0,
    InvocationStatus.RUNNING: 1,
    InvocationStatus.COMPLETED: 2,
    InvocationStatus.ERROR: 2,
    InvocationStatus.CANCELLED: 2,
}


def _is_finished(raw: Any) -> bool:
    status = _status(raw)
    return status is not None and status.is_finished


@dataclass(frozen=True)
class InvocationEvent:
    """One change in an invocation, as a handle's event iterator yields it.

    Attributes:
        name: ``status``, ``log`` or ``progress``.
        data: The new ``InvocationStatus``, the new ``LogEntry``, or the new
            ``Progress``.
        id: The server's event ID, or None when the change was seen by
            polling or in a reply rather than on the event stream.
    """

    name: str
    data: Any
    id: int | None = None


Listener = Callable[[InvocationEvent], None]


class CancelOutcome(enum.Enum):
    """What came of asking the server to cancel an invocation (``cancel_and_wait``)."""

    CANCELLED = "cancelled"
    """It ended ``cancelled``."""
    FINISHED_FIRST = "finished first"
    """It had already finished when the request reached the server; nothing was cancelled."""
    IGNORED = "ignored"
    """The server took the request, and the action went on to complete (or fail) anyway."""
    STILL_RUNNING = "still running"
    """The server took the request; the invocation had not ended when the wait ran out."""
    UNCONFIRMED = "unconfirmed"
    """The request could not be sent, or what followed could not be seen."""


def format_percent(percent: float | None) -> str:
    """A progress percentage as a person reads it: ``14%``, never ``14.000000000000002%``.

    Rounded down, so a bar shows 100% only once the action says it is done;
    the tiny tolerance keeps ``28.999999999999996`` (``100 * 0.29`` in
    floating point) at 29%.
    """
    if percent is None:
        return "?%"
    return f"{math.floor(percent + 1e-9)}%"


class InvocationState:
    """All the client knows about one invocation; records changes as events.

    Args:
        action: The action's name.
        listeners: Called with each new event, in order, by whichever thread
            or task is following the invocation. An exception from one stops
            the following and is raised by ``outcome()``.
        streaming: Whether the invocation will be followed on its event
            stream when it has one (else by polling).

    Attributes:
        output_schema: The action's output schema from the TD, which says
            whether the output is a blob to download.
        streaming: While the invocation's event stream is to be followed,
            progress is taken from the stream alone: a snapshot's progress is
            newer than events the stream has yet to replay, and progress must
            not appear to go backwards.
    """

    def __init__(
        self, action: str, listeners: list[Listener] | None = None, *, streaming: bool = True
    ) -> None:
        self.action = action
        self.streaming = streaming
        self.output_schema: Mapping[str, Any] | None = None
        self.invocation: dict[str, Any] = {}
        self.status: InvocationStatus | None = None
        self.progress: Progress | None = None
        self.log: list[LogEntry] = []
        self.events: list[InvocationEvent] = []
        self.cursor = StreamCursor()
        self.failure: BaseException | None = None
        self.listeners = list(listeners or ())
        self._seen_logs: set[str] = set()

    # -- what is known ----------------------------------------------------------------

    @property
    def id(self) -> str:
        """The invocation's ID."""
        return str(self.invocation.get("id", ""))

    @property
    def finished(self) -> bool:
        """True once the invocation has completed, failed or been cancelled."""
        return self.status is not None and self.status.is_finished

    @property
    def ended(self) -> bool:
        """True once nothing more will be learnt: finished, or following failed."""
        return self.finished or self.failure is not None

    def link(self, rel: str) -> str | None:
        """The href of the invocation's link with relation ``rel``, if it has one."""
        for link in self.invocation.get("links") or ():
            if isinstance(link, Mapping) and link.get("rel") == rel and link.get("href"):
                return str(link["href"])
        return None

    def cancel_url(self) -> str:
        """Where a DELETE cancels the invocation."""
        return self.link("cancel") or self.link("self") or str(self.invocation["href"])

    def outcome(self) -> Any:
        """The output of the finished invocation.

        Raises:
            ActionFailedError: The action raised.
            ActionCancelledError: The invocation was cancelled.
            ClientError: Following the invocation failed before it finished.
        """
        if self.status is InvocationStatus.COMPLETED:
            return self.invocation.get("output")
        snapshot = dict(self.invocation)
        error = _problem(snapshot.get("error"))
        if self.status is InvocationStatus.CANCELLED:
            raise ActionCancelledError(
                f"action {self.action!r} was cancelled (invocation {self.id})",
                snapshot,
                problem=error,
            )
        if self.status is InvocationStatus.ERROR:
            reason = f"{error.title}: {error.detail}" if error else "no reason given"
            raise ActionFailedError(
                f"action {self.action!r} failed: {reason} (invocation {self.id})",
                snapshot,
                problem=error,
                traceback=next((r.traceback for r in reversed(self.log) if r.traceback), None),
            )
        if self.failure is not None:
            raise self.failure
        raise ClientError(f"action {self.action!r} has not finished (invocation {self.id})")

    # -- learning -----------------------------------------------------------------------

    def observe_invocation(self, invocation: Mapping[str, Any]) -> None:
        """Merge a full representation of the invocation (a reply or a poll)."""
        self.invocation.update(invocation)
        if not (self.streaming and self.link("events")) or _is_finished(invocation.get("status")):
            self._set_progress(invocation.get("progress"))
        for record in invocation.get("log") or ():
            self._add_log(record)
        self._set_status(invocation.get("status"))

    def observe_event(self, event: SSEEvent) -> None:
        """Merge one event of the invocation's own stream."""
        try:
            data = json.loads(event.data)
        except ValueError:
            return  # Not ours to understand; the terminal status still will be.
        event_id = (
            int(event.last_event_id)
            if event.last_event_id.isascii() and event.last_event_id.isdigit()
            else None
        )
        if event.type == "log" and isinstance(data, Mapping):
            self._add_log(data, event_id)
        elif event.type == "progress":
            self._set_progress(data, event_id)
        elif event.type == "status" and isinstance(data, Mapping):
            keys = ("status", "timeRequested", "timeStarted", "timeCompleted", "output", "error")
            self.invocation.update({key: data[key] for key in keys if key in data})
            self._set_status(data.get("status"), event_id)

    def fail(self, error: BaseException) -> None:
        """Record that following the invocation failed; ``outcome()`` raises ``error``."""
        self.failure = error

    def _set_status(self, raw: Any, event_id: int | None = None) -> None:
        status = _status(raw)
        if status is None or (self.status is not None and _RANK[status] <= _RANK[self.status]):
            return  # Old news: a replayed event, or a snapshot older than the stream.
        self.status = status
        self._record(InvocationEvent("status", status, event_id))

    def _set_progress(self, raw: Any, event_id: int | None = None) -> None:
        if not isinstance(raw, Mapping) or self.finished:
            return
        progress = msgspec.convert(raw, Progress, strict=False)
        if progress == self.progress:
            return
        self.progress = progress
        self._record(InvocationEvent("progress", progress, event_id))

    def _add_log(self, raw: Mapping[str, Any], event_id: int | None = None) -> None:
        # The same record can arrive twice (in a snapshot and on the stream);
        # all its fields together, its time to the microsecond, identify it.
        identity = json.dumps(raw, sort_keys=True, default=str)
        if identity in self._seen_logs:
            return
        self._seen_logs.add(identity)
        entry = _log_entry(raw)
        self.log.append(entry)
        self._record(InvocationEvent("log", entry, event_id))

    def _record(self, event: InvocationEvent) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)


def _status(raw: Any) -> InvocationStatus | None:
    if raw is None:
        return None
    if raw == "idle":  # LabThings' ThingClient counts it as not started yet.
        return InvocationStatus.PENDING
    try:
        return InvocationStatus(raw)
    except ValueError:
        # LabThings' polling client takes any status it does not know for the
        # end, and a failure; so does this one.
        return InvocationStatus.ERROR


def _log_entry(raw: Mapping[str, Any]) -> LogEntry:
    """A log record from our server, or from LabThings (which has no ``name``)."""
    record = {
        "message": "",
        "levelname": "INFO",
        "levelno": 20,
        "name": "",
        "filename": "",
        "lineno": 0,
        "created": _EPOCH,
        **raw,
    }
    try:
        return msgspec.convert(record, LogEntry, strict=False)
    except msgspec.ValidationError:
        return msgspec.convert(
            {**record, "created": _EPOCH, "message": str(raw.get("message", raw))},
            LogEntry,
            strict=False,
        )


def _problem(raw: Any) -> ProblemDetails | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return msgspec.convert(
            {"title": "Error", "status": 500, **raw}, ProblemDetails, strict=False
        )
    except msgspec.ValidationError:
        return ProblemDetails(title="Error", status=500, detail=str(raw.get("detail", "")))


def describe_cancel(
    state: InvocationState, outcome: CancelOutcome, waited: float, reason: str = ""
) -> str:
    """One line saying what came of a cancel, as the sync client logs it (and the CLI shows it).

    Args:
        state: The invocation.
        outcome: What came of it.
        waited: Seconds the caller waited for the invocation to end.
        reason: Why it is unconfirmed (for ``UNCONFIRMED``).
    """
    which = f"invocation {state.id} of {state.action!r}"
    ended = {
        InvocationStatus.COMPLETED: "completed",
        InvocationStatus.ERROR: "failed",
        InvocationStatus.CANCELLED: "been cancelled",
    }.get(state.status or InvocationStatus.PENDING, "ended")
    if outcome is CancelOutcome.CANCELLED:
        return f"cancelled {which} on the server"
    if outcome is CancelOutcome.FINISHED_FIRST:
        return f"{which} had already {ended} when the cancel reached the server"
    if outcome is CancelOutcome.IGNORED:
        went = "completed" if state.status is InvocationStatus.COMPLETED else "failed"
        return f"{which} ignored the cancel and {went}"
    if outcome is CancelOutcome.STILL_RUNNING:
        status = state.status.value if state.status else "unknown"
        return (
            f"asked the server to cancel {which}; it is still {status} after {waited:g} s "
            "(the action has not reached a point where it stops)"
        )
    return f"could not confirm the cancellation of {which}: {reason}"


def cancel_outcome(state: InvocationState, accepted: bool) -> CancelOutcome:
    """What came of a cancel, from what the client now knows of the invocation.

    Args:
        state: The invocation, followed for a while since the request.
        accepted: Whether the server took the request (it had not finished).
    """
    if not accepted:
        return CancelOutcome.FINISHED_FIRST
    if state.status is InvocationStatus.CANCELLED:
        return CancelOutcome.CANCELLED
    if state.finished:
        return CancelOutcome.IGNORED
    if state.failure is not None:
        return CancelOutcome.UNCONFIRMED
    return CancelOutcome.STILL_RUNNING


# -- following ----------------------------------------------------------------------


def follow_invocation(
    state: InvocationState, settings: ClientSettings, *, stream_open: bool = False
) -> Protocol:
    """The flow that follows an invocation until it finishes.

    Reads the invocation's SSE stream (``links[rel=events]``), reconnecting
    with ``Last-Event-ID`` when it drops and re-reading the invocation after a
    ``lost`` event; polls ``links[rel=self]`` when there is no stream. With
    ``stream_open``, its stream is open already (the reply to the POST that
    invoked it) and is read first.
    """
    events_url = state.link("events") if state.streaming else None
    if stream_open and (state.finished or events_url is None):
        yield END_STREAM  # Nothing to read on it, or nowhere to resume it: let it go.
        stream_open = False
    if state.finished:
        return
    if events_url is not None:

        def handle(event: SSEEvent) -> Iterator[Step] | None:
            state.observe_event(event)
            if state.finished:
                return None
            if event.type == LOST:
                return _reread(state)
            return iter(())

        try:
            yield from read_stream(events_url, state.cursor, handle, settings, opened=stream_open)
            return
        except StreamRefusedError:
            state.streaming = False  # An odd server, or a proxy in the way: poll.
    yield from _poll(state, settings)


def invoking(
    request: Request, state: InvocationState, settings: ClientSettings, *, stream: bool
) -> Protocol:
    """The flow of an invocation: invoke, emit ``state`` once it is named, follow it to its end.

    With ``stream`` (and event streams in use), the POST asks for the
    invocation's event stream as its reply (``Accept: text/event-stream``):
    our server answers 201 and a stream that opens with an ``invocation``
    event, so one request invokes and follows. A server that answers with
    the invocation as JSON instead (LabThings-FastAPI, or ours with every
    stream taken) is followed as usual. The POST is never sent twice: a
    stream that drops is resumed on the invocation's ``events`` link.

    Raises:
        LabThingsError: The server refused the invocation (see ``accept_invocation``).
        ServerUnavailableError: The reply ended before it named the invocation.
    """
    if stream and state.streaming:
        response = yield OpenStream(
            request.url, method=request.method, content=request.content, headers=request.headers
        )
        if is_event_stream(response):
            first: SSEEvent | None = yield NEXT_EVENT
            if first is None or first.type != INVOCATION_EVENT:
                raise ServerUnavailableError(
                    f"the event stream answering the POST to {request.url} ended or went on "
                    f"without naming the invocation; it may be running on the server"
                )
            state.observe_invocation(first.json())
            yield Emit(state)
            yield from follow_invocation(state, settings, stream_open=True)
            return
    else:
        response = yield request
    accept_invocation(state, response)
    yield Emit(state)
    yield from follow_invocation(state, settings)


def accept_invocation(state: InvocationState, response: httpx2.Response) -> InvocationState:
    """Merge the reply to an invoking POST into ``state``.

    Raises:
        LabThingsError: The server refused the invocation (``AffordanceNotFoundError``
            for a 404, ``InvalidInputError`` for refused arguments...).
    """
    state.observe_invocation(
        checked(response, f"action {state.action!r}", missing=AffordanceNotFoundError).json()
    )
    return state


def _reread(state: InvocationState) -> Protocol:
    response: httpx2.Response = yield Request("GET", _self_url(state))
    state.observe_invocation(
        checked(response, _about(state), missing=InvocationNotFoundError).json()
    )


def _poll(state: InvocationState, settings: ClientSettings) -> Protocol:
    polls = failures = 0
    while not state.finished:
        yield Sleep(settings.poll_delay(polls))
        polls += 1
        try:
            response: httpx2.Response = yield Request("GET", _self_url(state))
        except (ServerUnavailableError, ClientTimeoutError):
            failures += 1
            if failures > settings.reconnect_attempts:
                raise
            continue
        failures = 0
        state.observe_invocation(
            checked(response, _about(state), missing=InvocationNotFoundError).json()
        )


def _self_url(state: InvocationState) -> str:
    return state.link("self") or str(state.invocation["href"])


def _about(state: InvocationState) -> str:
    return f"invocation {state.id} of action {state.action!r}"


class InvocationView:
    """What a handle on a running invocation shows, whichever client made it."""

    def __init__(self, state: InvocationState) -> None:
        self._state = state

    @property
    def id(self) -> str:
        """The invocation's ID."""
        return self._state.id

    @property
    def action(self) -> str:
        """The action's name."""
        return self._state.action

    @property
    def status(self) -> InvocationStatus | None:
        """The latest status seen."""
        return self._state.status

    @property
    def progress(self) -> Progress | None:
        """The latest progress report seen, if the action made any."""
        return self._state.progress

    @property
    def log(self) -> list[LogEntry]:
        """The log records seen so far."""
        return list(self._state.log)

    @property
    def done(self) -> bool:
        """True once the invocation has finished (or following it failed)."""
        return self._state.ended

    @property
    def invocation(self) -> dict[str, Any]:
        """The invocation as the server last represented it (its JSON)."""
        return dict(self._state.invocation)

    def _not_finished(self, timeout: float | None) -> ClientTimeoutError:
        """The error for a ``result(timeout=...)`` that ran out."""
        return ClientTimeoutError(
            f"action {self.action!r} has not finished after {timeout:g} s "
            f"(invocation {self.id} is {self.status}); it goes on: wait again, or cancel() it"
        )

    def __repr__(self) -> str:
        status = self.status.value if self.status else "unknown"
        text = f"<{type(self).__name__} {self.action} {self.id} {status}"
        progress = self.progress
        if progress is not None and progress.percent is not None and not self._state.finished:
            text += f" {format_percent(progress.percent)}"
        if progress is not None and progress.message and not self._state.finished:
            text += f" {progress.message!r}"
        return f"{text}>"
