"""A ThingServer for the soak test, run in a process of its own.

Run as ``python soak_server.py FD``: it serves the Thing ``camera``, whose
actions each return 1 MiB, on the listening socket FD, inherited from the
test, with ``max_retained=MAX_RETAINED``. A process of its own, so the test
reads its resident memory, and nothing of the test's own.
"""

from __future__ import annotations

import asyncio
import sys

import labthings_async as lt

MAX_RETAINED = 50
"""The configured bound: the most finished invocations (and so outputs) kept."""

OUTPUT = "x" * 2**20
"""1 MiB of output, encoded afresh (another MiB) by every invocation."""


class Camera(lt.Thing):
    """Snaps 1 MiB images, in a worker thread or on the event loop."""

    @lt.action
    def snap(self) -> str:
        """Return 1 MiB, from a worker thread."""
        return OUTPUT

    @lt.action
    async def snap_async(self) -> str:
        """Return 1 MiB, from the event loop."""
        return OUTPUT


async def main(fd: int) -> None:
    """Serve until SIGTERM."""
    server = lt.ThingServer({"camera": Camera()}, max_retained=MAX_RETAINED)
    await server.serve(f"fd://{fd}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
