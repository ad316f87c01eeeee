"""Every error labthings_async raises, under one base class, ``LabThingsError``.

Layer: bottom (stdlib and the wire models). Each error names its condition
and carries the structured fields the HTTP layer turns into problem details,
so the message a user reads is built in one place. One class per condition:
a client that learns of a condition from a server's reply raises the same
class the server raised (a 404 is a ``NotFoundError`` on both sides), with
the server's problem details attached. The errors only a client meets (an
action that failed remotely, a server out of reach) are in
``labthings_async.client.errors``, under ``ClientError``.

One class here is not an error, and not a ``LabThingsError``:
``InvocationCancelledError``, the signal that stops a cancelled action. It
derives from ``BaseException``, as ``asyncio.CancelledError`` does (and as
LabThings-FastAPI's does), so an action's ``except Exception:`` does not
swallow it. Whoever waits for a cancelled invocation meets
``ActionCancelledError``, an ordinary ``LabThingsError``, instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .models import FieldIssue, ProblemDetails

__all__ = (
    "ActionCancelledError",
    "ActionDefinitionError",
    "AffordanceNotFoundError",
    "AuthenticationError",
    "BodyTimeoutError",
    "BlobNotFoundError",
    "BodyTooLargeError",
    "CapacityError",
    "ConfigError",
    "IllegalTransitionError",
    "InvalidArgumentsError",
    "InvalidFrameError",
    "InvalidInputError",
    "InvalidOutputError",
    "InvocationCancelledError",
    "InvocationError",
    "InvocationFinishedError",
    "InvocationNotFinishedError",
    "InvocationNotFoundError",
    "LabThingsError",
    "LockBusyError",
    "ManagerNotRunningError",
    "MediaTypeMismatchError",
    "NoInvocationContextError",
    "NotFoundError",
    "PermissionDeniedError",
    "PropertyAccessError",
    "PropertyNotWritableError",
    "PropertyTimeoutError",
    "QueueFullError",
    "RangeNotSatisfiableError",
    "ReadOnlyPropertyError",
    "SchemaError",
    "SettingsError",
    "ThingNotConnectedError",
    "ThingNotFoundError",
    "ThingSetupError",
    "TooManyStreamsError",
    "ThingSlotError",
    "UnknownOptionError",
    "UnsupportedFeatureError",
    "UnsupportedMediaTypeError",
)


class LabThingsError(Exception):
    """Base class of every error raised by labthings_async, server and client.

    Args:
        *args: The message: what went wrong and, where it helps, what to do next.
        problem: The problem details a server sent, when a client raises this
            error because of a server's reply.

    Attributes:
        http_status: The HTTP status the server answers with for this error.
        title: A short, stable summary of the kind of problem.
        problem: The server's problem details, or None if raised locally.
    """

    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, *args: object, problem: ProblemDetails | None = None) -> None:
        super().__init__(*args)
        self.problem = problem


class ActionDefinitionError(LabThingsError, TypeError):
    """A Thing declares an action or property that cannot be served.

    Raised at class definition time, naming the method and the parameter.
    """

    title = "Invalid Thing definition"


class SchemaError(LabThingsError, TypeError):
    """A Python type that cannot be described as a Thing Description DataSchema.

    Raised for recursive types (a TD has no references, so a schema that
    contains itself cannot be written out) and for types msgspec cannot
    describe at all.
    """

    title = "Type cannot be described"


class ConfigError(LabThingsError, ValueError):
    """A config file, or a Thing named in it, cannot be used."""

    title = "Invalid configuration"


class UnknownOptionError(ConfigError, TypeError):
    """An option or config key that nothing reads: a misspelling, most likely.

    A ``TypeError`` too, as Python's own error for an unexpected keyword is.

    Attributes:
        option: The unknown name.
        accepted: The names that are accepted.
        suggestion: The accepted name nearest to ``option``, if one is near.
    """

    def __init__(self, message: str, option: str, accepted: Iterable[str]) -> None:
        super().__init__(message)
        self.option = option
        self.accepted = sorted(accepted)
        close = difflib.get_close_matches(option, self.accepted, n=1)
        self.suggestion = close[0] if close else None


class InvalidInputError(LabThingsError, ValueError):
    """An action's input or a property's value failed validation.

    Raised by the server, and by a client before it sends anything when the
    arguments do not fit the Thing Description's schema (or when the server
    refused them).

    Args:
        detail: The whole message, naming the input and every failing field.
        issues: The failing fields, each with its JSON path.
        malformed: The body was not JSON at all.
        problem: The server's problem details, when a server refused the input.

    Attributes:
        detail: The whole message.
        issues: The failing fields, each with its JSON path.
        malformed: True when the body was not JSON at all (HTTP 400), False when
            it was JSON that broke the schema (HTTP 422).
    """

    title = "Invalid input"
    http_status = 422

    def __init__(
        self,
        detail: str,
        issues: Sequence[FieldIssue] = (),
        *,
        malformed: bool = False,
        problem: ProblemDetails | None = None,
    ) -> None:
        super().__init__(detail, problem=problem)
        self.detail = detail
        self.issues = list(issues)
        self.malformed = malformed

    @property
    def status(self) -> int:
        """The HTTP status for this particular failure (400 or 422)."""
        return 400 if self.malformed else 422

    @property
    def path(self) -> str:
        """The JSON path of the first failing value (``$`` when none is known)."""
        return self.issues[0].path if self.issues else "$"

    @property
    def reason(self) -> str:
        """What was wrong with the first failing value, in msgspec's words."""
        return self.issues[0].message if self.issues else self.detail


