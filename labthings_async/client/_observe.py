"""Observing a Thing's server: the flows that emit property values and status changes.

Layer: client (stdlib, msgspec, models, client_protocol, client_replies,
remote_thing). Sans-I/O flows, run by either driver: each reads an event
stream with ``read_stream`` (so it resumes after a dropped connection) and
emits what it carries, decoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import httpx2
import msgspec

from ..errors import AffordanceNotFoundError
from ..models import LOST, StatusChange
from ._replies import error_for
from ._sansio import (
    ClientSettings,
    Emit,
    Protocol,
    Step,
    StreamCursor,
    StreamRefusedError,
    read_stream,
)
from ._thing import RemoteThing, property_value
from .eventsource import SSEEvent

__all__ = (
    "invocations_stream_url",
    "observe_invocations_flow",
    "observe_property_flow",
    "property_stream_url",
    "thing_name",
)


def property_stream_url(thing: RemoteThing, name: str) -> str:
    """The URL of a property's event stream.

    Raises:
        NotFoundError: The Thing has no such property.
    """
    thing.property_affordance(name)
    return f"{thing.url}{name}/events"


def invocations_stream_url(
    server_url: str, *, thing: str | None = None, action: str | None = None
) -> str:
    """The URL of the stream of a server's invocations' status changes.

    Args:
        server_url: The root of the server's API, ending in ``/``.
        thing: Only this Thing's invocations.
        action: Only the invocations of this action.
    """
    query = {key: value for key, value in (("thing", thing), ("action", action)) if value}
    url = f"{server_url}action_invocations/events"
    return f"{url}?{urlencode(query)}" if query else url


def thing_name(thing: RemoteThing) -> str:
    """The Thing's name on its server: the last segment of its URL."""
    return urlsplit(thing.url).path.rstrip("/").rpartition("/")[2]


def observe_property_flow(thing: RemoteThing, name: str, settings: ClientSettings) -> Protocol:
    """Emits each new value of a property, from its event stream."""
    url = property_stream_url(thing, name)

    def reread() -> Protocol:
        # Changes were dropped from the server's buffer; the current value is
        # what an observer needs next.
        response: httpx2.Response = yield thing.read_request(name)
        yield Emit(property_value(response, name))

    def handle(event: SSEEvent) -> Iterator[Step]:
        # No property is called LOST (the server refuses one), so the names never clash.
        if event.type == LOST:
            return reread()
        if event.type == name:
            return iter((Emit(json.loads(event.data)),))
        return iter(())

    try:
        yield from read_stream(url, StreamCursor(), handle, settings)
    except StreamRefusedError as refused:
        raise error_for(
            refused.response,
            f"the event stream of property {name!r}",
            missing=AffordanceNotFoundError,
        ) from None


def observe_invocations_flow(url: str, settings: ClientSettings) -> Protocol:
    """Emits a ``StatusChange`` for every status change on the stream at ``url``.

    Args:
        url: The stream, from ``invocations_stream_url``.
        settings: How to reconnect.
    """

    def handle(event: SSEEvent) -> Iterator[Step]:
        if event.type != "status":
            return iter(())
        return iter((Emit(msgspec.json.decode(event.data, type=StatusChange)),))

    try:
        yield from read_stream(url, StreamCursor(), handle, settings)
    except StreamRefusedError as refused:
        raise error_for(refused.response, "the event stream of invocations") from None
