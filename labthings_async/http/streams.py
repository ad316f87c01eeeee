"""Event-stream endpoints: one invocation's events, every status change, property changes.

Layer: HTTP (starlette, the manager, the event hub). Each endpoint subscribes
and hands the subscription to an ``EventStreamResponse``; a reconnecting
client resumes after its ``Last-Event-ID``. Property streams come named (the
event is the property's name) or unnamed (default ``message`` events, which
is all node-wot 0.9 reads).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from ..errors import AffordanceNotFoundError, TooManyStreamsError
from ..events import Event, Subscription
from ..properties import PropertyDescriptor
from ..thing import Thing
from .query import StreamQuery, decode_query, last_event_id
from .sse import EventStreamResponse, event_frames, named_frame, unnamed_frame
from .state import server_state

__all__ = (
    "all_invocation_events",
    "invocation_events",
    "property_events",
    "property_values",
    "thing_events",
)


def _stream(
    request: Request,
    subscription: Subscription,
    render: Callable[[Event], bytes] = named_frame,
) -> Response:
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

    frames = event_frames(
        subscription, render=render, keepalive=state.keepalive, retry_ms=state.retry_ms
    )
    return EventStreamResponse(
        frames,
        head_only=request.method == "HEAD",
        on_close=forget,
        shutdown_scopes=state.held,
    )


async def invocation_events(request: Request) -> Response:
    """``GET /action_invocations/{id}/events``: the invocation's story, then live."""
    manager = server_state(request).manager
    invocation_id: uuid.UUID = request.path_params["id"]
    invocation = manager.get_invocation(invocation_id)
    return _stream(request, manager.subscribe(invocation, after=last_event_id(request)))


async def all_invocation_events(request: Request) -> Response:
    """``GET /action_invocations/events``: every invocation's status changes."""
    query = decode_query(request, StreamQuery)
    subscription = server_state(request).manager.subscribe(
        thing=query.thing, action=query.action, after=last_event_id(request)
    )
    return _stream(request, subscription)


async def thing_events(request: Request, *, thing: Thing) -> Response:
    """``GET /{thing}/events``: changes of all the Thing's properties."""
    manager = server_state(request).manager
    subscription = manager.subscribe_properties(thing=thing.name, after=last_event_id(request))
    return _stream(request, subscription)


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
    return _stream(request, _property_subscription(request, thing, descriptor))


async def property_values(
    request: Request, *, thing: Thing, descriptor: PropertyDescriptor
) -> Response:
    """``GET /{thing}/{property}/values``: the property's changes as unnamed events."""
    return _stream(request, _property_subscription(request, thing, descriptor), unnamed_frame)
