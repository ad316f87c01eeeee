"""A microscope rig written for LabThings-FastAPI 0.3.0, as its users write one.

A stage whose calibration is a setting, a camera with a live view fed from a
thread and a ``capture`` action returning a JPEG, a grey-scale array, and a
scanner that holds the stage and the camera in slots. The server's config
turns on LabThings' global lock, so one action drives the rig at a time.

This file is LabThings code: the tests serve it on LabThings-FastAPI 0.3.0
itself, and on labthings_async with its import lines changed and nothing else.
"""

import io
import threading
from types import TracebackType

import labthings_fastapi as lt
import numpy as np
from labthings_fastapi.outputs.blob import Blob
from labthings_fastapi.outputs.mjpeg_stream import MJPEGStreamDescriptor
from labthings_fastapi.types.numpy import NDArray
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 160, 120


class JPEGBlob(Blob):
    """A picture from the camera."""

    media_type = "image/jpeg"


class Stage(lt.Thing):
    """A simulated XY stage, driven in micrometres."""

    steps_per_um: float = lt.setting(default=1.0, gt=0)
    """The calibration: motor steps per micrometre."""

    speed: float = lt.property(default=2000.0, gt=0)
    """How fast the stage moves, in micrometres per second."""

    position: list[float] = lt.property(default_factory=lambda: [0.0, 0.0], readonly=True)
    """Where the stage is, in micrometres."""

    @lt.property
    def motor_steps(self) -> list[int]:
        """Where the stage is, in motor steps (the calibration applied)."""
        return [round(value * self.steps_per_um) for value in self.position]

    @lt.action
    def move_to(self, x: float, y: float) -> list[float]:
        """Move to (x, y) micrometres, at the stage's speed."""
        start_x, start_y = self.position
        distance = max(abs(x - start_x), abs(y - start_y))
        steps = max(1, min(50, int(distance / 10)))
        self.logger.info(f"moving to ({x}, {y})")
        for step in range(1, steps + 1):
            lt.cancellable_sleep(distance / self.speed / steps)
            fraction = step / steps
            self.position = [
                start_x + (x - start_x) * fraction,
                start_y + (y - start_y) * fraction,
            ]
        return self.position


class Camera(lt.Thing):
    """A simulated camera looking at the sample on the stage."""

    stage: Stage = lt.thing_slot()
    stream = MJPEGStreamDescriptor(ringbuffer_size=5)

    def __enter__(self) -> "Camera":
        self._stopping = threading.Event()
        self._frames = threading.Thread(target=self._live_view, daemon=True)
        self._frames.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._frames.join()

    def _live_view(self) -> None:
        tick = 0
        while not self._stopping.wait(0.05):
            self.stream.add_frame(self.snap(tick))
            tick += 1

    def snap(self, tick: int = 0) -> bytes:
        """What the camera sees where the stage is, as JPEG: brighter to the right and down."""
        x, y = self.stage.position
        level = int(np.clip(40 + (x + 1000) / 10 + y / 10, 0, 255))
        image = Image.new("L", (WIDTH, HEIGHT), level)
        # A bar that moves from frame to frame, so a live view visibly lives.
        ImageDraw.Draw(image).rectangle([tick % WIDTH, 0, tick % WIDTH + 4, 10], fill=255)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG")
        return buffer.getvalue()

    @lt.action
    def capture(self) -> JPEGBlob:
        """Take a picture where the stage is."""
        return JPEGBlob.from_bytes(self.snap())

    @lt.action
    def grab_array(self, binning: int = 20) -> NDArray:
        """Take a picture as an array of grey levels, binned ``binning`` by ``binning``."""
        image = np.asarray(Image.open(io.BytesIO(self.snap())), dtype=np.float64)
        rows, columns = HEIGHT // binning, WIDTH // binning
        binned: NDArray = image.reshape(rows, binning, columns, binning).mean(axis=(1, 3))
        return binned


class Scanner(lt.Thing):
    """Scans a grid with the stage and the camera."""

    stage: Stage = lt.thing_slot()
    camera: Camera = lt.thing_slot()

    @lt.action
    def scan(self, columns: int = 3, rows: int = 2, pitch: float = 100.0) -> NDArray:
        """Take a picture at each point of a grid; the mean grey level of each."""
        brightness = np.zeros((rows, columns))
        for row in range(rows):
            for column in range(columns):
                self.stage.move_to(x=column * pitch, y=row * pitch)
                picture = self.camera.capture()
                brightness[row, column] = np.asarray(Image.open(io.BytesIO(picture.content))).mean()
        self.logger.info(f"scanned {rows * columns} points")
        return brightness
