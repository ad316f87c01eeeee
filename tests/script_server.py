"""Servers run as scripts in a subprocess, on a socket the test binds first.

The test knows the port before the server starts, and a client may connect at
once: the kernel queues the connection until the server accepts it. The
script gets the listening socket's descriptor as its only argument.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ("script_process", "serve_script")

STOP_TIMEOUT = 20.0


@contextmanager
def serve_script(script: Path, path: str) -> Iterator[str]:
    """Run ``python SCRIPT FD``; yield ``http://127.0.0.1:PORT{path}``; stop it after."""
    with script_process(script, path) as (url, _):
        yield url


@contextmanager
def script_process(script: Path, path: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As ``serve_script``, yielding the server's process too."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, str(script), str(sock.fileno())],
            pass_fds=[sock.fileno()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        yield f"http://127.0.0.1:{port}{path}", process
    finally:
        process.terminate()
        process.wait(STOP_TIMEOUT)
