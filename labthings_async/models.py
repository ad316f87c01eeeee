"""Wire models: the msgspec structs that invocations and errors travel as.

Layer: domain, its bottom (stdlib and msgspec only). Python names are
snake_case; the JSON names follow LabThings-FastAPI and the W3C WoT wire
format (``timeRequested``), mapped here once with ``msgspec.field(name=...)``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import msgspec

__all__ = (
    "INVOCATION_EVENT",
    "LOST",
    "FieldIssue",
    "InvocationResponse",
    "InvocationStatus",
    "InvocationSummary",
    "Link",
    "LogEntry",
    "ProblemDetails",
    "Progress",
    "StatusChange",
    "FinalStatus",
)


LOST = "lost"
"""The name, on the wire, of the event saying that events a stream's reader never saw are gone.

Property streams name each event after its property, so no property may be
called this (``Thing`` refuses one when the class is defined): a client can
tell the notice by its name.
"""

INVOCATION_EVENT = "invocation"
"""The name, on the wire, of the event that opens the stream answering an invoking
POST: the invocation, as the JSON reply would hold it."""


class InvocationStatus(enum.StrEnum):
    """Where an invocation is in its life: ``pending → running → finished``."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def is_finished(self) -> bool:
        """True for the three terminal statuses."""
        return self in _FINISHED


_FINISHED = frozenset(
    {InvocationStatus.COMPLETED, InvocationStatus.CANCELLED, InvocationStatus.ERROR}
)


class FieldIssue(msgspec.Struct, frozen=True):
    """One failing field of a request: its JSON path and what was wrong."""

    path: str
    message: str


class ProblemDetails(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem: how every error leaves the server.

    ``errors`` lists the failing fields of a validation problem.
    """

    title: str
    status: int
    detail: str = ""
    type: str = "about:blank"
    instance: str | None = None
    errors: list[FieldIssue] | None = None


class Progress(msgspec.Struct, omit_defaults=True):
    """How far an invocation has got: a percentage and/or a message."""

    percent: float | None = None
    message: str | None = None


class LogEntry(msgspec.Struct):
    """One log record captured during an invocation (LabThings' field names)."""

    message: str
    levelname: str
    levelno: int
    name: str
    filename: str
    lineno: int
    created: datetime
    exception_type: str | None = None
    traceback: str | None = None


class Link(msgspec.Struct):
    """A hyperlink from an invocation to a related resource."""

    rel: str
    href: str
    method: str = "GET"


class InvocationSummary(msgspec.Struct, kw_only=True):
    """An invocation without its input, output, log and error (used in lists)."""

    id: str
    thing: str
    action: str
    status: InvocationStatus
    href: str
    time_requested: datetime = msgspec.field(name="timeRequested")
    time_started: datetime | None = msgspec.field(default=None, name="timeStarted")
    time_completed: datetime | None = msgspec.field(default=None, name="timeCompleted")
    expiry_time: datetime | None = msgspec.field(default=None, name="expiryTime")
    progress: Progress | None = None
    links: list[Link] = msgspec.field(default_factory=list)


class InvocationResponse(InvocationSummary, kw_only=True):
    """The full representation of one invocation."""

    input: Any = None
    output: Any = None
    log: list[LogEntry] = msgspec.field(default_factory=list)
    error: ProblemDetails | None = None


class StatusChange(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The payload of a ``status`` event: an invocation changed status.

    A snapshot taken when the status changed, held by the event in place of
    the invocation. Frozen, and untracked by the garbage collector: it refers
    only to text, times and encoded JSON, so it can be part of no cycle.
    """

    id: str
    thing: str
    action: str
    status: InvocationStatus
    time_requested: datetime = msgspec.field(name="timeRequested")
    time_started: datetime | None = msgspec.field(default=None, name="timeStarted")
    time_completed: datetime | None = msgspec.field(default=None, name="timeCompleted")


class FinalStatus(StatusChange, kw_only=True, frozen=True):
    """The payload of an invocation's own terminal ``status`` event.

    ``output`` is the output as encoded once at completion (``msgspec.Raw``).
    """

    output: Any = None
    error: ProblemDetails | None = None
