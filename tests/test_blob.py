"""Blobs in the domain: how they are made, matched, kept while their invocation is, and freed."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import msgspec
import pytest
from things import FakeClock

import labthings_async as lt
from labthings_async.blob import (
    BLOB_DESCRIPTION,
    BlobStore,
    absolute_links,
    blob_id_of,
    match_media_types,
)
from labthings_async.manager import ActionManager


class PNG(lt.blob.Blob):
    media_type = "image/png"


class AnyImage(lt.blob.Blob):
    media_type = "image/*"


def test_blob_from_bytes_keeps_the_bytes_and_the_class_media_type() -> None:
    blob = PNG.from_bytes(b"\x89PNG data")
    assert blob.content == b"\x89PNG data"
    assert blob.media_type == "image/png"
    assert blob.open().read() == b"\x89PNG data"


def test_a_blob_refuses_a_media_type_its_class_does_not_hold() -> None:
    with pytest.raises(lt.MediaTypeMismatchError, match="holds image/png"):
        PNG.from_bytes(b"x", media_type="text/csv")
    assert AnyImage.from_bytes(b"x", media_type="image/jpeg").media_type == "image/jpeg"


def test_a_malformed_media_type_fails_at_class_definition() -> None:
    with pytest.raises(lt.MediaTypeMismatchError, match="type/subtype"):

        class Broken(lt.blob.Blob):
            media_type = "png"


def test_media_type_patterns() -> None:
    assert match_media_types("image/png", "image/*")
    assert match_media_types("image/png; q=1", "*/*")
    assert not match_media_types("text/csv", "image/*")


def test_blob_from_file_reads_and_copies_the_file(tmp_path: Path) -> None:
    source = tmp_path / "image.png"
    source.write_bytes(b"file bytes")
    blob = PNG.from_file(source)
    assert blob.data.path == source
    blob.save(tmp_path / "copy.png")
    assert (tmp_path / "copy.png").read_bytes() == b"file bytes"
    with pytest.raises(FileNotFoundError, match="not a file"):
        PNG.from_file(tmp_path / "missing.png")


def test_the_link_is_labthings_json_with_an_href_relative_to_the_api_root() -> None:
    blob = PNG.from_bytes(b"x")
    assert blob.link() == {
        "href": f"blob/{blob.id}",
        "media_type": "image/png",
        "rel": "output",
        "description": BLOB_DESCRIPTION,
    }
    encoded = msgspec.json.encode({"image": blob.link(), "note": "blob/not-a-link"})
    absolute = msgspec.json.decode(absolute_links(encoded, "http://host:5000/api"))
    assert absolute["image"]["href"] == f"http://host:5000/api/blob/{blob.id}"
    assert absolute["note"] == "blob/not-a-link"


def test_blob_ids_are_read_from_the_end_of_an_href() -> None:
    blob = PNG.from_bytes(b"x")
    assert blob_id_of(f"http://elsewhere:80/prefix/blob/{blob.id}") == blob.id
    assert blob_id_of("http://host/blob/42") is None


def test_the_store_finds_blobs_by_id_until_they_are_discarded() -> None:
    store = BlobStore()
    blob = PNG.from_bytes(b"x")
    store.add([blob])
    assert store.get(str(blob.id)) is blob
    store.discard([blob])
    with pytest.raises(lt.BlobNotFoundError, match="expired"):
        store.get(blob.id)
    with pytest.raises(lt.BlobNotFoundError, match="not a blob ID"):
        store.get("nonsense")


class Scanner(lt.Thing):
    def __init__(self) -> None:
        self.folders: list[str] = []

    @lt.action
    def scan(self) -> PNG:
        folder = tempfile.TemporaryDirectory()
        self.folders.append(folder.name)
        Path(folder.name, "scan.png").write_bytes(b"\x89PNG scan")
        return PNG.from_temporary_directory(folder, "scan.png")

    @lt.action
    async def snap(self) -> PNG:
        return PNG.from_bytes(b"\x89PNG snap")

    @lt.action
    def measure(self, image: PNG) -> int:
        return len(image.content)


async def test_a_blob_is_served_while_its_invocation_is_kept_and_its_folder_removed_after() -> None:
    clock = FakeClock()
    scanner = Scanner()
    async with ActionManager({"scanner": scanner}, retention=60, clock=clock) as manager:
        invocation = await manager.invoke_action("scanner", "scan").wait()
        assert invocation.status is lt.InvocationStatus.COMPLETED
        blob = invocation.result()
        assert isinstance(blob, PNG)
        assert manager.blobs.get(blob.id).content == b"\x89PNG scan"
        folder = scanner.folders[0]
        assert Path(folder).is_dir()  # noqa: ASYNC240 - a test's quick look.
        del blob
        clock.move(61)
        assert manager.expire_invocations() == 1
        del invocation
        gc.collect()
        assert len(manager.blobs) == 0
        gone = not Path(folder).exists()  # noqa: ASYNC240 - a test's quick look.
        assert gone, "the temporary directory outlived its invocation"


async def test_blobs_of_async_actions_are_kept_too() -> None:
    async with ActionManager({"scanner": Scanner()}) as manager:
        invocation = await manager.invoke_action("scanner", "snap").wait()
        blob = invocation.result()
        assert manager.blobs.get(blob.id).content == b"\x89PNG snap"


async def test_a_blob_given_as_input_by_its_link_is_the_servers_own() -> None:
    async with ActionManager({"scanner": Scanner()}) as manager:
        scanned = await manager.invoke_action("scanner", "scan").wait()
        link = msgspec.json.decode(scanned.output_at("http://host") or b"null")
        measured = await manager.invoke_action("scanner", "measure", {"image": link}).wait()
        assert measured.result() == len(b"\x89PNG scan")


async def test_an_input_naming_no_blob_of_this_server_is_refused_at_its_path() -> None:
    async with ActionManager({"scanner": Scanner()}) as manager:
        href = "http://host/blob/00000000-0000-4000-8000-000000000000"
        with pytest.raises(lt.InvalidInputError) as caught:
            manager.invoke_action(
                "scanner", "measure", {"image": {"href": href, "media_type": "image/png"}}
            )
        assert caught.value.path == "$.image"
        assert "no blob" in caught.value.detail
        with pytest.raises(lt.InvalidInputError, match="not the href of a blob"):
            manager.invoke_action("scanner", "measure", {"image": {"href": "x"}})
