"""A server run as a script for the tests of hostile clients: ``limited_server.py FD OPTIONS``.

It serves one Thing on the listening socket whose descriptor it is given,
with the ThingServer options given as a JSON object (and hypercorn's
``keep_alive_timeout``), and logs as the command
line's ``serve`` does (to stderr, at info), so a test can measure what an
attack costs in log volume.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from hypercorn.config import Config

import labthings_async as lt
from labthings_async.server import ThingServer


class Pump(lt.Thing):
    rate: float = lt.property(default=1.0)

    @lt.action
    def run(self, seconds: float = 0.0) -> float:
        return seconds


def main() -> None:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    config = Config()
    config.keep_alive_timeout = options.pop("keep_alive_timeout", config.keep_alive_timeout)
    server = ThingServer({"pump": Pump()}, **options)
    asyncio.run(server.serve(f"fd://{sys.argv[1]}", config=config))


if __name__ == "__main__":
    main()
