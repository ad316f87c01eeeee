"""The example rig, served from its config file as ``make serve`` serves it."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import textwrap
import threading
import zipfile

import httpx2
from conftest import ServeThings
from multipart_reader import read_parts
from PIL import Image

from labthings_async.config import load_config, make_things
from labthings_async.examples.rig import Stage
from labthings_async.server import ThingServer

RIG = "labthings_async/examples/rig.json"


async def test_the_rig_serves_a_live_view_pictures_and_scans(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    root = await serve_things(ThingServer(make_things(load_config(RIG))))
    index = (await client.get(f"{root}/things/")).json()
    assert set(index) == {"microscope", "stage", "camera", "scanner"}

    async with client.stream("GET", f"{root}/camera/stream") as live:
        parts = read_parts(live.aiter_bytes())
        first = await asyncio.wait_for(anext(parts), 20)
        second = await asyncio.wait_for(anext(parts), 20)
    assert first != second  # The cells wobble: the view lives.
    assert Image.open(io.BytesIO(second)).size == (320, 240)

    picture = (await client.post(f"{root}/camera/capture?reply=output")).json()
    assert picture["media_type"] == "image/jpeg"
    image = Image.open(io.BytesIO((await client.get(picture["href"])).content))
    assert image.format == "JPEG"

    scan = await client.post(
        f"{root}/scanner/scan?reply=output", json={"columns": 2, "rows": 2, "pitch": 300}
    )
    archive = (await client.get(scan.json()["href"])).content
    with zipfile.ZipFile(io.BytesIO(archive)) as tiles:
        names = tiles.namelist()
        pictures = {tiles.read(name) for name in names}
    assert len(names) == 4
    assert len(pictures) == 4  # Four places on the slide, four different pictures.
    where = (await client.get(f"{root}/stage/position")).json()
    assert (where["x"], where["y"]) == (150.0, 150.0)


def test_the_stage_refuses_a_second_driver() -> None:
    stage = Stage()
    holding = threading.Event()
    release = threading.Event()

    def drive() -> None:
        with stage.hold():
            holding.set()
            release.wait(10)

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        assert holding.wait(10)
        try:
            stage.move_to(x=10, y=0)
        except RuntimeError as refused:
            assert "another invocation" in str(refused)
        else:
            raise AssertionError("the stage moved for a second driver")
    finally:
        release.set()
        driver.join()
    assert stage.move_to(x=10, y=0).x == 10


def test_without_pillow_the_camera_plays_recorded_frames() -> None:
    script = textwrap.dedent(
        """
        import logging
        import sys
        sys.modules["PIL"] = None  # As if Pillow were not installed.
        logging.basicConfig(level=logging.WARNING)
        sys.path.insert(0, "tests")
        from inprocess import in_process
        from labthings_async.config import load_config, make_things
        from labthings_async.examples.sample import recorded_frames
        from labthings_async.server import ThingServer

        recorded = recorded_frames()
        things = make_things(load_config("labthings_async/examples/rig.json"))
        with in_process(ThingServer(things).app) as http:
            link = http.post("/camera/capture?reply=output").json()
            picture = http.get(link["href"]).content
        print(len(recorded), picture in recorded)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["12", "True"]
    assert "Pillow is not installed" in run.stderr
