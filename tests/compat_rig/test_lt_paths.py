"""LabThings-FastAPI's module paths for instrument data exist here, with LabThings' meaning.

A Thing module imports ``labthings_fastapi.outputs.blob``,
``labthings_fastapi.outputs.mjpeg_stream``, ``labthings_fastapi.types.numpy``
and ``labthings_fastapi.thing_slots``; with ``labthings_async`` in their
place, each name is here, or is listed below with what to use instead.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import labthings_fastapi
import numpy
import pytest
from inprocess import in_process
from labthings_fastapi.types import numpy as labthings_numpy

import labthings_async as lt
from labthings_async import arrays, blob, mjpeg, slot
from labthings_async.types.numpy import DenumpifyingDict, NDArray, denumpify

SAME_AS: dict[str, dict[str, Any]] = {
    "outputs": {
        "MJPEGStream": mjpeg.MJPEGStream,
        "MJPEGStreamDescriptor": mjpeg.MJPEGStreamDescriptor,
    },
    "outputs.blob": {
        "Blob": blob.Blob,
        "BlobBytes": blob.BlobBytes,
        "BlobData": blob.BlobData,
        "BlobFile": blob.BlobFile,
        "match_media_types": blob.match_media_types,
        "parse_media_type": blob.parse_media_type,
    },
    "outputs.mjpeg_stream": {
        "MJPEGStream": mjpeg.MJPEGStream,
        "MJPEGStreamDescriptor": mjpeg.MJPEGStreamDescriptor,
        "RingbufferEntry": mjpeg.RingbufferEntry,
    },
    "types": {},
    "types.numpy": {
        "NDArray": arrays.NDArray,
        "DenumpifyingDict": arrays.DenumpifyingDict,
        "denumpify": arrays.denumpify,
        "listoflists_to_np": arrays.listoflists_to_np,
        "np_to_listoflists": arrays.np_to_listoflists,
    },
    "thing_slots": {"ThingSlot": slot.ThingSlot, "thing_slot": slot.thing_slot},
}
"""Each LabThings module path, and what its names are here."""

NOT_HERE: dict[str, dict[str, str]] = {
    "outputs.blob": {
        "BlobModel": "the pydantic model of a blob's JSON; here Blob.link() gives it",
        "LocalBlobData": "the base of BlobBytes and BlobFile; here it is BlobData",
        "RemoteBlobData": "a client's blob; our clients return RemoteBlob",
        "download_blob": "a FastAPI route; the server serves /blob/{id} itself",
        "url_to_id": "labthings_async.blob.blob_id_of",
    },
    "outputs.mjpeg_stream": {
        "MJPEGStreamResponse": "a FastAPI response; the server serves each stream itself",
    },
    "types.numpy": {
        "NestedListOfNumbersModel": "the pydantic model of NDArray's schema, which is built in",
        "denumpify_serialiser": "pydantic plumbing of DenumpifyingDict",
    },
    "thing_slots": {
        "ConnectedThings": "a TypeVar of LabThings' own typing",
        "ThingSubclass": "a TypeVar of LabThings' own typing",
    },
}
"""LabThings' names in those modules that a Thing module has no use for, and what is here."""


def labthings_names(path: str) -> set[str]:
    """The public names LabThings defines in a module, and those its ``__all__`` lists."""
    module = importlib.import_module(f"labthings_fastapi.{path}")
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", None) == module.__name__
    }
    return defined | set(getattr(module, "__all__", ()))


@pytest.mark.parametrize("path", sorted(SAME_AS))
def test_each_labthings_name_is_here_or_says_what_to_use(path: str) -> None:
    ours = importlib.import_module(f"labthings_async.{path}")
    accounted = set(SAME_AS[path]) | set(NOT_HERE.get(path, {}))
    assert labthings_names(path) - {"NDArray"} <= accounted  # NDArray is an alias there.
    for name, meaning in SAME_AS[path].items():
        assert getattr(ours, name) is meaning, f"labthings_async.{path}.{name}"
        assert hasattr(importlib.import_module(f"labthings_fastapi.{path}"), name)


def test_lt_outputs_blob_is_lt_blob_as_in_labthings() -> None:
    assert labthings_fastapi.outputs.blob is labthings_fastapi.blob
    assert lt.outputs.blob.Blob is lt.blob.Blob
    assert lt.outputs.mjpeg_stream.MJPEGStreamDescriptor is lt.outputs.MJPEGStreamDescriptor


@pytest.mark.parametrize(
    "value",
    [
        {"a": numpy.arange(3), "b": [numpy.float64(1.5), 2], "c": {"d": numpy.eye(2)}},
        {"nothing": None, "flag": True, "tuple": (1, numpy.int32(2))},
    ],
)
def test_denumpifying_dict_dumps_what_labthings_dumps(value: dict[str, Any]) -> None:
    theirs = labthings_numpy.DenumpifyingDict(value).model_dump()
    assert DenumpifyingDict(value).model_dump() == theirs
    assert denumpify(value) == labthings_numpy.denumpify(value)


def test_denumpify_leaves_strings_whole() -> None:
    # LabThings' own recurses into a string's characters until Python gives up.
    with pytest.raises(RecursionError):
        labthings_numpy.denumpify({"name": "stage"})
    assert denumpify({"name": "stage"}) == {"name": "stage"}


class Mapper(lt.Thing):
    @lt.action
    def calibrate(self) -> DenumpifyingDict:
        return DenumpifyingDict({"matrix": numpy.eye(2) * 3, "fit": numpy.float64(0.5)})

    @lt.action
    def fit(self) -> DenumpifyingDict:
        return {"offset": numpy.array([1.5, -2.0])}  # type: ignore[return-value]  # As in LabThings.

    @lt.action
    def flip(self, image: NDArray) -> NDArray:
        return image[::-1]


def test_a_thing_returns_a_denumpifying_dict_and_ndarrays_as_json() -> None:
    with in_process(lt.ThingServer({"mapper": Mapper()}).app) as http:
        calibrated = http.post("/mapper/calibrate?reply=output")
        fitted = http.post("/mapper/fit?reply=output")
        flipped = http.post("/mapper/flip?reply=output", json={"image": [[1, 2], [3, 4]]})
        described = http.get("/mapper/").json()["actions"]
    assert calibrated.json() == {"matrix": [[3.0, 0.0], [0.0, 3.0]], "fit": 0.5}
    assert fitted.json() == {"offset": [1.5, -2.0]}
    assert flipped.json() == [[3, 4], [1, 2]]
    assert described["calibrate"]["output"]["type"] == "object"
