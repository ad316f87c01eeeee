"""Workload 9: a camera stream to 1, 10 and 100 viewers, ours and LabThings-FastAPI's.

Run: ``python -m benchmarks.camera_stream [--quick] [--json PATH]``.

Each server serves the bench Thing, whose ``camera`` stream a thread inside
the server feeds at 30 frames/s with 64 KiB frames (``camera_feed.py``), as
a camera driver would. This process opens the viewers as raw HTTP/1.1
connections to ``GET /bench/camera`` (the multipart stream), reads everything
and counts the parts, doing nothing else, so a viewer is never slower than
the server. After a warm-up, the window measures: frames per second each
viewer received (the slowest viewer's, and the median's), and the server's
CPU seconds per delivered frame (``/proc``), against LabThings-FastAPI
0.3.0 on the same stream. The targets: 100 viewers keep the full rate on one
core, and CPU per delivered frame is at most half of LabThings'.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import statistics
import sys
import time

from .results import Series, Target, TopicResult
from .servers import Kind, Server, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "9 camera stream"
FPS = 30.0
FRAME_SIZE = 64 * 1024
_BOUNDARY = b"--frame\r\n"
_CONNECT_BATCH = 50


def _post(server: Server, path: str, body: dict[str, object]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            json.dumps(body),
            {"Content-Type": "application/json", "Prefer": "wait=10"},
        )
        reply = connection.getresponse()
        reply.read()
        if reply.status >= 300:
            raise RuntimeError(f"POST {path} answered {reply.status}")
    finally:
        connection.close()


class Viewer:
    """One viewer: a connection reading the stream and counting its parts."""

    def __init__(self) -> None:
        self.parts = 0
        self.closed = False

    async def watch(self, port: int, ready: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        request = f"GET /bench/camera HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        await loop.sock_sendall(sock, request)
        buffer = bytearray(1 << 18)
        tail = b""
        ready.set()
        try:
            while True:
                size = await loop.sock_recv_into(sock, buffer)
                if size == 0:
                    break
                # A boundary may straddle two reads: keep the end of the last one.
                chunk = tail + bytes(memoryview(buffer)[: min(size, 64)])
                self.parts += chunk.count(_BOUNDARY) + buffer.count(_BOUNDARY, 64, size)
                tail = bytes(memoryview(buffer)[max(0, size - len(_BOUNDARY) + 1) : size])
        finally:
            self.closed = True
            sock.close()


async def _watch(server: Server, viewers: int, warmup: float, window: float) -> dict[str, float]:
    watching = [Viewer() for _ in range(viewers)]
    tasks = []
    for start in range(0, viewers, _CONNECT_BATCH):
        readies = []
        for viewer in watching[start : start + _CONNECT_BATCH]:
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.ensure_future(viewer.watch(server.port, ready)))
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 30)
    await asyncio.sleep(warmup)
    counts = [viewer.parts for viewer in watching]
    cpu = server.cpu_seconds()
    started = time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - started
    cpu = server.cpu_seconds() - cpu
    received = [viewer.parts - before for viewer, before in zip(watching, counts, strict=True)]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    rates = [count / elapsed for count in received]
    delivered = sum(received)
    return {
        "slowest": min(rates),
        "median": statistics.median(rates),
        "cpu_per_frame": cpu / delivered * 1e6 if delivered else float("nan"),
        "cpu_share": 100 * cpu / elapsed,
    }


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def measure(settings: Settings, result: TopicResult) -> None:
    """Every viewer count on each server, a fresh server per repeat."""
    counts = settings.size((1, 10, 100), (1, 10))
    warmup, window = settings.size((2.0, 5.0), (1.0, 1.5))
    kinds: list[Kind] = ["ours", "labthings"] if settings.labthings else ["ours"]
    cases = {
        n: f"{n} viewer{'s' * (n > 1)}, {FPS:g} fps x {FRAME_SIZE // 1024} KiB" for n in counts
    }
    for _ in range(settings.repeats):
        for kind in kinds:
            with serve(kind, settings.cpus) as server:
                _post(server, "/bench/start_camera", {"fps": FPS, "frame_size": FRAME_SIZE})
                for viewers, case in cases.items():
                    run = await _watch(server, viewers, warmup, window)
                    _add(result, case, kind, "frames/s, slowest viewer", "frames/s", run["slowest"])
                    _add(result, case, kind, "frames/s, median viewer", "frames/s", run["median"])
                    _add(result, case, kind, "server CPU / frame", "µs", run["cpu_per_frame"])
                    _add(result, case, kind, "server CPU", "% of a core", run["cpu_share"])
                _post(server, "/bench/stop_camera", {})
    most = cases[counts[-1]]
    slowest = result.find(most, "ours", "frames/s, slowest viewer")
    result.ratios += [
        paired_ratio(
            f"{most}: slowest viewer's rate / camera rate",
            slowest,
            Series(WORKLOAD, most, "camera", "fps", "frames/s", [FPS] * len(slowest.samples))
            if slowest
            else None,
            Target(">=", 0.95),
        ),
        paired_ratio(
            f"{most}: server CPU per delivered frame, ours / LabThings",
            result.find(most, "ours", "server CPU / frame"),
            result.find(most, "labthings", "server CPU / frame"),
            Target("<=", 0.5),
        ),
    ]
    result.notes.append(
        "camera stream: the feed runs in the server's process, in its own thread, at 30 frames/s; "
        "viewers are raw sockets counting parts; server CPU includes the feed's"
    )


if __name__ == "__main__":
    sys.exit(run_topic("camera_stream", measure))
