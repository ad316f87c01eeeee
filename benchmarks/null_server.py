"""A do-nothing HTTP/1.1 server: the load generator's ceiling is measured against it.

Run: ``python null_server.py --port N``. It answers every request with the
same canned 2-byte JSON body and parses nothing but the end of each request's
head, so it is about as cheap a server as Python can make; whatever rate a load
generator reaches against it is a rate the load generator itself can drive.
Requests must not have bodies.
"""

from __future__ import annotations

import argparse
import asyncio

REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class NullProtocol(asyncio.Protocol):
    """Answers each request head it sees with ``REPLY``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write replies to."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Reply once per complete request head."""
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count and self.transport is not None:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(REPLY * count)


async def serve(port: int) -> None:
    """Serve on loopback forever."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NullProtocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the port and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
