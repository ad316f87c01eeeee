"""Blob outputs over HTTP: LabThings' JSON, downloads with ranges, and blobs as input.

In-process tests check the replies; LabThings-FastAPI's own ThingClient,
against a real server, checks that a migrating user's client still works.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import ServeThings
from inprocess import in_process
from labthings_fastapi.client import ThingClient as LabThingsClient

import labthings_async as lt
from labthings_async.blob import BLOB_DESCRIPTION
from labthings_async.server import ThingServer

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CSV_TEXT = "x,y\n" + "".join(f"{i},{i * i}\n" for i in range(200))


class PNG(lt.blob.Blob):
    media_type = "image/png"


class CSV(lt.blob.Blob):
    media_type = "text/csv"


class Camera(lt.Thing):
    @lt.action
    def capture(self) -> PNG:
        """A picture, in memory."""
        return PNG.from_bytes(PNG_BYTES)

    @lt.action
    def export(self) -> CSV:
        """A table, as a file in a temporary directory."""
        folder = tempfile.TemporaryDirectory()
        Path(folder.name, "table.csv").write_text(CSV_TEXT)
        return CSV.from_temporary_directory(folder, "table.csv")

    @lt.action
    def both(self) -> dict[str, Any]:
        return {"image": PNG.from_bytes(PNG_BYTES), "count": 2}

    @lt.action
    def size(self, image: PNG) -> int:
        """How many bytes the image has."""
        return len(image.content)


def invoke(http: Any, action: str, **body: Any) -> dict[str, Any]:
    reply = http.post(f"/camera/{action}", json=body, headers={"Prefer": "wait=10"})
    assert reply.status_code == 201, reply.text
    invocation: dict[str, Any] = reply.json()
    assert invocation["status"] == "completed", invocation
    return invocation


def test_a_blob_output_is_labthings_link_with_an_absolute_href() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        invocation = invoke(http, "capture")
        output = invocation["output"]
        assert set(output) == {"href", "media_type", "rel", "description"}
        assert output["href"].startswith("http://testserver/blob/")
        assert (output["media_type"], output["rel"]) == ("image/png", "output")
        assert output["description"] == BLOB_DESCRIPTION
        assert http.get(invocation["links"][1]["href"]).json() == output
        assert http.get(invocation["href"]).json()["output"] == output


def test_the_href_includes_the_prefix_and_the_reply_output_form_has_it_too() -> None:
    with in_process(ThingServer({"camera": Camera()}, prefix="/api").app) as http:
        reply = http.post("/api/camera/capture?reply=output")
        assert reply.status_code == 200
        href = reply.json()["href"]
        assert href.startswith("http://testserver/api/blob/")
        assert http.get(href).content == PNG_BYTES


def test_the_href_serves_the_bytes_with_their_type_length_and_etag() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        href = invoke(http, "capture")["output"]["href"]
        reply = http.get(href)
        assert reply.status_code == 200
        assert reply.content == PNG_BYTES
        assert reply.headers["content-type"] == "image/png"
        assert reply.headers["content-length"] == str(len(PNG_BYTES))
        assert reply.headers["accept-ranges"] == "bytes"
        assert reply.headers["etag"]


def test_a_file_blob_is_served_from_disk_with_its_type_and_last_modified() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        href = invoke(http, "export")["output"]["href"]
        reply = http.get(href)
        assert reply.text == CSV_TEXT
        assert reply.headers["content-type"].startswith("text/csv")
        assert reply.headers["content-length"] == str(len(CSV_TEXT))
        assert reply.headers["last-modified"] and reply.headers["etag"]


@pytest.mark.parametrize("action", ["capture", "export"])
@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 10), ("bytes=100-", 100, None), ("bytes=-7", -7, None), ("bytes=5-5", 5, 6)],
)
def test_a_single_range_is_answered_206(
    action: str, header: str, start: int, end: int | None
) -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        href = invoke(http, action)["output"]["href"]
        whole = http.get(href).content
        reply = http.get(href, headers={"Range": header})
        assert reply.status_code == 206
        expected = whole[start:end]
        assert reply.content == expected
        first = start % len(whole)
        assert reply.headers["content-range"] == (
            f"bytes {first}-{first + len(expected) - 1}/{len(whole)}"
        )


@pytest.mark.parametrize("action", ["capture", "export"])
@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("bytes=999999-", "starts at byte 999999"),
        ("bytes=20-10", "comes before its start"),
        ("lines=1-2", "is not one byte range"),
        ("bytes=0-1,5-6", "is not one byte range"),
        ("bytes=-", "names no bytes"),
    ],
)
def test_a_bad_range_is_416_problem_details(action: str, header: str, says: str) -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        href = invoke(http, action)["output"]["href"]
        size = len(http.get(href).content)
        reply = http.get(href, headers={"Range": header})
        assert reply.status_code == 416
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.headers["content-range"] == f"bytes */{size}"
        assert says in reply.json()["detail"]


def test_an_unknown_blob_is_404_problem_details() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        missing = http.get("/blob/00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "no blob 00000000-0000-4000-8000-000000000000" in missing.json()["detail"]
        assert "not a blob ID" in http.get("/blob/picture.png").json()["detail"]


def test_blobs_inside_a_larger_output_are_links_too() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        output = invoke(http, "both")["output"]
        assert output["count"] == 2
        assert http.get(output["image"]["href"]).content == PNG_BYTES


def test_a_blob_href_from_this_server_is_accepted_as_input_and_echoed_absolute() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        link = invoke(http, "capture")["output"]
        measured = invoke(http, "size", image=link)
        assert measured["output"] == len(PNG_BYTES)
        assert measured["input"]["image"]["href"] == link["href"]


def test_a_blob_href_of_no_blob_here_is_refused_422_at_its_path() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        href = "http://testserver/blob/00000000-0000-4000-8000-000000000000"
        reply = http.post("/camera/size", json={"image": {"href": href, "media_type": "image/png"}})
        assert reply.status_code == 422
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["errors"][0]["path"] == "$.image"
        csv_link = invoke(http, "export")["output"]
        wrong_kind = http.post("/camera/size", json={"image": csv_link})
        assert wrong_kind.status_code == 422
        assert "image/png" in wrong_kind.json()["detail"]


def test_the_blob_outputs_schema_in_the_td_is_labthings_link() -> None:
    with in_process(ThingServer({"camera": Camera()}).app) as http:
        actions = http.get("/camera/").json()["actions"]
        output = actions["capture"]["output"]
        assert output["type"] == "object"
        assert output["required"] == ["href", "media_type"]
        assert output["properties"]["media_type"]["const"] == "image/png"
        assert actions["size"]["input"]["properties"]["image"]["title"] == "PNG"


async def test_the_invocation_event_stream_ends_with_an_absolute_blob_href(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}))
    invocation = (await client.post(f"{root}/camera/capture")).json()
    events = next(link["href"] for link in invocation["links"] if link["rel"] == "events")
    async with client.stream("GET", events) as stream:
        body = b"".join([chunk async for chunk in stream.aiter_bytes()])
    last = [line for line in body.split(b"\n") if line.startswith(b"data:")][-1]
    assert f'"href":"{root}/blob/'.encode() in last


async def test_labthings_thing_client_downloads_blob_outputs_and_sends_them_back(
    serve_things: ServeThings,
) -> None:
    root = await serve_things(ThingServer({"camera": Camera()}))

    def use() -> tuple[Any, ...]:
        with httpx2.Client(base_url=root, timeout=10) as http:
            camera: Any = LabThingsClient.from_url(f"{root}/camera/", client=http)
            image = camera.capture()
            table = camera.export()
            return image.media_type, image.content, table.content, camera.size(image=image)

    media_type, image, table, size = await asyncio.to_thread(use)
    assert media_type == "image/png"
    assert image == PNG_BYTES
    assert table == CSV_TEXT.encode()
    assert size == len(PNG_BYTES)
