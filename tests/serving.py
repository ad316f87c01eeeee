"""Serving helpers shared by every end-to-end test, the browser tests' threads included.

Kept out of ``conftest.py`` so a folder with a conftest of its own can import them.
"""

from __future__ import annotations

import socket

from hypercorn.config import Config

__all__ = ("bound_socket", "free_port", "quiet_config")


def bound_socket() -> tuple[str, int]:
    """A listening loopback socket handed over as ``fd://N``, and its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port: int = sock.getsockname()[1]
    # hypercorn wraps the descriptor in a socket of its own and closes it at
    # shutdown, so ownership is handed over rather than shared.
    return f"fd://{sock.detach()}", port


def free_port() -> int:
    """A loopback port free a moment ago, for a server run as a command (which binds itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def quiet_config() -> Config:
    """A hypercorn config that keeps its start-up chatter out of test output."""
    config = Config()
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 2
    return config
