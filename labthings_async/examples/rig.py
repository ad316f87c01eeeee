"""The example rig: a stage, a camera with a live view, and a scanner that uses both.

Written as a LabThings-FastAPI user writes a rig (``import labthings_async as
lt``), so it shows the instrument-data features together: the camera streams
real JPEG frames (``lt.outputs.MJPEGStreamDescriptor``) of the sample under
the stage, returns pictures as image files (``lt.blob``), and keeps a
calibration; the scanner drives the stage and the camera and returns the
tiles it took as one ZIP file; the stage lets one client drive it at a time.

Not yet here, and what changes when it is: persisted settings and Thing slots
(issue 12, part 1) are being built. The camera's ``pixel_size`` is a plain
property until ``lt.setting`` lands (then it survives a restart), and the
scanner and the camera are handed the stage (and the camera) as
``lt.ThingDependency`` parameters of their actions until ``lt.thing_slot``
lands (then they become attributes, usable in setup): until then the live view
follows the stage from the first picture taken, and shows the slide's centre
before it.
The stage's lock is its own ``RLock`` until the framework's per-Thing lock
lands.

Serve it with ``make serve`` (``labthings_async/examples/rig.json``).
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Annotated

import msgspec

import labthings_async as lt

from .sample import SampleView, can_draw, recorded_frames

__all__ = ("Camera", "JPEGImage", "Scanner", "Stage", "StagePosition", "ZipArchive")

Micrometres = Annotated[float, msgspec.Meta(ge=-2000, le=2000)]


class StagePosition(msgspec.Struct):
    """Where the stage is, in micrometres."""

    x: float
    y: float
    z: float


class JPEGImage(lt.blob.Blob):
    """A picture from the camera."""

    media_type = "image/jpeg"


class ZipArchive(lt.blob.Blob):
    """Several files in one ZIP archive."""

    media_type = "application/zip"


class Stage(lt.Thing):
    """A motorised XYZ stage that one client drives at a time."""

    speed: float = lt.property(default=2000.0, gt=0, le=10_000, description="Speed in µm/s.")

    def __init__(self) -> None:
        self._position = StagePosition(0.0, 0.0, 0.0)
        # Re-entrant, so a scan may move the stage while it holds it.
        self._driving = threading.RLock()

    @lt.property
    def position(self) -> StagePosition:
        """Where the stage is now."""
        return self._position

    @lt.action
    def move_to(self, x: Micrometres, y: Micrometres, z: Micrometres = 0.0) -> StagePosition:
        """Move to (x, y, z); refused while another client is moving the stage."""
        if not self._driving.acquire(blocking=False):
            raise RuntimeError("the stage is being driven by another invocation; try again")
        try:
            start = self._position
            distance = max(abs(x - start.x), abs(y - start.y), abs(z - start.z))
            steps = max(1, min(20, int(distance / self.speed * 20)))
            for step in range(1, steps + 1):
                lt.cancellable_sleep(distance / self.speed / steps)
                fraction = step / steps
                self._position = StagePosition(
                    start.x + (x - start.x) * fraction,
                    start.y + (y - start.y) * fraction,
                    start.z + (z - start.z) * fraction,
                )
            return self._position
        finally:
            self._driving.release()

    def hold(self) -> threading.RLock:
        """The stage's lock: hold it to drive the stage through several moves."""
        return self._driving


class Camera(lt.Thing):
    """A camera looking at the sample on the stage, with a live view."""

    stream = lt.outputs.MJPEGStreamDescriptor(ringbuffer_size=10)
    frame_rate: float = lt.property(default=10.0, gt=0, le=30, description="Live view, frames/s.")
    brightness: float = lt.property(default=1.0, gt=0, le=4, description="Illumination.")
    # Becomes `lt.setting` once persisted settings land: a calibration must survive a restart.
    pixel_size: float = lt.property(
        default=1.0, gt=0, le=50, description="Calibration: micrometres per pixel."
    )

    def __init__(self) -> None:
        self.stage: Stage | None = None
        self._view = SampleView()
        self._recorded: list[bytes] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        """Start the live view."""
        if not can_draw():
            self._recorded = recorded_frames()
            self.logger.warning(
                "Pillow is not installed: the live view plays recorded frames and does "
                "not follow the stage; install labthings-async[examples] to draw the sample"
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="camera live view", daemon=True)
        self._thread.start()

    def teardown(self) -> None:
        """Stop the live view."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _position(self) -> StagePosition:
        return self.stage.position if self.stage is not None else StagePosition(0.0, 0.0, 0.0)

    def snap(self, tick: int = 0) -> bytes:
        """One frame of what the camera sees now, as JPEG."""
        if self._recorded:
            return self._recorded[tick % len(self._recorded)]
        where = self._position()
        return self._view.jpeg(
            where.x,
            where.y,
            where.z,
            pixel_size=self.pixel_size,
            brightness=self.brightness,
            tick=tick,
        )

    def _run(self) -> None:
        for tick in itertools.count():
            if self._stop.wait(1 / self.frame_rate):
                return
            try:
                self.stream.add_frame(self.snap(tick))
            except Exception:  # A camera fault must not end the live view silently.
                logging.getLogger(__name__).exception("the live view could not take a frame")

    @lt.action
    def capture(self, stage: Annotated[Stage, lt.ThingDependency("stage")]) -> JPEGImage:
        """Take a picture of the sample where the stage is, as a JPEG file."""
        self.stage = stage
        return JPEGImage.from_bytes(self.snap())


class Scanner(lt.Thing):
    """Scans a grid of positions with the stage and the camera."""

    @lt.action
    def scan(
        self,
        stage: Annotated[Stage, lt.ThingDependency("stage")],
        camera: Annotated[Camera, lt.ThingDependency("camera")],
        columns: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3,
        rows: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3,
        pitch: Annotated[float, msgspec.Meta(gt=0, le=400)] = 200.0,
    ) -> ZipArchive:
        """Take a picture at each point of a grid; returns the pictures as one ZIP file."""
        folder = tempfile.TemporaryDirectory(prefix="scan-")
        archive = Path(folder.name) / "scan.zip"
        total = columns * rows
        with stage.hold(), zipfile.ZipFile(archive, "w") as tiles:
            for index in range(total):
                row, column = divmod(index, columns)
                x, y = (column - (columns - 1) / 2) * pitch, (row - (rows - 1) / 2) * pitch
                stage.move_to(x=x, y=y)  # Nested: runs here, inline, in this invocation.
                picture = camera.capture(stage=stage)
                tiles.writestr(f"tile_{row}_{column}_x{x:+.0f}_y{y:+.0f}.jpg", picture.content)
                lt.report_progress(100 * (index + 1) / total, f"tile {index + 1} of {total}")
        self.logger.info("scanned %d tiles", total)
        return ZipArchive.from_temporary_directory(folder, "scan.zip")
