"""Query parameters (and the ``Last-Event-ID`` header) decoded by msgspec structs.

Layer: HTTP (starlette's request, msgspec, the errors and models). Each route
that reads parameters declares them as a struct, with their types, bounds and
defaults; msgspec decodes the strings (``strict=False``: ``"10"`` is an
``int``) and says what was wrong and where, which becomes a 422 whose issue
path names the parameter: ``$.query.limit``. A number is written as JSON
writes one (``²`` or ``٣`` is none), and one past its declared bounds is
refused before it is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from starlette.requests import Request

from ..errors import InvalidInputError
from ..models import FieldIssue, InvocationStatus
from ..wot.openapi import MAX_PAGE_SIZE, MAX_POSITION

__all__ = (
    "MAX_PAGE_SIZE",
    "PAGE_SIZE",
    "InvocationQuery",
    "InvokeQuery",
    "ServerEventsQuery",
    "StreamQuery",
    "decode_path",
    "decode_query",
    "last_event_id",
)

PAGE_SIZE = 100
"""Invocations on a list page when the query names no ``limit``."""


_POSITION = Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)]
"""A position in the invocation table; no table holds 2**62 invocations."""

Q = TypeVar("Q", bound=msgspec.Struct)


class InvocationQuery(msgspec.Struct, kw_only=True):
    """A page of an invocation list: filters, then ``limit`` from ``offset`` or ``before``.

    Attributes:
        thing: Only this Thing's invocations.
        action: Only this action's invocations.
        status: Only invocations with this status.
        limit: At most this many (the next page is in the ``Link`` header).
        offset: Skip this many first.
        before: Only invocations older than this cursor (a position the
            previous page's ``Link`` header gave).
    """

    thing: str | None = None
    action: str | None = None
    # Unset rather than None: with ``strict=False``, msgspec reads the text
    # "null" as None, so ``?status=null`` would pass for no filter at all.
    status: InvocationStatus | msgspec.UnsetType = msgspec.UNSET
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE
    offset: _POSITION = 0
    before: _POSITION = 0


class InvokeQuery(msgspec.Struct, kw_only=True):
    """How the reply to an invoking ``POST`` is made.

    Attributes:
        reply: ``"output"`` to reply with the output itself once finished (what
            the TD's first ``invokeaction`` form asks for); unset for 201 and
            the invocation.
    """

    reply: Literal["output"] | msgspec.UnsetType = msgspec.UNSET


class StreamQuery(msgspec.Struct, kw_only=True):
    """Filters of the stream of every invocation's status changes.

    Attributes:
        thing: Only this Thing's invocations.
        action: Only this action's invocations.
    """

    thing: str | None = None
    action: str | None = None


class ServerEventsQuery(msgspec.Struct, kw_only=True):
    """Filter of the stream of everything a view of the server follows (``/events``).

    Attributes:
        thing: Only this Thing's invocations and property changes.
    """

    thing: str | None = None


_EVENT_ID_TEXT = re.compile(r"[0-9]{1,18}")
"""An event ID as a client sends it back: digits (ours fit in 18; an int64 holds them)."""


def decode_query(request: Request, query_type: type[Q]) -> Q:
    """The request's query parameters as a ``query_type``; other parameters are ignored.

    Raises:
        InvalidInputError: A parameter does not fit (422), naming it as ``$.query.NAME``.
    """
    if not request.scope.get("query_string"):
        return _decode({}, query_type, "query")  # The usual case: nothing to parse.
    return _decode(request.query_params, query_type, "query")


def decode_path(request: Request, path_type: type[Q]) -> Q:
    """The request's path parameters as a ``path_type``, as ``decode_query`` decodes a query.

    Raises:
        InvalidInputError: A parameter does not fit (422), naming it as ``$.path.NAME``.
    """
    return _decode(request.path_params, path_type, "path")


def last_event_id(request: Request) -> int | None:
    """Where a reconnecting event-stream client resumes: ``Last-Event-ID``, header or query.

    ``EventSource`` sends the header; a client that cannot set headers may
    use the ``lastEventId`` query parameter. Each one given must be an event
    ID (empty: none); the header wins when both are.

    Raises:
        InvalidInputError: A value is not an event ID this server could have sent,
            reported at ``$.headers.Last-Event-ID`` or ``$.query.lastEventId``.
    """
    header = request.headers.get("last-event-id")
    query = request.query_params.get("lastEventId")
    for raw, where, name in ((query, "query", "lastEventId"), (header, "headers", "Last-Event-ID")):
        if raw and _EVENT_ID_TEXT.fullmatch(raw) is None:
            reason = "Expected up to 18 digits, an event ID this server sent"
            raise InvalidInputError(
                f"{where} parameter {name!r} is {raw[:40]!r}: {reason}",
                [FieldIssue(f"$.{where}.{name}", reason)],
            )
    raw = header or query
    return int(raw) if raw else None


def _decode(values: Mapping[str, str], struct_type: type[Q], where: str) -> Q:
    try:
        return msgspec.convert(dict(values), struct_type, strict=False)
    except msgspec.ValidationError as error:
        reason, _, path = str(error).rpartition(" - at `$.")
        name = path.rstrip("`")
        raw = values.get(name, "")
        expected = _choices(struct_type, name)
        raise InvalidInputError(
            f"{where} parameter {name!r} is {raw[:40]!r}: {reason}{expected}",
            [FieldIssue(f"$.{where}.{name}", reason)],
        ) from None


def _choices(struct_type: type[msgspec.Struct], name: str) -> str:
    """``"; expected one of a, b"`` for a parameter with a fixed set of values, else ""."""
    info = msgspec.inspect.type_info(struct_type)
    for field in getattr(info, "fields", ()):
        if field.encode_name == name:
            values = _values(field.type)
            return f"; expected one of {', '.join(values)}" if values else ""
    return ""


def _values(info: Any) -> list[str]:
    if isinstance(info, msgspec.inspect.UnionType):
        return [value for member in info.types for value in _values(member)]
    if isinstance(info, msgspec.inspect.EnumType):
        return [str(member.value) for member in info.cls]
    if isinstance(info, msgspec.inspect.LiteralType):
        return [str(value) for value in info.values]
    return []
