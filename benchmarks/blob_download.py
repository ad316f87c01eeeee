"""Workload 10: downloading a 100 MB file blob, against Starlette's ``FileResponse`` alone.

Run: ``python -m benchmarks.blob_download [--quick] [--json PATH]``.

The bench Thing's ``file`` action returns a file on disk as a blob; this
process downloads it from the blob's href, reading into one buffer and
keeping nothing, so the figure is the server's. The floor serves the same
file with a bare Starlette ``FileResponse`` route on hypercorn
(``floor_app.py``): what Starlette and hypercorn do with no framework on
top. Figures: MB/s per download, and the server's peak resident memory
while downloading, sampled every 10 ms (``procstat.PeakSampler``), above
what it had before. The target: within 10% of the floor, with memory flat.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from .procstat import PeakSampler
from .results import Series, Target, TopicResult
from .servers import Kind, Server, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "10 blob download"
_MB = 1_000_000


def _connection(server: Server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)


def _href(server: Server, path: Path) -> str:
    """The path to download ``path`` from, on this server."""
    if server.kind == "floor":
        return f"/file?path={quote(str(path))}"
    connection = _connection(server)
    try:
        connection.request(
            "POST",
            "/bench/file?reply=output",
            json.dumps({"path": str(path)}),
            {"Content-Type": "application/json"},
        )
        reply = connection.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"the file action answered {reply.status}: {body[:200]!r}")
        return urlsplit(json.loads(body)["href"]).path
    finally:
        connection.close()


def _download(server: Server, href: str, size: int) -> float:
    """Download once; seconds taken."""
    buffer = bytearray(1 << 20)
    connection = _connection(server)
    try:
        started = time.perf_counter()
        connection.request("GET", href)
        reply = connection.getresponse()
        received = 0
        while (count := reply.readinto(buffer)) > 0:
            received += count
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if received != size:
        raise RuntimeError(f"downloaded {received} bytes of {size}")
    return elapsed


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


async def measure(settings: Settings, result: TopicResult) -> None:
    """Each server downloads the same file ``downloads`` times per repeat."""
    size = settings.size(100 * _MB, 20 * _MB)
    downloads = settings.size(3, 1)
    case = f"{size // _MB} MB file, {downloads} downloads in turn"
    kinds: list[Kind] = ["ours", "floor"]
    with tempfile.TemporaryDirectory(prefix="bench-blob-") as folder:
        path = Path(folder) / "large.bin"
        with path.open("wb") as file:
            for _ in range(size // _MB):
                file.write(os.urandom(_MB))
        for _ in range(settings.repeats):
            for kind in kinds:
                with serve(kind, settings.cpus) as server:
                    href = _href(server, path)
                    _download(server, href, size)  # Warm: the page cache, the route.
                    before = server.status().rss
                    with PeakSampler(server.pid) as peak:
                        seconds = [_download(server, href, size) for _ in range(downloads)]
                    rate = size * downloads / sum(seconds) / _MB
                    _add(result, case, kind, "throughput", "MB/s", rate)
                    _add(
                        result,
                        case,
                        kind,
                        "peak memory above idle",
                        "MB",
                        (peak.peak_rss - before) / _MB,
                    )
                    _add(result, case, kind, "peak memory", "MB", peak.peak_rss / _MB)
    result.ratios += [
        paired_ratio(
            f"{case}: throughput, ours / FileResponse floor",
            result.find(case, "ours", "throughput"),
            result.find(case, "floor", "throughput"),
            Target(">=", 0.9),
        ),
    ]
    result.notes.append(
        "blob download: ours is GET /blob/{id} of a blob made with Blob.from_file; the floor "
        "a bare Starlette FileResponse route; both on hypercorn, one core each"
    )


if __name__ == "__main__":
    sys.exit(run_topic("blob_download", measure))
