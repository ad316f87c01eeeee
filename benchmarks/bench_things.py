"""The Thing every labthings_async measurement serves (``bench_things:BenchThing``).

It mirrors ``lt_bench_things.LTBenchThing`` (the same affordances written with
LabThings-FastAPI's API), so both servers run the same workload: a no-op, a
sleep, an action that logs ``n`` lines, and a plain data property. The async
variants exist only here: LabThings-FastAPI runs every action in a thread.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from camera_feed import CameraFeed

import labthings_async as lt

__all__ = ("BenchFile", "BenchThing")


class BenchFile(lt.blob.Blob):
    """A file to download."""

    media_type = "application/octet-stream"


class BenchThing(lt.Thing):
    """Actions and a property that do as little as possible, for benchmarks."""

    value: int = lt.property(default=0, description="A plain data property.")
    camera = lt.outputs.MJPEGStreamDescriptor()

    def __init__(self) -> None:
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
    def file(self, path: str) -> BenchFile:
        """The file at ``path``, as a blob served from disk."""
        return BenchFile.from_file(Path(path))

    @lt.action
    def noop(self) -> None:
        """Do nothing, in a worker thread."""

    @lt.action
    def sleep(self, seconds: float) -> None:
        """Sleep (cancellably) in a worker thread."""
        lt.cancellable_sleep(seconds)

    @lt.action
    def log_lines(self, n: int) -> int:
        """Log ``n`` INFO lines into the invocation's log."""
        for index in range(n):
            self.logger.info("log line %d of %d", index + 1, n)
        return n

    @lt.action
    async def async_noop(self) -> None:
        """Do nothing, on the event loop."""

    @lt.action
    async def async_sleep(self, seconds: float) -> None:
        """Sleep on the event loop (no thread)."""
        await anyio.sleep(seconds)
