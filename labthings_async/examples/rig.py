"""The example rig: a stage, a camera with a live view, and a scanner that uses both.

Written as a LabThings-FastAPI user writes a rig (``import labthings_async as
lt``), so it shows the instrument-data features together:

- the camera streams real JPEG frames of the sample under the stage
  (``lt.outputs.MJPEGStreamDescriptor``), following the stage from the first
  frame, and returns pictures as image files (``lt.blob``);
- its calibration, ``pixel_size``, is a setting (``lt.setting``): it is saved
  when it changes and loaded when the server starts again;
- the camera and the scanner hold the stage (and the camera) in slots
  (``lt.thing_slot``); the scanner's moves and pictures run inline, in the
  scan's own invocation, and the scan returns the tiles as one ZIP file;
- ``rig.json`` turns on LabThings' global lock (``enable_global_lock``): one
  action or client property write at a time, so while a scan or a move runs,
  a second client's move is refused with 409.

Serve it with ``make serve`` (``labthings_async/examples/rig.json``). The
settings go to ``settings/`` under the folder the server starts in (for
``make serve``, the repository's root; git ignores it): the camera's are in
``settings/camera/Settings-Camera.json``.
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


class StagePosition(msgspec.Struct, frozen=True):
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
    """A motorised XYZ stage."""

    speed: float = lt.property(default=2000.0, gt=0, le=10_000, description="Speed in µm/s.")
    position: StagePosition = lt.property(
        default=StagePosition(0.0, 0.0, 0.0), readonly=True, description="Where the stage is."
    )

    @lt.action
    def move_to(self, x: Micrometres, y: Micrometres, z: Micrometres = 0.0) -> StagePosition:
        """Move to (x, y, z); cancel it to stop where it is."""
        start = self.position
        distance = max(abs(x - start.x), abs(y - start.y), abs(z - start.z))
        steps = max(1, min(20, int(distance / self.speed * 20)))
        for step in range(1, steps + 1):
            lt.cancellable_sleep(distance / self.speed / steps)
            fraction = step / steps
            self.position = StagePosition(
                start.x + (x - start.x) * fraction,
                start.y + (y - start.y) * fraction,
                start.z + (z - start.z) * fraction,
            )
        return self.position


class Camera(lt.Thing):
    """A camera looking at the sample on the stage, with a live view."""

    stage: Stage = lt.thing_slot()
    stream = lt.outputs.MJPEGStreamDescriptor(ringbuffer_size=10)
    frame_rate: float = lt.property(
        default=10.0, gt=0, le=30, use_global_lock=False, description="Live view, frames/s."
    )
    brightness: float = lt.property(default=1.0, gt=0, le=4, description="Illumination.")
    pixel_size: float = lt.setting(
        default=1.0, gt=0, le=50, description="Calibration: micrometres per pixel (saved)."
    )

    def __init__(self) -> None:
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

    def snap(self, tick: int = 0) -> bytes:
        """One frame of what the camera sees where the stage is now, as JPEG."""
        if self._recorded:
            return self._recorded[tick % len(self._recorded)]
        where = self.stage.position
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
    def capture(self) -> JPEGImage:
        """Take a picture of the sample where the stage is, as a JPEG file."""
        return JPEGImage.from_bytes(self.snap())


class Scanner(lt.Thing):
    """Scans a grid of positions with the stage and the camera."""

    stage: Stage = lt.thing_slot()
    camera: Camera = lt.thing_slot()

    @lt.action
    def scan(
        self,
        columns: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3,
        rows: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3,
        pitch: Annotated[float, msgspec.Meta(gt=0, le=400)] = 200.0,
    ) -> ZipArchive:
        """Take a picture at each point of a grid; returns the pictures as one ZIP file."""
        folder = tempfile.TemporaryDirectory(prefix="scan-")
        total = columns * rows
        try:
            with zipfile.ZipFile(Path(folder.name) / "scan.zip", "w") as tiles:
                for index in range(total):
                    row, column = divmod(index, columns)
                    x, y = (column - (columns - 1) / 2) * pitch, (row - (rows - 1) / 2) * pitch
                    # Nested: these run here, inline, in the scan's invocation, which
                    # holds the global lock until the scan ends.
                    self.stage.move_to(x=x, y=y)
                    picture = self.camera.capture()
                    tiles.writestr(f"tile_{row}_{column}_x{x:+.0f}_y{y:+.0f}.jpg", picture.content)
                    lt.report_progress(100 * (index + 1) / total, f"tile {index + 1} of {total}")
        except BaseException:  # Cancelled, say: the tiles taken so far go with the folder.
            folder.cleanup()
            raise
        self.logger.info("scanned %d tiles", total)
        return ZipArchive.from_temporary_directory(folder, "scan.zip")
