"""Camera streams end to end: a real hypercorn, real HTTP clients reading the multipart stream.

What a browser's ``<img src=...>`` does is read the parts one after another
and show each JPEG: these tests read them the same way and decode them.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2
from conftest import STOP_TIMEOUT, ServeThings, running_thing_server
from eventsource import aiter_events
from jpeg_frames import frame_number, real_jpeg, tagged_frame
from multipart_reader import read_parts
from PIL import Image

import labthings_async as lt
from labthings_async.server import ThingServer

COLOURS = [(220, 40, 40), (40, 180, 60), (40, 80, 220)]


class Camera(lt.Thing):
    """A camera with a live view."""

    stream = lt.outputs.MJPEGStreamDescriptor()


def centre_colour(image: Image.Image) -> tuple[int, ...]:
    pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return tuple(int(channel) for channel in pixel)


async def next_part(parts: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(anext(parts), 10)


async def test_a_viewer_gets_the_frames_as_jpegs_a_browser_can_show(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    camera = Camera()
    root = await serve_things(ThingServer({"camera": camera}))
    camera.stream.add_frame(real_jpeg(COLOURS[0]))
    async with client.stream("GET", f"{root}/camera/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
        parts = read_parts(response.aiter_bytes())
        seen = [await next_part(parts)]  # The latest frame comes at once.
        for colour in COLOURS[1:]:
            await asyncio.to_thread(camera.stream.add_frame, real_jpeg(colour))
            seen.append(await next_part(parts))
    decoded = [Image.open(io.BytesIO(part)) for part in seen]
    assert [image.format for image in decoded] == ["JPEG"] * 3
    centres = [centre_colour(image) for image in decoded]
    for centre, colour in zip(centres, COLOURS, strict=True):
        assert all(abs(got - want) < 12 for got, want in zip(centre, colour, strict=True))
    assert len(set(centres)) == 3


async def test_the_td_links_the_stream_relative_to_its_base(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    camera = Camera()
    camera.stream.add_frame(real_jpeg(COLOURS[1]))
    root = await serve_things(ThingServer({"camera": camera}))
    description = (await client.get(f"{root}/camera/")).json()
    [link] = [
        link
        for link in description["links"]
        if link["type"].startswith("multipart/x-mixed-replace")
    ]
    url = urljoin(description["base"], link["href"])
    assert url == f"{root}/camera/stream"
    async with client.stream("GET", url) as response:
        part = await next_part(read_parts(response.aiter_bytes()))
    assert Image.open(io.BytesIO(part)).format == "JPEG"
    frames = description["events"]["stream"]
    assert frames["forms"][0]["href"] == "stream/events"
    assert frames["forms"][0]["subprotocol"] == "sse"


async def test_frame_notifications_over_sse_point_at_the_frame(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    camera = Camera()
    root = await serve_things(ThingServer({"camera": camera}))
    async with client.stream("GET", f"{root}/camera/stream/events") as response:
        events = aiter_events(response)
        await asyncio.to_thread(camera.stream.add_frame, tagged_frame(41))
        event = await asyncio.wait_for(anext(events), 10)
    assert event.type == "frame"
    notice = json.loads(event.data)
    assert notice["index"] == 0
    frame = await client.get(urljoin(f"{root}/camera/", notice["href"]))
    assert frame.headers["content-type"] == "image/jpeg"
    assert frame_number(frame.content) == 41
    latest = await client.get(f"{root}/camera/stream/frame")
    assert latest.content == frame.content


async def test_the_viewer_page_shows_the_stream_in_an_img(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}))
    page = await client.get(f"{root}/camera/stream/viewer")
    assert page.headers["content-type"].startswith("text/html")
    assert f'<img src="{root}/camera/stream"' in page.text


async def test_missing_frames_are_404_problem_details(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}))
    for path in ("stream/frame", "stream/frames/3"):
        reply = await client.get(f"{root}/camera/{path}")
        assert reply.status_code == 404
        assert reply.headers["content-type"] == "application/problem+json"
        assert "camera stream" in reply.json()["detail"]


def stuck_viewer(url: str) -> socket.socket:
    """A viewer that asks for the stream and then never reads: its buffers fill up."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    return sock


