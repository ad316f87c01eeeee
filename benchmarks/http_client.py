"""A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator.

Why not httpx2: its per-request cost in the client is a large fraction of what
a fast server spends, and on these 2-core machines the load generator must stay
well below the server's cost or it measures itself (``ceiling.py`` measures
both against a do-nothing server). Plain ``httpx`` 0.28 is worse still: with
many concurrent requests on one client its pool collapses. This client does
one request at a time per connection, reads ``Content-Length`` and chunked
bodies, and can stream a chunked body (for Server-Sent Events).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import msgspec

__all__ = ("Connection", "Reply", "path_of")

_JSON = b"application/json"


@dataclass(slots=True)
class Reply:
    """A response: status, lower-cased headers and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return msgspec.json.decode(self.body)


def path_of(url: str) -> str:
    """The path and query of an absolute URL (servers send absolute links)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Connection:
    """One keep-alive HTTP/1.1 connection to ``127.0.0.1:port``; reconnects if closed."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect (if not connected)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=2**24
            )

    async def close(self) -> None:
        """Close the connection."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _head(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if headers:
            lines.extend(f"{name}: {value}" for name, value in headers.items())
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def _send(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> tuple[asyncio.StreamReader, int, dict[str, str]]:
        await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(self._head(method, target, body, headers) + (body or b""))
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        parsed: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                parsed[name.strip().lower()] = value.strip()
        return self._reader, status, parsed

    async def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request and read the whole response."""
        reader, status, parsed = await self._send(method, target, body, headers)
        if "content-length" in parsed:
            data = await reader.readexactly(int(parsed["content-length"]))
        elif parsed.get("transfer-encoding", "").lower() == "chunked":
            data = b"".join([chunk async for chunk in _chunks(reader)])
        elif method == "HEAD" or status in (204, 304):
            data = b""
        else:
            data = await reader.read()
            parsed["connection"] = "close"
        if parsed.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, parsed, data)

    async def stream(
        self, target: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """GET ``target`` and yield its (chunked) body as it arrives."""
        reader, status, parsed = await self._send("GET", target, None, headers)
        if status != 200:
            raise RuntimeError(f"GET {target} answered {status}")
        if parsed.get("transfer-encoding", "").lower() != "chunked":
            raise RuntimeError(f"GET {target} is not a chunked stream")
        async for chunk in _chunks(reader):
            yield chunk


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Decode a chunked body, chunk by chunk, until its last (empty) chunk."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # No trailers are expected.
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]
