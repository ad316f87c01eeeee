"""The example rig, served from its config file as ``make serve`` serves it.

Each test keeps the rig's settings in a folder of its own, never in the
``settings/`` that ``make serve`` uses.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import httpx2
from conftest import ServeThings
from example_rig import RIG, expected_view, mean_difference, picture, rig_server
from multipart_reader import read_parts
from PIL import Image


def test_the_config_turns_on_the_global_lock_and_keeps_settings_in_settings() -> None:
    raw = json.loads(RIG.read_text())
    assert raw["enable_global_lock"] is True
    assert raw["settings_folder"] == "settings"
    assert "/settings/" in (RIG.parents[2] / ".gitignore").read_text().splitlines()


async def test_the_rig_serves_a_live_view_pictures_and_scans(
    serve_things: ServeThings, client: httpx2.AsyncClient, tmp_path: Path
) -> None:
    root = await serve_things(rig_server(tmp_path))
    index = (await client.get(f"{root}/things/")).json()
    assert list(index) == ["camera", "stage", "scanner"]  # The live view first.

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
    # The moves and pictures ran inline, in the scan's invocation: none of their own.
    assert (await client.get(f"{root}/stage/move_to")).json() == []
    assert len((await client.get(f"{root}/camera/capture")).json()) == 1


async def test_the_live_view_follows_the_stage_from_the_start(
    serve_things: ServeThings, client: httpx2.AsyncClient, tmp_path: Path
) -> None:
    root = await serve_things(rig_server(tmp_path))
    moved = await client.post(f"{root}/stage/move_to?reply=output", json={"x": 600, "y": -400})
    assert moved.status_code == 200, moved.text
    # No picture has been taken: the camera knows the stage through its slot.
    there, origin = expected_view(600, -400), expected_view(0, 0)
    async with client.stream("GET", f"{root}/camera/stream") as live:
        parts = read_parts(live.aiter_bytes())
        # The first part is the latest frame, which may be older than the move's
        # end; the next ones are taken after the stream opened.
        frames = [await asyncio.wait_for(anext(parts), 20) for _ in range(3)]
    seen = picture(frames[-1])
    assert mean_difference(seen, there) < mean_difference(seen, origin) / 4


async def test_the_global_lock_refuses_a_second_move_while_one_runs(
    serve_things: ServeThings, client: httpx2.AsyncClient, tmp_path: Path
) -> None:
    root = await serve_things(rig_server(tmp_path))
    (await client.put(f"{root}/stage/speed", json=50.0)).raise_for_status()
    slow = (await client.post(f"{root}/stage/move_to", json={"x": 1000, "y": 0})).json()
    try:
        for _ in range(400):  # Up to 20 s on a busy machine.
            if (await client.get(slow["href"])).json()["status"] == "running":
                break
            await asyncio.sleep(0.05)
        second = await client.post(f"{root}/stage/move_to", json={"x": 0, "y": 5})
        assert second.status_code == 409
        assert second.headers["content-type"] == "application/problem+json"
        assert "global lock" in second.json()["detail"]
        assert slow["id"][:8] in second.json()["detail"]  # It says who holds it.
        # A client's property write waits for no one either.
        assert (await client.put(f"{root}/camera/brightness", json=2.0)).status_code == 409
        # The live view's rate opts out of the lock.
        assert (await client.put(f"{root}/camera/frame_rate", json=5.0)).status_code == 204
    finally:
        cancelled = await client.delete(slow["href"])
    assert cancelled.status_code in (200, 202), cancelled.text


async def test_the_calibration_is_a_setting_that_survives_a_restart(
    serve_things: ServeThings, client: httpx2.AsyncClient, tmp_path: Path
) -> None:
    first = rig_server(tmp_path)
    async with first.lifespan():
        camera: Any = first.manager.things["camera"]
        assert camera.pixel_size == 1.0
        camera.pixel_size = 2.5
    saved = json.loads((tmp_path / "camera" / "Settings-Camera.json").read_text())
    assert saved == {"pixel_size": 2.5}

    root = await serve_things(rig_server(tmp_path))
    assert (await client.get(f"{root}/camera/pixel_size")).json() == 2.5
    described = (await client.get(f"{root}/camera/")).json()["properties"]["pixel_size"]
    assert "saved" in described["description"]


def test_without_pillow_the_camera_plays_recorded_frames(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
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
        things = make_things(load_config({str(RIG)!r}))
        server = ThingServer(things, settings_folder={str(tmp_path)!r})
        with in_process(server.app) as http:
            link = http.post("/camera/capture?reply=output").json()
            picture = http.get(link["href"]).content
        print(len(recorded), picture in recorded)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["12", "True"]
    assert "Pillow is not installed" in run.stderr


async def test_cancelling_a_scan_stops_the_stage_and_frees_the_lock(
    serve_things: ServeThings, client: httpx2.AsyncClient, tmp_path: Path
) -> None:
    root = await serve_things(rig_server(tmp_path))
    scan = (await client.post(f"{root}/scanner/scan", json={"columns": 10, "rows": 10})).json()
    for _ in range(400):  # Up to 20 s on a busy machine.
        progress = (await client.get(scan["href"])).json()["progress"]
        if progress and progress["percent"]:
            break
        await asyncio.sleep(0.05)
    assert progress["message"].startswith("tile ")
    assert (await client.delete(scan["href"])).status_code in (200, 202)
    for _ in range(400):
        ended = (await client.get(scan["href"])).json()
        if ended["status"] != "running":
            break
        await asyncio.sleep(0.05)
    # The cancel reached the stage's move, inline in the scan, and ended the scan.
    assert ended["status"] == "cancelled"
    assert ended["progress"]["percent"] < 100
    moved = await client.post(f"{root}/stage/move_to?reply=output", json={"x": 1, "y": 2})
    assert moved.status_code == 200, moved.text  # The scan's hold on the lock is gone.
