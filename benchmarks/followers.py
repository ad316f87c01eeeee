"""Lean readers of event streams, so that reading thousands of them costs this process little.

The load generator is one Python process on one core. A stream reader built
on asyncio's streams (or the ``websockets`` client) spends some 15-30 µs of
this process's time per notification; at 1,000 subscribers that saturates
the core and the latency measured is partly the reader's own. These are
``asyncio.Protocol`` subclasses: each notification costs one
``data_received`` that stamps the time and keeps the bytes. Frames are
parsed afterwards; a notification counts as arrived with the chunk that
completes it.

- ``SSEFollower``: ``GET path`` over HTTP/1.1 (a chunked ``text/event-stream``).
- ``WebsocketFollower``: LabThings-FastAPI's websocket (RFC 6455 by hand:
  the upgrade, one masked text frame to subscribe, server frames unmasked).
  It parses frames as they come, as far as needed to answer pings.

Both treat the two servers alike: the same connection handling, the same
work per notification.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import os
import struct
import time
from typing import Any

import msgspec

__all__ = ("Follower", "SSEFollower", "WebsocketFollower", "open_followers")

_HEAD_END = b"\r\n\r\n"


class Follower(asyncio.Protocol):
    """A connection that stamps and keeps what arrives.

    Attributes:
        chunks: ``(arrival time, bytes)`` of everything received since the
            greeting (``time.perf_counter()``).
        seen: Set when anything arrives after the greeting.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[tuple[float, bytes]] = []
        self.seen = asyncio.Event()
        self.closed = asyncio.get_running_loop().create_future()
        self._head = b""
        self._greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._greeted.done():
            self._greeted.set_exception(ConnectionError("the server closed the connection"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._greeted.done():
            self.chunks.append((time.perf_counter(), data))
            if not self.seen.is_set():
                self.seen.set()
            return
        self._head += data
        self._greet()

    def _greet(self) -> None:
        """Look for the end of the greeting in what has arrived so far."""
        raise NotImplementedError

    def forget(self) -> None:
        """Start counting afresh: clear what arrived and ``seen``."""
        self.chunks.clear()
        self.seen.clear()

    def close(self) -> None:
        """Hang up."""
        if self.transport is not None:
            self.transport.close()

    def notifications(self) -> list[tuple[float, Any]]:
        """``(arrival time, decoded payload)`` of every notification received."""
        raise NotImplementedError


def _arrivals(chunks: list[tuple[float, bytes]]) -> tuple[bytes, list[int], list[float]]:
    """All bytes joined, the end offset of each chunk, and its arrival time."""
    ends = []
    total = 0
    for _, data in chunks:
        total += len(data)
        ends.append(total)
    return b"".join(data for _, data in chunks), ends, [stamp for stamp, _ in chunks]


def _arrival(ends: list[int], stamps: list[float], offset: int) -> float:
    """When the byte just before ``offset`` arrived."""
    return stamps[bisect.bisect_left(ends, offset)]


class SSEFollower(Follower):
    """``GET path`` as an event stream; the greeting is its ``: connected`` comment."""

    def __init__(self, host: str, path: str) -> None:
        super().__init__()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        self._body_start = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.write(self.request)  # type: ignore[attr-defined]

    def _greet(self) -> None:
        head = self._head
        greeting = b": connected\n\n\r\n"  # The comment, and the end of its chunk.
        if _HEAD_END in head and greeting in head:
            status = head[: head.index(b"\r\n")]
            if b" 200 " not in status:
                self._greeted.set_exception(RuntimeError(f"the stream answered {status!r}"))
                return
            self._greeted.set_result(None)
            rest = head[head.index(greeting) + len(greeting) :]
            if rest:  # The next chunk came in the same segment.
                self.chunks.append((time.perf_counter(), rest))

    def notifications(self) -> list[tuple[float, Any]]:
        """Every ``data:`` line, by the arrival of the chunk that completed its frame."""
        raw, ends, stamps = _arrivals(self.chunks)
        out: list[tuple[float, Any]] = []
        payload = bytearray()
        payload_ends: list[int] = []  # Offset in raw just after each payload byte run.
        runs: list[tuple[int, int]] = []  # (payload offset, raw offset) at each run's start.
        position = 0
        while True:  # Undo the chunked transfer coding.
            line_end = raw.find(b"\r\n", position)
            if line_end < 0:
                break
            size = int(raw[position:line_end].split(b";")[0], 16)
            start = line_end + 2
            if size == 0 or start + size > len(raw):
                break
            runs.append((len(payload), start))
            payload += raw[start : start + size]
            payload_ends.append(start + size)
            position = start + size + 2
        starts = [run[0] for run in runs]
        cursor = 0
        while (frame_end := payload.find(b"\n\n", cursor)) >= 0:
            frame = bytes(payload[cursor:frame_end])
            cursor = frame_end + 2
            last = frame_end + 1  # The frame's last byte, in the payload...
            run = bisect.bisect_right(starts, last) - 1
            raw_offset = runs[run][1] + (last - runs[run][0]) + 1  # ...and just after it in raw.
            for line in frame.split(b"\n"):
                if line.startswith(b"data:"):
                    out.append((_arrival(ends, stamps, raw_offset), msgspec.json.decode(line[5:])))
        return out


class WebsocketFollower(Follower):
    """A websocket to ``path``, sending ``subscribe`` (a JSON message) once it is open."""

    def __init__(self, host: str, path: str, subscribe: Any) -> None:
        super().__init__()
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.subscribe = msgspec.json.encode(subscribe)
        self._buffer = b""
        self.messages: list[tuple[float, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.write(self.request)  # type: ignore[attr-defined]

    def _greet(self) -> None:
        head = self._head
        if _HEAD_END not in head:
            return
        status = head[: head.index(b"\r\n")]
        if b" 101 " not in status:
            self._greeted.set_exception(RuntimeError(f"the upgrade answered {status!r}"))
            return
        self._send(0x1, self.subscribe)
        self._greeted.set_result(None)
        rest = head[head.index(_HEAD_END) + 4 :]
        if rest:
            self.data_received(rest)

    def data_received(self, data: bytes) -> None:
        if not self._greeted.done():
            super().data_received(data)
            return
        stamp = time.perf_counter()
        buffer = self._buffer + data
        while len(buffer) >= 2:
            opcode = buffer[0] & 0x0F
            length = buffer[1] & 0x7F
            header = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, 2)
                header = 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, 2)
                header = 10
            if len(buffer) < header + length:
                break
            payload = buffer[header : header + length]
            buffer = buffer[header + length :]
            if opcode == 0x9:  # A ping: answer it, or the server hangs up.
                self._send(0xA, payload)
            elif opcode in (0x1, 0x2):
                self.messages.append((stamp, payload))
        self._buffer = buffer
        if not self.seen.is_set():
            self.seen.set()

    def _send(self, opcode: int, payload: bytes) -> None:
        """One masked frame (clients must mask)."""
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        else:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        if self.transport is not None:
            self.transport.write(header + mask + masked)

    def forget(self) -> None:
        """Start counting afresh."""
        super().forget()
        self.messages.clear()

    def notifications(self) -> list[tuple[float, Any]]:
        """The values of LabThings' ``propertyStatus`` messages."""
        out = []
        for stamp, message in self.messages:
            data = msgspec.json.decode(message)
            if data.get("messageType") == "propertyStatus" and "value" in data.get("data", {}):
                out.append((stamp, data["data"]["value"]))
        return out


async def open_followers(
    port: int, count: int, make: Any, *, batch: int = 50, host: str = "127.0.0.1"
) -> list[Follower]:
    """Open ``count`` followers made by ``make()``, ``batch`` at a time, each greeted.

    Batches stay below the listening socket's backlog: beyond it the kernel
    drops connection attempts, and each costs a second's retransmit.
    """
    loop = asyncio.get_running_loop()
    followers: list[Follower] = []

    async def one() -> Follower:
        follower: Follower = make()
        await loop.create_connection(lambda: follower, host, port)
        await follower._greeted
        return follower

    try:
        for start in range(0, count, batch):
            followers += await asyncio.gather(*(one() for _ in range(min(batch, count - start))))
    except BaseException:
        for follower in followers:
            follower.close()
        raise
    return followers
