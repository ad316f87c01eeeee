"""Routes for Server-Sent Event streams: invocations, the firehose, properties.

Layer: HTTP (starlette, the manager). Every stream resumes from the standard
``Last-Event-ID`` header (or a ``lastEventId`` query parameter, for clients
that cannot set headers) and is closed by the server's shutdown trigger before
hypercorn waits for open connections.

- ``/action_invocations/{id}/events``: one invocation's ``status``, ``log`` and
  ``progress`` events, replayed from the start, then live; the stream closes
  after the terminal ``status`` event, which carries the output or error.
- ``/action_invocations/events``: every invocation's ``status`` changes,
  filterable with ``?thing=`` and ``?action=``.
- ``/events``: everything a view of the whole server follows, on one
  connection: every invocation's ``status`` changes and ``progress``
  (coalesced, with the invocation's ``id``), and every Thing's property
  changes as ``property`` events (``{"thing", "name", "value"}``); ``?thing=``
  keeps one Thing's.
- ``/{thing}/events``: changes of all the Thing's properties.
- ``/{thing}/{property}/events``: changes of one property, ``event:`` set to
  its name (WoT HTTP SSE profile); ``/{thing}/{property}/values`` sends the
  same as unnamed events, which is all node-wot 0.9 reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import AffordanceNotFoundError, InvalidInputError, ValidationIssue
from ..events import Event, EventStream, Subscription
from ..multiplex import open_server_events
from .endpoint import Endpoint, problem_endpoint
from .sse import EventStreamResponse, event_frames, named_frame, unnamed_frame
from .state import ServerState

__all__ = ("event_routes",)


# ASCII digits only: str.isdigit() also accepts "²", which int() rejects. Event
# IDs count up from 1, so more digits than an int64 holds is never one we sent
# (and int() refuses strings past a few thousand digits).
_EVENT_ID = re.compile(r"[0-9]{1,19}")


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is None or raw == "":
        return None
    if not _EVENT_ID.fullmatch(raw):
        raise InvalidInputError(
            f"Last-Event-ID must be an event ID this server sent (a whole number), "
            f"got {raw[:40]!r}",
            [ValidationIssue("$.headers.Last-Event-ID", "Expected a whole number")],
        )
    return int(raw)


def event_routes(state: ServerState) -> list[BaseRoute]:
    """The routes of every event stream."""
    manager = state.manager

    def stream(
        request: Request,
        subscription: EventStream,
        render: Callable[[Event], bytes] = named_frame,
    ) -> Response:
        if state.closing:
            subscription.close()
        else:
            state.streams.add(subscription)

        def forget() -> None:
            state.streams.discard(subscription)
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
        invocation = manager.get_invocation(request.path_params["id"])
        subscription = manager.subscribe(invocation, after=_last_event_id(request))
        return stream(request, subscription)

    async def all_invocation_events(request: Request) -> Response:
        query = request.query_params
        subscription = manager.subscribe(
            thing=query.get("thing"), action=query.get("action"), after=_last_event_id(request)
        )
        return stream(request, subscription)

    async def server_events(request: Request) -> Response:
        thing = request.query_params.get("thing")
        if thing is not None:
            manager.get_thing(thing)  # An unknown Thing is a 404, not a silent stream.
        subscription = open_server_events(
            manager.hub,
            after=_last_event_id(request),
            maxsize=manager.subscriber_queue,
            thing=thing,
        )
        return stream(request, subscription)

    async def thing_events(request: Request) -> Response:
        thing = manager.get_thing(request.path_params["thing"])
        subscription = manager.subscribe_properties(thing=thing.name, after=_last_event_id(request))
        return stream(request, subscription)

    def property_subscription(request: Request) -> Subscription:
        thing = manager.get_thing(request.path_params["thing"])
        name = request.path_params["name"]
        descriptor = type(thing).get_property(name)
        if not descriptor.observable:
            raise AffordanceNotFoundError(
                f"property {name!r} of {thing.name!r} is not observable: its changes are "
                "not published, so poll it with GET instead"
            )
        return manager.subscribe_properties(
            thing=thing.name, name=name, after=_last_event_id(request)
        )

    async def property_events(request: Request) -> Response:
        return stream(request, property_subscription(request))

    async def property_values(request: Request) -> Response:
        return stream(request, property_subscription(request), unnamed_frame)

    def route(path: str, endpoint: Endpoint) -> Route:
        return Route(path, problem_endpoint(endpoint, debug=state.debug), methods=["GET"])

    return [
        route("/events", server_events),
        route("/action_invocations/events", all_invocation_events),
        route("/action_invocations/{id}/events", invocation_events),
        route("/{thing}/events", thing_events),
        route("/{thing}/{name}/events", property_events),
        route("/{thing}/{name}/values", property_values),
    ]