InvalidArgumentsError = InvalidInputError
"""The name the README gave the client's error for arguments that do not fit."""


class BodyTooLargeError(LabThingsError):
    """The request body is larger than the server accepts."""

    title = "Request body too large"
    http_status = 413


class BodyTimeoutError(LabThingsError):
    """The request body did not arrive in time (a client sending it a byte at a time)."""

    title = "Request body too slow"
    http_status = 408


class UnsupportedMediaTypeError(LabThingsError):
    """The request body is not declared as JSON."""

    title = "Unsupported media type"
    http_status = 415


class AuthenticationError(LabThingsError):
    """The server wants a token, and the request had none, or one it does not accept."""

    title = "Not authenticated"
    http_status = 401


class PermissionDeniedError(LabThingsError, PermissionError):
    """The request is not allowed: its token's role does not cover it, or another site sent it."""

    title = "Not allowed"
    http_status = 403


class NotFoundError(LabThingsError, LookupError):
    """No such Thing, affordance or invocation: the family of every "not found".

    Raised by the server (answered with 404) and by a client, for a 404 or an
    affordance its Thing Description lacks.
    """

    title = "Not found"
    http_status = 404


class ThingNotFoundError(NotFoundError):
    """No Thing of that name is managed here."""

    title = "Thing not found"


class AffordanceNotFoundError(NotFoundError):
    """The Thing has no action or property of that name."""

    title = "Affordance not found"


class InvocationNotFoundError(NotFoundError):
    """No invocation with that ID is retained (never existed, or expired)."""

    title = "Invocation not found"


class BlobNotFoundError(NotFoundError):
    """No blob with that ID is served here (never existed, or its invocation expired)."""

    title = "Blob not found"


class RangeNotSatisfiableError(LabThingsError):
    """A ``Range`` header that is malformed, or asks for bytes the blob does not have.

    Attributes:
        size: The blob's size in bytes, for the ``Content-Range: bytes */size`` reply.
    """

    title = "Range not satisfiable"
    http_status = 416

    def __init__(self, detail: str, size: int) -> None:
        super().__init__(detail)
        self.size = size


class MediaTypeMismatchError(LabThingsError, ValueError):
    """A blob made with a media type its class does not allow (LabThings' name)."""

    title = "Media type mismatch"


class InvalidFrameError(LabThingsError, ValueError):
    """A frame handed to a camera stream is not a JPEG (no SOI and EOI markers)."""

    title = "Invalid frame"


class InvocationFinishedError(LabThingsError):
    """The invocation has already finished, so it cannot be cancelled."""

    title = "Invocation already finished"
    http_status = 409


class InvocationNotFinishedError(LabThingsError):
    """The invocation has no output yet (or ended without one)."""

    title = "Invocation has no output"
    http_status = 409


class IllegalTransitionError(LabThingsError, RuntimeError):
    """A status change that the invocation state machine forbids."""

    title = "Illegal status transition"


class InvocationCancelledError(BaseException):
    """The signal that stops a cancelled action: raised inside it, never an error.

    The cancellation helpers (``lt.raise_if_cancelled()``,
    ``lt.cancellable_sleep()``, a ``CancelHook``) raise it in a threaded
    action once a client has asked the invocation to stop. Each request to
    cancel raises it once: raising consumes the request, so an action may catch
    it, clean up (sleeping included), and carry on or return; a second request
    raises it again. Let it escape and the invocation ends ``cancelled``;
    catch it and return, and it ends ``completed`` with what the action returned.

    It derives from ``BaseException``, as ``asyncio.CancelledError`` and
    LabThings-FastAPI's class of this name do, so that an ``except
    Exception:`` around a retry or a driver call does not swallow it. Catch it
    by name. Code waiting for a cancelled invocation meets
    ``ActionCancelledError`` instead, an ordinary exception.
    """


