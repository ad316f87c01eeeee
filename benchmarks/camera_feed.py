"""A simulated camera driver for the camera-stream benchmark, shared by both bench Things.

Standard library only: LabThings-FastAPI's bench Thing imports it too, so
neither server loads the other's package.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ("CameraFeed", "bench_frame")


def bench_frame(size: int) -> bytes:
    """A JPEG of ``size`` bytes as far as a stream can tell (SOI, comments, EOI)."""
    body = bytearray(b"\xff\xd8")
    remaining = max(size - 4, 0)
    while remaining > 4:
        chunk = min(remaining - 4, 65_000)
        body += b"\xff\xfe" + (chunk + 2).to_bytes(2, "big") + bytes(chunk)
        remaining -= chunk + 4
    body += b"\xff\xd9"
    return bytes(body)


class CameraFeed:
    """A thread adding frames to a stream at a steady rate, as a camera driver does."""

    def __init__(self) -> None:
        self.frames = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, add_frame: Callable[[bytes], object], fps: float, frame_size: int) -> None:
        """Start adding ``frame_size``-byte frames ``fps`` times a second."""
        self.stop()
        self._stop = threading.Event()
        frame = bench_frame(frame_size)

        def run() -> None:
            period = 1 / fps
            due = time.monotonic()
            while not self._stop.is_set():
                add_frame(frame)
                self.frames += 1
                due += period
                self._stop.wait(max(0.0, due - time.monotonic()))

        self._thread = threading.Thread(target=run, name="bench camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop adding frames."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
