"""A LabThings-FastAPI 0.3.0 server, for testing our client against the real thing.

Run as ``python labthings_server.py FD``: it serves the Thing ``demo`` with
uvicorn on the listening socket FD, inherited from the test, which knows the
port before the server starts (connections queue until uvicorn accepts them).
Not imported by the tests themselves, so they do not pay for FastAPI.
"""

from __future__ import annotations

import socket
import sys
import tempfile

import labthings_fastapi as lt
import uvicorn


class Demo(lt.Thing):
    """A LabThings Thing with the kinds of affordance a client meets."""

    counter: int = lt.property(default=0)
    label: str = lt.property(default="hi", readonly=True)

    @lt.action
    def add(self, a: int, b: int = 1) -> int:
        """Add two numbers."""
        self.logger.info("adding %s and %s", a, b)
        return a + b

    @lt.action
    def zero(self) -> int:
        """A falsy output, which LabThings' own /output endpoint refuses."""
        return 0

    @lt.action
    def fail(self, msg: str = "boom") -> None:
        """Always fails."""
        self.logger.info("about to fail")
        raise ValueError(msg)

    @lt.action
    def slow(self, t: float = 0.2) -> str:
        """A cancellable sleep."""
        lt.cancellable_sleep(t)
        return "done"


def main() -> None:
    """Serve ``demo`` on the socket whose descriptor is the first argument."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    server = lt.ThingServer.from_things({"demo": Demo}, settings_folder=tempfile.mkdtemp())
    config = uvicorn.Config(server.app, ws="websockets-sansio", log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
