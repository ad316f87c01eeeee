"""Test-only instruments for the browser tests: a camera with a live view, files as outputs.

Camera streams and blob outputs are issue 12's, not on this branch yet. What
the page relies on is their wire form, and that is what this rig serves: a
TD whose top-level ``links`` has a ``multipart/x-mixed-replace`` entry
(``href`` relative to the TD's ``base``), a route streaming JPEG frames there,
and actions returning LabThings' blob JSON ``{"href", "media_type"}`` with
files served at the href. The host app puts these routes in front of a
ThingServer's app, as a test-only stand-in.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route

import labthings_async as lt
from labthings_async.wot.td import thing_description

__all__ = ("Camera", "FRAME_COLOURS", "camera_app")

FRAME_COLOURS = [(220, 40, 40), (40, 180, 60), (40, 80, 220), (230, 200, 30)]
"""The frames of the test camera, one plain colour each, in turn."""

_CSV = b"x,y\n0,0\n1,1\n"


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class Camera(lt.Thing):
    """A test camera: a live view, and actions that return files."""

    exposure_ms: float = lt.property(default=10.0, gt=0, le=1000, description="Exposure time.")

    def __init__(self) -> None:
        self.files_url = ""

    @lt.action
    def snapshot(self) -> dict[str, str]:
        """Take a picture: an image file."""
        return {"href": f"{self.files_url}/snapshot.png", "media_type": "image/png"}

    @lt.action
    def export(self) -> dict[str, str]:
        """Export the data: a CSV file."""
        return {"href": f"{self.files_url}/data.csv", "media_type": "text/csv"}


def camera_app(
    server: lt.ThingServer, camera_name: str = "camera"
) -> tuple[Starlette, Callable[[], None]]:
    """A host app: the camera's stream, its files and a TD with the stream's link, then ``server``.

    Args:
        server: The ThingServer serving the camera (mounted at the root).
        camera_name: The camera Thing's name in ``server``.

    Returns:
        The app, and what to call on its loop before it stops: it ends the
        camera streams and the server's event streams, which hypercorn would
        otherwise wait for.
    """
    stopping = threading.Event()
    frames = [_jpeg(colour) for colour in FRAME_COLOURS]

    async def stream(request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            index = 0
            while not stopping.is_set():
                frame = frames[index % len(frames)]
                yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (
                    len(frame),
                    frame,
                )
                index += 1
                await asyncio.sleep(0.15)

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame")

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "snapshot.png":
            return Response(_png(FRAME_COLOURS[1]), media_type="image/png")
        return Response(_CSV, media_type="text/csv")

    async def descriptions(request: Request) -> Response:
        # This route is the host app's, in front of the ThingServer mounted at its root.
        root = str(request.base_url).rstrip("/")
        described: dict[str, Any] = {}
        for name, thing in server.manager.things.items():
            td = thing_description(thing, f"{root}/{name}/")
            if name == camera_name:
                td["links"] = [
                    {"href": "stream", "rel": "alternate", "type": "multipart/x-mixed-replace"}
                ]
            described[name] = td
        return Response(msgspec.json.encode(described), media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.lifespan():
            yield

    def begin_shutdown() -> None:
        stopping.set()
        server.begin_shutdown()

    app = Starlette(
        routes=[
            Route("/thing_descriptions/", descriptions),
            Route(f"/{camera_name}/stream", stream),
            Route("/files/{name}", files),
            Mount("", app=server.app),
        ],
        lifespan=lifespan,
    )
    return app, begin_shutdown