def bytes_waiting(sock: socket.socket) -> int:
    """Everything the server got into the socket, read without waiting."""
    sock.setblocking(False)
    total = 0
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return total
        if not chunk:
            return total
        total += len(chunk)


FRAME_SIZE = 64 * 1024
FRAMES = 160


async def test_a_viewer_that_stops_reading_holds_back_neither_the_camera_nor_others(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    camera = Camera()
    root = await serve_things(ThingServer({"camera": camera}))
    stuck = stuck_viewer(f"{root}/camera/stream")
    received: list[int] = []
    got_frame = threading.Event()

    def run_camera() -> None:
        # One frame at a time, each once the reading viewer has it: if the stuck
        # viewer held back the loop or the other viewer, a wait would run out.
        for number in range(FRAMES):
            got_frame.clear()
            camera.stream.add_frame(tagged_frame(number, FRAME_SIZE))
            if not got_frame.wait(10):
                raise TimeoutError(f"the reading viewer never got frame {number}")

    try:
        async with client.stream("GET", f"{root}/camera/stream") as response:
            parts = read_parts(response.aiter_bytes())
            camera_thread = asyncio.ensure_future(asyncio.to_thread(run_camera))
            while len(received) < FRAMES:
                received.append(frame_number(await next_part(parts)))
                got_frame.set()
            await asyncio.wait_for(camera_thread, 10)
        assert received == list(range(FRAMES))
        # The stuck viewer was sent only what its buffers took: it skipped frames.
        assert bytes_waiting(stuck) < FRAMES * FRAME_SIZE / 2
    finally:
        stuck.close()


async def test_the_server_stops_promptly_with_viewers_connected() -> None:
    camera = Camera()
    camera.stream.add_frame(tagged_frame(0, FRAME_SIZE))
    async with AsyncExitStack() as stack:
        root = await stack.enter_async_context(
            running_thing_server(ThingServer({"camera": camera}))
        )
        stuck = stuck_viewer(f"{root}/camera/stream")
        stack.callback(stuck.close)
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=10))
        reading = await stack.enter_async_context(http.stream("GET", f"{root}/camera/stream"))
        parts = read_parts(reading.aiter_bytes())
        await next_part(parts)
        for number in range(1, 100):  # Enough to fill the stuck viewer's buffers.
            camera.stream.add_frame(tagged_frame(number, FRAME_SIZE))
            await asyncio.sleep(0)
        started = time.monotonic()
    # Leaving the stack stops the server first (it was entered first, so it is left
    # last: the clients close before it); running_thing_server fails past STOP_TIMEOUT.
    assert time.monotonic() - started < STOP_TIMEOUT


async def test_stop_ends_every_viewers_stream(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    camera = Camera()
    camera.stream.add_frame(tagged_frame(0))
    root = await serve_things(ThingServer({"camera": camera}))
    async with client.stream("GET", f"{root}/camera/stream") as response:
        parts = read_parts(response.aiter_bytes())
        await next_part(parts)
        await asyncio.to_thread(camera.stream.stop)
        rest = [part async for part in parts]
    assert rest == []


async def test_many_viewers_each_get_the_frames(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    camera = Camera()
    camera.stream.add_frame(tagged_frame(0))
    root = await serve_things(ThingServer({"camera": camera}))

    async def view(ready: asyncio.Event, until: int) -> list[int]:
        async with client.stream("GET", f"{root}/camera/stream") as response:
            parts = read_parts(response.aiter_bytes())
            seen = [frame_number(await next_part(parts))]
            ready.set()
            while seen[-1] < until:
                seen.append(frame_number(await next_part(parts)))
            return seen

    readies = [asyncio.Event() for _ in range(20)]
    viewers = [asyncio.ensure_future(view(ready, 5)) for ready in readies]
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 10)
    for number in range(1, 6):
        await asyncio.to_thread(camera.stream.add_frame, tagged_frame(number))
    results: list[Any] = await asyncio.wait_for(asyncio.gather(*viewers), 20)
    for seen in results:
        assert seen[0] == 0 and seen[-1] == 5
        assert seen == sorted(set(seen))  # In order, never twice; a slow one may skip.
