"""Serve a config on labthings_async, as ``labthings-async serve CONFIG`` would.

Run as ``python serve_ours.py CONFIG FD`` in the folder holding the config's
modules: our ThingServer, from the config file, on hypercorn, on the
listening socket FD, inherited from the test (see ``script_server``).
SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from labthings_async.config import load_config, make_things
from labthings_async.server import ThingServer


def main() -> None:
    """Serve the config given first on the socket whose descriptor is given second."""
    logging.basicConfig(level=logging.WARNING)
    config = load_config(sys.argv[1])
    server = ThingServer(make_things(config), prefix=config.prefix, **config.options)
    asyncio.run(server.serve(f"fd://{sys.argv[2]}"))


if __name__ == "__main__":
    main()
