"""Reading a ``multipart/x-mixed-replace`` stream as a browser's ``<img>`` does: part by part."""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ("read_parts",)


async def read_parts(
    chunks: AsyncIterator[bytes], boundary: bytes = b"frame"
) -> AsyncIterator[bytes]:
    """Each part's body, in order, from the raw bytes of a multipart stream.

    Each part is ``--BOUNDARY``, headers with a ``Content-Length``, a blank
    line, that many bytes, then CRLF; the reader checks every one of them.
    """
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end].decode("latin-1").split("\r\n")
            assert head[0] == f"--{boundary.decode()}", f"expected a boundary, got {head[0]!r}"
            headers = dict(line.split(": ", 1) for line in head[1:])
            assert headers["Content-Type"] == "image/jpeg"
            length = int(headers["Content-Length"])
            end = head_end + 4 + length
            if len(buffer) < end + 2:
                break
            assert buffer[end : end + 2] == b"\r\n"
            yield buffer[head_end + 4 : end]
            buffer = buffer[end + 2 :]
