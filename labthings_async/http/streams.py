"""Event-stream endpoints: one invocation's events, every status change, property changes.

Layer: HTTP (starlette, the manager, the event hub). Each endpoint subscribes
and hands the subscription to an ``EventStreamResponse``; a reconnecting
client resumes after its ``Last-Event-ID``. Property streams come named (the
event is the property's name) or unnamed (default ``message`` events, which
is all node-wot 0.9 reads). ``/events`` carries, on one connection, what a
view of the whole server follows (see ``multiplex.py``): a browser allows
only six connections per server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..blob import absolute_links
from ..errors import AffordanceNotFoundError, TooManyStreamsError
from ..events import Event, EventStream, Subscription
from ..extensions import encode_value
from ..invocation import Invocation
from ..models import INVOCATION_EVENT
from ..multiplex import open_server_events
from ..properties import PropertyDescriptor
from ..thing import Thing
from .query import ServerEventsQuery, StreamQuery, decode_query, last_event_id
from .sse import EventStreamResponse, event_frames, named_frame, pace_for, unnamed_frame
from .state import server_state
from .wire import base_url

__all__ = (
    "all_invocation_events",
    "invocation_created",
    "open_stream",
    "stream_response",
    "invocation_events",
    "property_events",
    "property_values",
    "server_events",
    "thing_events",
)


def open_stream(
    request: Request,
    subscription: EventStream,
    render: Callable[[Event], bytes] = named_frame,
    *,
    lead: bytes = b"",
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The event-stream response for ``subscription``, closed when the server shuts down.

    ``lead`` goes out with the greeting, before the first event.

    Raises:
        TooManyStreamsError: ``max_streams`` are open already.
    """
    state = server_state(request)
    frames = event_frames(
        subscription,
        render=render,
        keepalive=state.keepalive,
        retry_ms=state.retry_ms,
        pace=lambda: pace_for(len(state.streams)),
        lifetime=state.stream_lifetime,
        lead=lead,
    )
    return stream_response(request, subscription, frames, status_code=status_code, headers=headers)


def stream_response(
    request: Request,
    subscription: EventStream,
    chunks: AsyncIterator[bytes],
    response_class: type[EventStreamResponse] = EventStreamResponse,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A streaming response sending ``chunks`` as ``subscription`` delivers, until it ends.

    The server's shutdown closes the subscription (so the stream ends) and
    cuts short a write its client does not take; the subscription is
    forgotten however the response ends.

    Raises:
        TooManyStreamsError: ``max_streams`` are open already (the
            subscription is closed).
    """
    state = server_state(request)
    if state.closing:
        subscription.close()
    elif len(state.streams) >= state.max_streams:
        subscription.close()
        retry_after = state.stream_throughput.retry_after(
            len(state.streams) - state.max_streams + 1
        )
        raise TooManyStreamsError(
            f"{len(state.streams)} event streams are open, the most this server serves "
            f"(max_streams); at the rate streams have been closing, retry in about "
            f"{retry_after} s",
            retry_after=retry_after,
        )
    else:
        state.streams.add(subscription)

    def forget() -> None:
        if subscription in state.streams:
            state.streams.discard(subscription)
            state.stream_throughput.record()
        subscription.close()

    client = request.client
    return response_class(
        chunks,
        head_only=request.method == "HEAD",
        headers=headers,
        status_code=status_code,
        on_close=forget,
        shutdown_scopes=state.held,
        stall_timeout=state.stream_stall_timeout,
        client=f"{client.host}:{client.port}" if client else "a client",
    )


async def invocation_events(request: Request) -> Response:
    """``GET /action_invocations/{id}/events``: the invocation's story, then live."""
    manager = server_state(request).manager
    invocation_id: uuid.UUID = request.path_params["id"]
    invocation = manager.get_invocation(invocation_id)
    subscription = manager.subscribe(invocation, after=last_event_id(request))
    return open_stream(request, subscription, _invocation_frame(base_url(request)))


def invocation_created(request: Request, invocation: Invocation, base: str) -> Response:
    """The reply to a ``POST`` that asked for the new invocation's event stream.

    201 and ``Location``, as the JSON reply; then, as a stream, an
    ``invocation`` event holding what the JSON reply would (it has no ID,
    so a reconnection resumes from the events), then the invocation's events
    as on its ``events`` link, from the start, ending after the final status.
    One request follows an invocation from start to end.

    Raises:
        TooManyStreamsError: No stream can be opened now; the invocation
            stands, and the caller replies as usual.
    """
    manager = server_state(request).manager
    lead = b"event: %s\ndata: %s\n\n" % (
        INVOCATION_EVENT.encode(),
        msgspec.json.encode(invocation.response(base), enc_hook=encode_value),
    )
    return open_stream(
        request,
        manager.subscribe(invocation),
        _invocation_frame(base),
        lead=lead,
        status_code=201,
        headers={"Location": f"{base}/action_invocations/{invocation.id_text}"},
    )


def _invocation_frame(base: str) -> Callable[[Event], bytes]:
    """How an invocation's events are framed for a request.

    The last carries the output, whose blob hrefs are made absolute for
    this request, as every other reply makes them.
    """

    def render(event: Event) -> bytes:
        frame = named_frame(event)
        return absolute_links(frame, base) if event.terminal else frame

    return render


async def all_invocation_events(request: Request) -> Response:
    """``GET /action_invocations/events``: every invocation's status changes."""
    query = decode_query(request, StreamQuery)
    subscription = server_state(request).manager.subscribe(
        thing=query.thing, action=query.action, after=last_event_id(request)
    )
    return open_stream(request, subscription)


async def server_events(request: Request) -> Response:
    """``GET /events``: every invocation's status and progress, every property change.

    ``progress`` events (coalesced) carry the invocation's ``id``; property
    changes come as ``property`` events, ``{"thing", "name", "value"}``.
    ``?thing=`` keeps one Thing's.
    """
    query = decode_query(request, ServerEventsQuery)
    manager = server_state(request).manager
    if query.thing is not None:
        manager.get_thing(query.thing)  # An unknown Thing is a 404, not a silent stream.
    subscription = open_server_events(
        manager.hub,
        after=last_event_id(request),
        maxsize=manager.subscriber_queue,
        thing=query.thing,
    )
    return open_stream(request, subscription)


async def thing_events(request: Request, *, thing: Thing) -> Response:
    """``GET /{thing}/events``: changes of all the Thing's properties."""
    manager = server_state(request).manager
    subscription = manager.subscribe_properties(thing=thing.name, after=last_event_id(request))
    return open_stream(request, subscription)


def _property_subscription(
    request: Request, thing: Thing, descriptor: PropertyDescriptor
) -> Subscription:
    if not descriptor.observable:
        raise AffordanceNotFoundError(
            f"property {descriptor.name!r} of {thing.name!r} is not observable: its changes "
            "are not published, so poll it with GET instead"
        )
    return server_state(request).manager.subscribe_properties(
        thing=thing.name, name=descriptor.name, after=last_event_id(request)
    )


async def property_events(
    request: Request, *, thing: Thing, descriptor: PropertyDescriptor
) -> Response:
    """``GET /{thing}/{property}/events``: the property's changes, named after it."""
    return open_stream(request, _property_subscription(request, thing, descriptor))


async def property_values(
    request: Request, *, thing: Thing, descriptor: PropertyDescriptor
) -> Response:
    """``GET /{thing}/{property}/values``: the property's changes as unnamed events."""
    return open_stream(request, _property_subscription(request, thing, descriptor), unnamed_frame)
