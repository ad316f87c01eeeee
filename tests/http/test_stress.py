"""Stress: 10,000 event streams open at once on one real hypercorn (``pytest -m stress``).

The server runs in a process of its own (``stress_server.py``): 10,000
connections cost 10,000 descriptors on each side, more than one process may
usually hold. The test raises its open-file limit to the hard limit, which
the server's process inherits, and skips, saying so, only where the hard
limit is too low.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from script_server import script_process

pytestmark = pytest.mark.stress

CONNECTIONS = 10_000
BATCH = 100
"""Connections opened at once: no more than the listening socket's backlog holds."""

SPARE_DESCRIPTORS = 500
"""For the interpreter, the test's own HTTP client, and the server's listening socket."""

TIMEOUT = 300.0
"""Seconds each step may take, on a machine shared with other work."""

SERVER = Path(__file__).with_name("stress_server.py")
STREAM = b"GET /stage/position/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def descriptors() -> Iterator[None]:
    """Room for the connections and then some: the soft limit raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = CONNECTIONS + SPARE_DESCRIPTORS
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(
            f"the open-file hard limit is {hard}; {CONNECTIONS:,} connections need {needed:,} "
            "(raise it with `ulimit -Hn` as root, or in /etc/security/limits.conf)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Stream:
    """One raw event-stream connection, read as bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = b""

    @classmethod
    async def open(cls, port: int) -> Stream:
        """Connect, ask for the property's stream, and wait for its greeting."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stream = cls(reader, writer)
        writer.write(STREAM)
        await writer.drain()
        await stream.read_until(b": connected\n\n")
        return stream

    async def read_until(self, marker: bytes) -> None:
        """Read until ``marker`` has arrived (each event is one chunk, so it is never split)."""
        while marker not in self.received:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError(f"the server closed the stream before {marker!r}")
            self.received += data

    def close(self) -> None:
        """Hang up."""
        self.writer.close()


def open_descriptors(pid: int) -> int:
    """How many files process ``pid`` has open (Linux)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.timeout(4 * TIMEOUT)
async def test_ten_thousand_open_streams_all_get_each_change(descriptors: None) -> None:
    with script_process(SERVER, "") as (root, process):
        port = urlsplit(root).port
        assert port is not None
        async with httpx2.AsyncClient(timeout=TIMEOUT) as http:
            # The server answers at all before the connections pile up.
            assert (await http.get(f"{root}/stage/position")).json() == 0
            baseline = open_descriptors(process.pid)
            streams: list[Stream] = []
            try:
                async with asyncio.timeout(TIMEOUT):
                    for _ in range(0, CONNECTIONS, BATCH):
                        streams += await asyncio.gather(*(Stream.open(port) for _ in range(BATCH)))
                assert open_descriptors(process.pid) >= CONNECTIONS

                # With every stream open, the server still answers, and every
                # stream gets every change.
                for value in (1, 2):
                    written = await http.put(f"{root}/stage/position", json=value)
                    assert written.status_code == 204
                    async with asyncio.timeout(TIMEOUT):
                        marker = b"event: position\ndata: %d\n" % value
                        await asyncio.gather(*(stream.read_until(marker) for stream in streams))
                assert (await http.get(f"{root}/stage/position")).json() == 2
            finally:
                for stream in streams:
                    stream.close()

            # Every connection the clients dropped is freed by the server: a
            # count in another process, with nothing to wait on but the count.
            async with asyncio.timeout(TIMEOUT):
                while open_descriptors(process.pid) > baseline:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            assert (await http.get(f"{root}/stage/position")).json() == 2
