"""Serve a LabThings-FastAPI 0.3.0 config, as ``labthings-server -c CONFIG`` would.

Run as ``python serve_labthings.py CONFIG FD``: LabThings' own server, from
the config file, with uvicorn on the listening socket FD, inherited from the
test (see ``script_server``). The config names Things in modules of this
folder (``lt_rig``), which is on the path as the script's own.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import labthings_fastapi as lt
import uvicorn


def main() -> None:
    """Serve the config given first on the socket whose descriptor is given second."""
    config = json.loads(Path(sys.argv[1]).read_text())
    sock = socket.socket(fileno=int(sys.argv[2]))
    server = lt.ThingServer(lt.ThingServerConfig.model_validate(config))
    settings = uvicorn.Config(server.app, ws="websockets-sansio", log_level="warning")
    uvicorn.Server(settings).run(sockets=[sock])


if __name__ == "__main__":
    main()
