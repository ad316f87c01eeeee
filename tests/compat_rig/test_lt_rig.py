"""A rig written for LabThings-FastAPI 0.3.0 runs there, and here with only its imports changed.

Every test runs twice: on LabThings' own server, the module as written, and
on ours, the module ported (``labthings_fastapi`` replaced by
``labthings_async``, nothing else), each from the same LabThings config
file. The rig is driven over HTTP by LabThings' ``ThingClient``, by ours, or
by plain requests. Where the two servers differ on purpose (a busy lock), the
test says how, and the README's porting notes say why.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from labthings_fastapi.client import ThingClient as LabThingsClient
from labthings_fastapi.exceptions import FailedToInvokeActionError, GlobalLockBusyError
from PIL import Image
from rig_servers import (
    FRAMEWORKS,
    LT_RIG,
    RigServer,
    decoded,
    port_source,
    read_frames,
    wait_for_status,
)

from labthings_async import LockBusyError, ThingClient

# LabThings imports FastAPI and pydantic before it answers: seconds, on a busy machine.
TIMEOUT = 60.0
pytestmark = pytest.mark.timeout(300)

CLIENTS = ("labthings_client", "our_client")


@pytest.fixture(scope="module", params=FRAMEWORKS)
def rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RigServer]:
    """The rig, served by LabThings or by us, for the tests of this module."""
    folder = tmp_path_factory.mktemp(request.param)
    server = RigServer(request.param, folder, folder / "settings")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def connect(kind: str, url: str) -> Iterator[Any]:
    """A client of the Thing at ``url``: LabThings' ``ThingClient`` or ours."""
    if kind == "labthings_client":
        # LabThings' client sends paths relative to its HTTP client's base URL.
        root = str(httpx2.URL(url).copy_with(path="/"))
        with httpx2.Client(base_url=root, timeout=TIMEOUT) as http:
            yield LabThingsClient.from_url(url, client=http)
    else:
        with ThingClient.from_url(url, timeout=TIMEOUT) as client:
            yield client


def test_the_port_changes_the_import_lines_and_nothing_else() -> None:
    source = LT_RIG.read_text()
    ported = port_source(source)
    diff = difflib.ndiff(source.splitlines(), ported.splitlines())
    changed = [line[2:] for line in diff if line[0] == "+"]
    assert changed == [
        "import labthings_async as lt",
        "from labthings_async.outputs.blob import Blob",
        "from labthings_async.outputs.mjpeg_stream import MJPEGStreamDescriptor",
        "from labthings_async.types.numpy import NDArray",
    ]


@pytest.mark.parametrize("client", CLIENTS)
def test_the_scan_drives_the_stage_and_camera_through_its_slots_inline(
    rig: RigServer, client: str
) -> None:
    with connect(client, f"{rig.url}/scanner/") as scanner:
        brightness = scanner.scan(columns=3, rows=2, pitch=100)
    # An array, as nested lists: one mean grey level per point, brighter right and down.
    assert [len(row) for row in brightness] == [3, 3]
    assert brightness[0][0] < brightness[0][1] < brightness[0][2]
    assert brightness[0][0] < brightness[1][0]
    assert httpx2.get(f"{rig.url}/stage/position", timeout=TIMEOUT).json() == [200.0, 100.0]
    # Inline: the stage's moves and the camera's pictures are no invocations of
    # their own; the stage's log lines are in the scan's log.
    invocations = httpx2.get(f"{rig.url}/scanner/scan", timeout=TIMEOUT).json()
    scan = httpx2.get(invocations[-1]["href"], timeout=TIMEOUT).json()
    messages = [entry["message"] for entry in scan["log"]]
    assert "moving to (200.0, 100.0)" in messages
    assert messages[-1] == "scanned 6 points"
    for action in ("stage/move_to", "camera/capture"):
        assert httpx2.get(f"{rig.url}/{action}", timeout=TIMEOUT).json() == []


@pytest.mark.parametrize("client", CLIENTS)
def test_capture_returns_a_jpeg_file_that_downloads(
    rig: RigServer, client: str, tmp_path: Path
) -> None:
    with connect(client, f"{rig.url}/camera/") as camera:
        picture = camera.capture()
        assert picture.media_type == "image/jpeg"
        content = picture.content
        picture.save(str(tmp_path / "picture.jpg"))
    assert decoded(content).size == (160, 120)
    assert (tmp_path / "picture.jpg").read_bytes() == content
    # The link, as it is in the invocation's output, serves the bytes with their type.
    done = httpx2.get(f"{rig.url}/camera/capture", timeout=TIMEOUT).json()[-1]
    output = httpx2.get(done["href"], timeout=TIMEOUT).json()["output"]
    download = httpx2.get(output["href"], timeout=TIMEOUT)
    assert download.headers["content-type"] == "image/jpeg"
    assert decoded(download.content).format == "JPEG"


