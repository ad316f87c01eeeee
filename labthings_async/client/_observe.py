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
from ..models import StatusChange
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

__all__ = ("observe_invocations_flow", "observe_property_flow")


def observe_property_flow(thing: RemoteThing, name: str, settings: ClientSettings) -> Protocol:
    """Emits each new value of a property, from its event stream."""
    thing.property_affordance(name)
    url = f"{thing.url}{name}/events"

    def reread() -> Protocol:
        # Changes were dropped from the server's buffer; the current value is
        # what an observer needs next.
        response: httpx2.Response = yield thing.read_request(name)
        yield Emit(property_value(response, name))

    def handle(event: SSEEvent) -> Iterator[Step]:
        if event.type == name:
            return iter((Emit(json.loads(event.data)),))
        return reread() if event.type == "lost" else iter(())

    try:
        yield from read_stream(url, StreamCursor(), handle, settings)
    except StreamRefusedError as refused:
        raise error_for(
            refused.response,
            f"the event stream of property {name!r}",
            missing=AffordanceNotFoundError,
        ) from None


def observe_invocations_flow(
    thing: RemoteThing, settings: ClientSettings, *, only_this_thing: bool, action: str | None
) -> Protocol:
    """Emits a ``StatusChange`` for every status change of the server's invocations."""
    query = {}
    if only_this_thing:
        query["thing"] = urlsplit(thing.url).path.rstrip("/").rpartition("/")[2]
    if action is not None:
        query["action"] = action
    url = f"{thing.server_url()}action_invocations/events"
    if query:
        url = f"{url}?{urlencode(query)}"

    def handle(event: SSEEvent) -> Iterator[Step]:
        if event.type != "status":
            return iter(())
        return iter((Emit(msgspec.json.decode(event.data, type=StatusChange)),))

    try:
        yield from read_stream(url, StreamCursor(), handle, settings)
    except StreamRefusedError as refused:
        raise error_for(refused.response, "the event stream of invocations") from None
