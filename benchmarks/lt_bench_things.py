"""The same bench Thing written with LabThings-FastAPI 0.3.0's own API.

Served by ``lt_serve.py``. It has the threaded affordances of
``bench_things.BenchThing`` (LabThings-FastAPI has no async actions).
"""

from __future__ import annotations

import labthings_fastapi as lt
from camera_feed import CameraFeed

__all__ = ("LTBenchThing",)


class LTBenchThing(lt.Thing):
    """Actions and a property that do as little as possible, for benchmarks."""

    value: int = lt.property(default=0)
    "A plain data property."
    camera = lt.outputs.MJPEGStreamDescriptor()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._feed = CameraFeed()

    @lt.property
    def frames_added(self) -> int:
        """Frames the camera feed has added so far."""
        return self._feed.frames

    @lt.action
    def start_camera(self, fps: float, frame_size: int) -> None:
        """Feed the camera stream from a thread: ``fps`` frames of ``frame_size`` bytes a second."""
        self._feed.start(self.camera.add_frame, fps, frame_size)

    @lt.action
    def stop_camera(self) -> None:
        """Stop feeding the camera stream."""
        self._feed.stop()

    @lt.action
    def noop(self) -> None:
        """Do nothing, in the invocation's thread."""

    @lt.action
    def sleep(self, seconds: float) -> None:
        """Sleep (cancellably) in the invocation's thread."""
        lt.cancellable_sleep(seconds)

    @lt.action
    def log_lines(self, n: int) -> int:
        """Log ``n`` INFO lines into the invocation's log."""
        for index in range(n):
            self.logger.info("log line %d of %d", index + 1, n)
        return n