@pytest.mark.parametrize("client", CLIENTS)
def test_an_array_comes_back_as_nested_lists(rig: RigServer, client: str) -> None:
    with connect(client, f"{rig.url}/camera/") as camera:
        grey = camera.grab_array(binning=40)
    assert [len(row) for row in grey] == [4, 4, 4]
    assert all(isinstance(level, float) for row in grey for level in row)
    described = httpx2.get(f"{rig.url}/camera/", timeout=TIMEOUT).json()
    output = described["actions"]["grab_array"]["output"]
    assert "array" in json.dumps(output)  # Nested lists, as the schema says.


def test_the_live_view_streams_jpeg_frames_that_follow_the_stage(rig: RigServer) -> None:
    httpx2.put(f"{rig.url}/stage/speed", json=2000.0, timeout=TIMEOUT).raise_for_status()
    with connect("our_client", f"{rig.url}/stage/") as stage:
        stage.move_to(x=-800, y=0)
        with httpx2.stream("GET", f"{rig.url}/camera/stream", timeout=TIMEOUT) as live:
            assert live.headers["content-type"].startswith("multipart/x-mixed-replace")
            frames = read_frames(live.iter_bytes())
            dark = [decoded(next(frames)) for _ in range(3)]
            stage.move_to(x=800, y=0)
            bright = decoded(next(frames))
            # Frames already on their way when the move ended may show the old place.
            while mean_level(bright) < mean_level(dark[0]) + 100:
                bright = decoded(next(frames))
    assert len({image.tobytes() for image in dark}) == 3  # Each frame is new: the view lives.


def mean_level(image: Image.Image) -> float:
    histogram = image.convert("L").histogram()
    return sum(level * count for level, count in enumerate(histogram)) / sum(histogram)


def test_the_global_lock_refuses_a_second_driver_while_a_move_runs(rig: RigServer) -> None:
    with connect("our_client", f"{rig.url}/stage/") as stage:
        stage.move_to(x=0, y=0)
        stage.speed = 20.0  # 1000 µm takes 50 s: long enough to try a second driver.
    slow = httpx2.post(f"{rig.url}/stage/move_to", json={"x": 1000, "y": 0}, timeout=TIMEOUT)
    assert slow.status_code == 201
    running = wait_for_status(slow.json()["links"][0]["href"], {"running"})
    try:
        # Both refuse a client's property write while the lock is held: 409.
        write = httpx2.put(f"{rig.url}/stage/speed", json=2000.0, timeout=TIMEOUT)
        assert write.status_code == 409
        second = httpx2.post(f"{rig.url}/stage/move_to", json={"x": 5, "y": 5}, timeout=TIMEOUT)
        if rig.framework == "labthings_async":
            # Refused at once, and no invocation is made.
            assert second.status_code == 409
            assert second.headers["content-type"] == "application/problem+json"
            assert "global lock" in second.json()["detail"]
            with connect("our_client", f"{rig.url}/stage/") as stage, pytest.raises(LockBusyError):
                stage.move_to(x=5, y=5)
            with (
                connect("labthings_client", f"{rig.url}/stage/") as stage,
                pytest.raises(FailedToInvokeActionError, match="global lock"),
            ):
                stage.move_to(x=5, y=5)
        else:
            # LabThings accepts it (201), then ends it in error once the lock has been
            # busy for 50 ms.
            assert second.status_code == 201
            failed = wait_for_status(second.json()["links"][0]["href"], {"error", "completed"})
            assert failed["status"] == "error"
            with (
                connect("labthings_client", f"{rig.url}/stage/") as stage,
                pytest.raises(GlobalLockBusyError),
            ):
                stage.move_to(x=5, y=5)
    finally:
        httpx2.delete(running["href"], timeout=TIMEOUT)
    assert wait_for_status(running["href"], {"cancelled", "completed"})["status"] == "cancelled"
    with connect("our_client", f"{rig.url}/stage/") as stage:
        stage.speed = 2000.0  # Free again.
        assert stage.move_to(x=5, y=5) == [5.0, 5.0]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_calibration_setting_survives_a_restart(framework: str, tmp_path: Path) -> None:
    rig = RigServer(framework, tmp_path, tmp_path / "settings")
    rig.start()
    try:
        with connect("labthings_client", f"{rig.url}/stage/") as stage:
            assert stage.steps_per_um == 1.0
            stage.steps_per_um = 2.5
        rig.restart()
        with connect("our_client", f"{rig.url}/stage/") as stage:
            assert stage.steps_per_um == 2.5
            stage.move_to(x=10, y=4)
            assert stage.motor_steps == [25, 10]
    finally:
        rig.stop()


def test_a_settings_folder_moves_between_labthings_and_here(tmp_path: Path) -> None:
    settings = tmp_path / "settings"
    labthings = RigServer("labthings_fastapi", tmp_path / "labthings", settings)
    ours = RigServer("labthings_async", tmp_path / "ours", settings)
    for server, write, expect in ((labthings, 3.0, 1.0), (ours, 4.0, 3.0), (labthings, 4.0, 4.0)):
        server.start()
        try:
            with closing(httpx2.Client(timeout=TIMEOUT)) as http:
                assert http.get(f"{server.url}/stage/steps_per_um").json() == expect
                http.put(f"{server.url}/stage/steps_per_um", json=write).raise_for_status()
        finally:
            server.stop()
