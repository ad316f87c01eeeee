"""Our clients and blob outputs: a blob object that downloads only when asked."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from conftest import ServeThings

import labthings_async as lt
from labthings_async.client import AsyncRemoteBlob, RemoteBlob
from labthings_async.server import ThingServer

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1024  # 256 KiB: saved in several chunks.


class PNG(lt.blob.Blob):
    media_type = "image/png"


class Camera(lt.Thing):
    @lt.action
    def capture(self) -> PNG:
        folder = tempfile.TemporaryDirectory()
        Path(folder.name, "image.png").write_bytes(IMAGE)
        return PNG.from_temporary_directory(folder, "image.png")

    @lt.action
    def size(self, image: PNG) -> int:
        return len(image.content)

    @lt.action
    def link_like(self) -> dict[str, str]:
        """A plain object that happens to look like a link: not a blob."""
        return {"href": "http://example.org/", "media_type": "text/html"}


async def test_the_blocking_client_returns_a_blob_that_downloads_when_asked(
    serve_things: ServeThings, tmp_path: Path
) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}))

    def use() -> tuple[RemoteBlob, bytes, int, int, object]:
        with lt.ThingClient.from_url(f"{root}/camera/") as client:
            image = client.capture()
            assert isinstance(image, RemoteBlob)
            content = image.content
            saved = image.save(tmp_path / "saved.png")
            size = client.size(image=image)
            return image, content, saved, size, client.link_like()

    image, content, saved, size, plain = await asyncio.to_thread(use)
    assert image.media_type == "image/png"
    assert image.href.startswith(f"{root}/blob/")
    assert content == IMAGE
    assert saved == len(IMAGE)
    assert (tmp_path / "saved.png").read_bytes() == IMAGE
    assert size == len(IMAGE)
    assert plain == {"href": "http://example.org/", "media_type": "text/html"}


async def test_the_async_client_returns_a_blob_to_read_or_save(
    serve_things: ServeThings, tmp_path: Path
) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}))
    async with await lt.AsyncThingClient.from_url(f"{root}/camera/") as client:
        image = await client.capture()
        assert isinstance(image, AsyncRemoteBlob)
        assert await image.read() == IMAGE
        assert await image.save(tmp_path / "saved.png") == len(IMAGE)
        handle = await client.start_action("capture")
        again = await handle.result()
        assert isinstance(again, AsyncRemoteBlob) and again.href != image.href
        assert await client.size(image=again) == len(IMAGE)
    assert (tmp_path / "saved.png").read_bytes() == IMAGE


async def test_a_blob_the_server_no_longer_has_is_not_found(serve_things: ServeThings) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}, max_retained=1))
    async with await lt.AsyncThingClient.from_url(f"{root}/camera/") as client:
        first = await client.capture()
        await client.capture()  # Only one finished invocation is kept: the first is forgotten.
        with pytest.raises(lt.BlobNotFoundError, match="no blob"):
            await first.read()
