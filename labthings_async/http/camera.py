"""Camera stream routes: the live view, its viewer page, frames, and frame notifications.

Layer: HTTP (starlette, the camera streams, the SSE response). For a stream
``name`` of a Thing, under the Thing's mount:

- ``GET {name}``: ``multipart/x-mixed-replace`` JPEG frames, as LabThings
  serves them, which a browser's ``<img src=...>`` shows as live video. Each
  viewer starts with the latest frame, then gets the newest one each time it
  is ready for more: a slow viewer skips frames. A write the viewer does not
  take is cut short when the server shuts down, like an event stream's.
- ``GET {name}/viewer``: a page showing it (LabThings' viewer).
- ``GET {name}/frame`` and ``{name}/frames/{index}``: one frame as ``image/jpeg``.
- ``GET {name}/events``: a ``frame`` event per new frame (coalesced when they
  come faster than the loop runs), whose ``href`` fetches it.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from functools import partial

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import NotFoundError
from ..events import Subscription
from ..mjpeg import MEDIA_TYPE, MJPEGStream
from ..thing import Thing
from .query import last_event_id
from .sse import EventStreamResponse
from .streams import open_stream, stream_response
from .wire import base_url

__all__ = (
    "MJPEGResponse",
    "camera_routes",
    "frame_events",
    "latest_frame",
    "live_view",
    "numbered_frame",
    "viewer_page",
)

_VIEWER_QUEUE = 2
"""Notifications a viewer holds while it writes; beyond them it skips to the latest frame."""


class MJPEGResponse(EventStreamResponse):
    """A ``multipart/x-mixed-replace`` response of JPEG parts, ended like an event stream."""

    media_type = MEDIA_TYPE


async def _parts(stream: MJPEGStream, subscription: Subscription) -> AsyncIterator[bytes]:
    """The latest frame at once, then the newest one each time the viewer wants more."""
    async with subscription:
        sent = -1
        entry = stream.latest()
        if entry is not None:
            yield entry.part
            sent = entry.index
        while True:
            try:
                await anext(subscription)
            except StopAsyncIteration:
                return
            # Whatever else came while this viewer was writing is skipped.
            while subscription.next_nowait() is not None:
                pass
            entry = stream.latest()
            if entry is not None and entry.index != sent:
                yield entry.part
                sent = entry.index


async def live_view(request: Request, *, thing: Thing, name: str) -> Response:
    """``GET /{thing}/{name}``: the camera's frames as a multipart JPEG stream."""
    stream: MJPEGStream = getattr(thing, name)
    subscription = stream.topic.subscribe(after=None, maxsize=_VIEWER_QUEUE, end_on_terminal=True)
    return stream_response(request, subscription, _parts(stream, subscription), MJPEGResponse)


async def viewer_page(request: Request, *, thing: Thing, name: str) -> Response:
    """``GET /{thing}/{name}/viewer``: a page showing the live view."""
    source = html.escape(f"{base_url(request)}/{thing.name}/{name}", quote=True)
    title = html.escape(f"{thing.title}: {name}")
    return HTMLResponse(
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f'<body><img src="{source}" alt="Live view of {title}"></body></html>\n'
    )


def _jpeg(frame: bytes, index: int) -> Response:
    return Response(
        frame,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Frame-Index": str(index)},
    )


async def latest_frame(request: Request, *, thing: Thing, name: str) -> Response:
    """``GET /{thing}/{name}/frame``: the newest frame, as ``image/jpeg``."""
    stream: MJPEGStream = getattr(thing, name)
    entry = stream.latest()
    if entry is None:
        raise NotFoundError(f"the camera stream {thing.name}/{name} has no frame yet")
    return _jpeg(entry.frame, entry.index)


async def numbered_frame(request: Request, *, thing: Thing, name: str) -> Response:
    """``GET /{thing}/{name}/frames/{index}``: one frame, while the ring buffer holds it."""
    stream: MJPEGStream = getattr(thing, name)
    index: int = request.path_params["index"]
    try:
        entry = stream.entry(index)
    except ValueError as error:
        raise NotFoundError(f"camera stream {thing.name}/{name}: {error}") from None
    return _jpeg(entry.frame, entry.index)


async def frame_events(request: Request, *, thing: Thing, name: str) -> Response:
    """``GET /{thing}/{name}/events``: a ``frame`` event for each new frame."""
    stream: MJPEGStream = getattr(thing, name)
    subscription = stream.topic.subscribe(after=last_event_id(request), end_on_terminal=True)
    return open_stream(request, subscription)


def camera_routes(thing: Thing) -> list[BaseRoute]:
    """The routes of ``thing``'s camera streams, relative to the Thing's mount."""
    routes: list[BaseRoute] = []
    for name in type(thing).streams:
        routes += [
            Route(f"/{name}", partial(live_view, thing=thing, name=name)),
            Route(f"/{name}/viewer", partial(viewer_page, thing=thing, name=name)),
            Route(f"/{name}/frame", partial(latest_frame, thing=thing, name=name)),
            Route(f"/{name}/frames/{{index:int}}", partial(numbered_frame, thing=thing, name=name)),
            Route(f"/{name}/events", partial(frame_events, thing=thing, name=name)),
        ]
    return routes
