"""A ThingServer for the stress tests, run in a process of its own.

Run as ``python stress_server.py FD``: it serves the Thing ``stage`` on the
listening socket FD, inherited from the test. A process of its own, so the
server's descriptors and the test's each fit under the open-file limit.
"""

from __future__ import annotations

import asyncio
import sys

import labthings_async as lt


class Stage(lt.Thing):
    """An observable property to publish to every open stream."""

    position: int = lt.property(default=0)


async def main(fd: int) -> None:
    """Serve until SIGTERM."""
    # 10,000 streams, on as many connections: above the defaults (1,000 and
    # 4,096), which exist to protect a lab server from exactly this.
    server = lt.ThingServer({"stage": Stage()}, max_streams=12_000, max_connections=12_000)
    await server.serve(f"fd://{fd}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