class ActionCancelledError(LabThingsError):
    """The invocation waited for was cancelled before it finished.

    Raised to whoever waits for the result: by ``Invocation.result()`` in the
    server's process and by the clients' ``result()`` and action calls. An
    ordinary exception, unlike ``InvocationCancelledError``, which is the
    signal raised inside the cancelled action itself.

    Args:
        message: What was cancelled.
        invocation: The cancelled invocation, in its wire form.
        problem: The problem details the invocation ended with.

    Attributes:
        invocation: The cancelled invocation, in its wire form (``status``,
            ``error``, ``timeRequested``...).
    """

    title = "Invocation cancelled"
    http_status = 409

    def __init__(
        self,
        message: str,
        invocation: Mapping[str, Any] | None = None,
        *,
        problem: ProblemDetails | None = None,
    ) -> None:
        super().__init__(message, problem=problem)
        self.invocation: Mapping[str, Any] = invocation if invocation is not None else {}

    @property
    def invocation_id(self) -> str:
        """The invocation's ID."""
        return str(self.invocation.get("id", ""))


class InvocationError(LabThingsError, RuntimeError):
    """An action's failure it anticipated: raise it to end the invocation in ``error``.

    LabThings-FastAPI's name. The server logs the message (one line, as for
    any failure) and the invocation's problem details carry it.
    """

    title = "Invocation failed"


class InvalidOutputError(LabThingsError, TypeError):
    """An action returned a value that does not fit its return annotation.

    The invocation ends in ``error`` with this message, naming the action, the
    type it declared and what it returned.
    """

    title = "Invalid output"


class NoInvocationContextError(LabThingsError, RuntimeError):
    """Something only an action can ask for was asked for outside any invocation."""

    title = "No invocation"


class UnsupportedFeatureError(LabThingsError, NotImplementedError):
    """A LabThings-FastAPI name that works differently here.

    Raised at once, when the name is used, with a message saying what to
    write instead, so migrated code never runs on with a silent difference.
    """

    title = "Not available in labthings_async"


class CapacityError(LabThingsError):
    """The server has no room for this request now: the family of every "come back later".

    Attributes:
        retry_after: Seconds after which a retry is sensible, estimated from
            how fast room has been freed lately.
    """

    title = "Server busy"
    http_status = 503

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class QueueFullError(CapacityError):
    """Too many invocations are waiting (``max_pending``)."""

    title = "Invocation queue full"


class TooManyStreamsError(CapacityError):
    """Too many event streams are open (``max_streams``)."""

    title = "Too many event streams"


class ReadOnlyPropertyError(LabThingsError, AttributeError):
    """Someone tried to write a read-only property.

    Raised by the server (answered with 405) and by a client, before it sends
    anything, when the Thing Description marks the property read-only.
    """

    title = "Property is read-only"
    http_status = 405


PropertyNotWritableError = ReadOnlyPropertyError
"""The name the README gave the client's error for a read-only property."""


class PropertyAccessError(LabThingsError):
    """A property's getter or setter raised."""

    title = "Property access failed"
    http_status = 500


class PropertyTimeoutError(LabThingsError):
    """A property's getter or setter took longer than the server waits for one."""

    title = "Property access timed out"
    http_status = 504


class ManagerNotRunningError(LabThingsError, RuntimeError):
    """The ActionManager is not running (not started yet, or shutting down)."""

    title = "Server not running"
    http_status = 503


class ThingSetupError(LabThingsError, RuntimeError):
    """A Thing's setup raised, so the server cannot start."""

    title = "Thing setup failed"


class ThingSlotError(ThingSetupError):
    """A Thing's slot (``lt.thing_slot``) cannot be filled, so the server cannot start.

    The message names the Thing, the slot, what it asked for and the Things
    that could have filled it.
    """

    title = "Thing slot cannot be filled"


class ThingNotConnectedError(LabThingsError, RuntimeError):
    """A slot was read before the server filled it (slots are filled at start-up)."""

    title = "Thing slot not filled"


class LockBusyError(LabThingsError):
    """A lock an action or property write needs is held by someone else.

    Raised by the server (answered with 409) when the server-wide lock
    (``enable_global_lock``) or a Thing's own lock (``thing_lock``) is busy,
    and inside an action that calls another action whose lock is held by a
    different invocation. The message names the lock and who holds it.
    """

    title = "Lock busy"
    http_status = 409


class SettingsError(LabThingsError, OSError):
    """A Thing's settings could not be saved to its settings file.

    The message names the file and why; the value in memory has changed, the
    file still holds the previous settings.
    """

    title = "Settings not saved"
