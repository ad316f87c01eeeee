"""Soak: 100,000 invocations with 1 MiB outputs, 100 event-stream subscribers, flat memory.

``pytest -m stress``. The server runs in a process of its own
(``soak_server.py``, ``max_retained=50``); the test keeps a fixed number of
invocations in flight, half threaded and half async, each returning 1 MiB
(100 GiB in all), while 100 clients follow the firehose of status changes
to the end. Every ``SAMPLE`` invocations it reads the server's resident
memory. Memory must stay flat: once warm, never more than the retained
outputs, the outputs in flight and a margin for the allocator above where it
started; and no higher at the end than a little after the start. The curve
is printed (``-s`` shows it).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from script_server import script_process

pytestmark = pytest.mark.stress

SERVER = Path(__file__).with_name("soak_server.py")
INVOCATIONS = 100_000
IN_FLIGHT = 32
SUBSCRIBERS = 100
SAMPLE = 5_000
MIB = 2**20
MAX_RETAINED = 50  # As soak_server.py configures it.
ALLOCATOR_MARGIN = 64 * MIB
"""What the allocator may hold on to beyond live objects (arenas of freed MiBs)."""

BOUND = (MAX_RETAINED + IN_FLIGHT) * MIB + ALLOCATOR_MARGIN
"""How far above the warm resident memory the server may ever go."""

TERMINAL = (b'"status":"completed"', b'"status":"error"', b'"status":"cancelled"')


def resident_memory(pid: int) -> int:
    """The server's resident memory now, in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Follower:
    """One firehose subscriber, raw HTTP: counts terminal statuses and lost notices."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.terminal = 0
        self.lost = 0
        self.waiting: dict[str, asyncio.Event] | None = None
        self.finished_unasked: set[str] = set()
        self.last = b""
        """The ID of the last invocation, once known: its end is the end of the stream's story."""
        self.done = asyncio.Event()
        self.recent: deque[bytes] = deque(maxlen=64)
        self._tail = b""

    async def follow(self, connected: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**24)
        writer.write(
            b"GET /action_invocations/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % self.port
        )
        await reader.readuntil(b": connected\n")
        connected.set()
        try:
            while data := await reader.read(2**20):
                self._count(data)
        finally:
            writer.close()

    def _count(self, data: bytes) -> None:
        frames = (self._tail + data).split(b"\n\n")
        self._tail = frames.pop()
        for frame in frames:
            if b"\nevent: lost\n" in frame or frame.startswith(b"event: lost"):
                self.lost += 1
            elif any(status in frame for status in TERMINAL):
                self.terminal += 1
                self.recent.append(frame)
                if self.last and self.last in frame:
                    self.done.set()
                if self.waiting is not None:
                    self._finished(json.loads(frame[frame.index(b"data: ") + 6 :])["id"])

    def ends_with(self, identity: str) -> None:
        """Say which invocation ends the story (it may have come by already)."""
        self.last = identity.encode()
        if any(self.last in frame for frame in self.recent):
            self.done.set()

    def _finished(self, identity: str) -> None:
        assert self.waiting is not None
        done = self.waiting.pop(identity, None)
        if done is None:
            self.finished_unasked.add(identity)  # Before its POST's reply was read.
        else:
            done.set()

    async def until_finished(self, identity: str) -> None:
        """Return once the invocation's terminal status has come by."""
        assert self.waiting is not None
        if identity in self.finished_unasked:
            self.finished_unasked.discard(identity)
            return
        done = self.waiting[identity] = asyncio.Event()
        await asyncio.wait_for(done.wait(), 120)


@pytest.mark.timeout(3600)
async def test_soak_100_000_invocations_of_1_mib_with_100_subscribers_keeps_memory_flat() -> None:
    with script_process(SERVER, "") as (root, process):
        port = urlsplit(root).port
        assert port is not None
        followers = [Follower(port) for _ in range(SUBSCRIBERS)]
        pacer = followers[0]
        pacer.waiting = {}
        connected = [asyncio.Event() for _ in followers]
        async with httpx2.AsyncClient(base_url=root, timeout=60) as http:
            assert (await http.get("/things/")).status_code == 200
            idle = resident_memory(process.pid)
            following = [
                asyncio.create_task(follower.follow(event))
                for follower, event in zip(followers, connected, strict=True)
            ]
            async with asyncio.timeout(60):
                for event in connected:
                    await event.wait()
            slots = asyncio.Semaphore(IN_FLIGHT)
            curve: list[tuple[int, int]] = [(0, idle)]

            async def invoke(index: int) -> None:
                action = "snap" if index % 2 else "snap_async"
                async with slots:
                    reply = await http.post(f"/camera/{action}", json={})
                    assert reply.status_code == 201, reply.text
                    await pacer.until_finished(reply.json()["id"])

            for start in range(0, INVOCATIONS, SAMPLE):
                await asyncio.gather(*(invoke(index) for index in range(start, start + SAMPLE)))
                curve.append((start + SAMPLE, resident_memory(process.pid)))
                print(
                    f"{start + SAMPLE:>7,} invocations: {curve[-1][1] / MIB:7.1f} MiB", flush=True
                )

            # One more, alone: its end comes after every other on every stream.
            final = (await http.post("/camera/snap_async", json={})).json()["id"]
            for follower in followers:
                follower.ends_with(final)
            await pacer.until_finished(final)
            async with asyncio.timeout(120):
                for follower in followers:
                    await follower.done.wait()
            # The server still answers, and holds what it was told to hold.
            listed = (await http.get("/action_invocations/")).json()
            assert len(listed) == MAX_RETAINED
            assert {item["status"] for item in listed} == {"completed"}
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)

    warm = curve[2][1]  # After 10,000: buffers full, arenas grown, the table at its bound.
    peak = max(rss for _, rss in curve[2:])
    last = curve[-1][1]
    print(
        f"idle {idle / MIB:.0f} MiB, warm {warm / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB, "
        f"last {last / MIB:.0f} MiB; bound warm + {BOUND / MIB:.0f} MiB"
    )
    assert peak <= warm + BOUND, [(count, rss // MIB) for count, rss in curve]
    assert last <= warm + ALLOCATOR_MARGIN, [(count, rss // MIB) for count, rss in curve]
    # Every subscriber followed every invocation to its end, or was told what it missed.
    for follower in followers:
        assert follower.terminal + follower.lost > 0
        assert follower.terminal == INVOCATIONS + 1 or follower.lost > 0
