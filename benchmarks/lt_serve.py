"""Serve LabThings-FastAPI Things the way its ``labthings-server`` command does.

Run: ``python lt_serve.py CONFIG_JSON --port N`` (from this directory).

``labthings-server -j CONFIG --port N`` builds ``ThingServer(config)`` and
calls ``uvicorn.run(app, host, port, ws="websockets-sansio")``; this does the
same with one difference: uvicorn's per-request access log is off, because our
server (hypercorn) writes none by default either, and a log line per request
would charge LabThings for something that is not LabThings.
"""

from __future__ import annotations

import argparse

import labthings_fastapi as lt
import uvicorn


def main() -> None:
    """Parse the arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a LabThings-FastAPI server config, as JSON text")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    config = lt.ThingServerConfig.model_validate_json(args.config)
    server = lt.ThingServer(config)
    uvicorn.run(
        server.app, host=args.host, port=args.port, ws="websockets-sansio", access_log=False
    )


if __name__ == "__main__":
    main()
