"""numpy arrays as action inputs and outputs: nested lists, shape and dtype, .npy blobs."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import textwrap
from typing import Any

import httpx2
import numpy
import pytest
from conftest import ServeThings
from inprocess import in_process
from labthings_fastapi.client import ThingClient as LabThingsClient

import labthings_async as lt
from labthings_async.arrays import Array, NDArray, NpyBlob
from labthings_async.server import ThingServer


class Image(Array, dtype="uint8", shape=(2, 3)):
    """A tiny grey-scale image."""


class Points(Array, dtype="float64", shape=(None, 2)):
    """Any number of (x, y) points."""


class Analyser(lt.Thing):
    @lt.action
    def double(self, arr: NDArray) -> NDArray:
        return arr * 2

    @lt.action
    def invert(self, image: Image) -> Image:
        assert image.dtype == numpy.uint8
        return Image.of(255 - image)

    @lt.action
    def centroid(self, points: Points) -> list[float]:
        return [float(value) for value in points.mean(axis=0)]

    @lt.action
    def stats(self, arr: NDArray) -> dict[str, Any]:
        return {"mean": arr.mean(), "max": arr.max(), "shape": arr.shape}

    @lt.action
    def big(self, side: int) -> NpyBlob:
        return NpyBlob.from_array(numpy.arange(side * side, dtype=numpy.int32).reshape(side, side))


def invoke(http: Any, action: str, **body: Any) -> Any:
    reply = http.post(f"/analyser/{action}?reply=output", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_numpy_is_never_imported_for_things_that_use_no_arrays() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, "tests")
        import labthings_async as lt
        from labthings_async.server import ThingServer
        from inprocess import in_process

        class PNG(lt.blob.Blob):
            media_type = "image/png"

        class Plain(lt.Thing):
            stream = lt.outputs.MJPEGStreamDescriptor()

            @lt.action
            def add(self, a: int, b: float = 1.0) -> float:
                return a + b

            @lt.action
            def picture(self) -> PNG:
                return PNG.from_bytes(b"png")

        with in_process(ThingServer({"plain": Plain()}).app) as http:
            assert http.post("/plain/add?reply=output", json={"a": 2}).json() == 3.0
            assert http.post("/plain/picture?reply=output").status_code == 200
            assert http.get("/plain/").status_code == 200
            assert http.get("/openapi.json").status_code == 200
        print("numpy" in sys.modules)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_arrays_travel_as_nested_lists() -> None:
    with in_process(ThingServer({"analyser": Analyser()}).app) as http:
        assert invoke(http, "double", arr=[[1, 2], [3, 4]]) == [[2, 4], [6, 8]]
        assert invoke(http, "double", arr=[0.5, 1.5]) == [1.0, 3.0]
        assert invoke(http, "stats", arr=[[1, 5], [3, 7]]) == {
            "mean": 4.0,
            "max": 7,
            "shape": [2, 2],
        }


def test_declared_shapes_and_dtypes_are_in_the_schema() -> None:
    with in_process(ThingServer({"analyser": Analyser()}).app) as http:
        actions = http.get("/analyser/").json()["actions"]
    image = actions["invert"]["input"]["properties"]["image"]
    assert (image["type"], image["minItems"], image["maxItems"]) == ("array", 2, 2)
    row = image["items"]
    assert (row["minItems"], row["maxItems"]) == (3, 3)
    assert row["items"] == {"type": "integer", "minimum": 0, "maximum": 255}
    assert "uint8" in image["description"] and "(2, 3)" in image["description"]
    assert actions["invert"]["output"]["items"]["items"]["maximum"] == 255
    points = actions["centroid"]["input"]["properties"]["points"]
    assert "minItems" not in points
    assert points["items"]["minItems"] == 2
    free = actions["double"]["input"]["properties"]["arr"]
    assert {"type": "number"} in free["oneOf"]


def test_declared_arrays_are_checked_on_input() -> None:
    with in_process(ThingServer({"analyser": Analyser()}).app) as http:
        assert invoke(http, "invert", image=[[0, 1, 2], [253, 254, 255]]) == [
            [255, 254, 253],
            [2, 1, 0],
        ]
        assert invoke(http, "centroid", points=[[0, 0], [2, 4]]) == [1.0, 2.0]
        for body, says in [
            ({"image": [[0, 1], [2, 3]]}, "shape (2, 2)"),
            ({"image": [[0, 1, 2], [3, 4, 999]]}, "uint8"),
            ({"image": [[0, 1, 2], [3, 4, 0.5]]}, "not integers"),
            ({"image": "pixels"}, "array of uint8"),
        ]:
            reply = http.post("/analyser/invert", json=body)
            assert reply.status_code == 422, body
            problem = reply.json()
            assert problem["errors"][0]["path"] == "$.image"
            assert says in problem["detail"]
        ragged = http.post("/analyser/double", json={"arr": [[1, 2], [3]]})
        assert ragged.status_code == 422
        assert ragged.json()["errors"][0]["path"] == "$.arr"


def test_a_large_array_can_be_a_npy_blob() -> None:
    with in_process(ThingServer({"analyser": Analyser()}).app) as http:
        link = invoke(http, "big", side=300)
        assert link["media_type"] == "application/x-npy"
        download = http.get(link["href"])
    array = numpy.load(io.BytesIO(download.content), allow_pickle=False)
    assert array.shape == (300, 300)
    assert array[299, 299] == 300 * 300 - 1


def test_a_dtype_that_is_not_a_number_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match="not a number type"):

        class Names(Array, dtype="U10"):
            pass


async def test_labthings_thing_client_sends_and_gets_arrays(serve_things: ServeThings) -> None:
    root = await serve_things(ThingServer({"analyser": Analyser()}))

    def use() -> Any:
        with httpx2.Client(base_url=root, timeout=10) as http:
            analyser: Any = LabThingsClient.from_url(f"{root}/analyser/", client=http)
            return analyser.double(arr=[[1, 2], [3, 4]])

    assert await asyncio.to_thread(use) == [[2, 4], [6, 8]]
