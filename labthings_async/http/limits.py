"""Limits on what clients may hold: connections, and the refusal of those over the limit.

Layer: HTTP (stdlib sockets, starlette's types, problem details, the
throughput estimate). A server has a fixed number of file descriptors; each
connection takes one. Without a limit, enough clients that connect and then
send nothing (or a body a byte at a time) take them all: every other client
is locked out, and the event loop logs a traceback for each ``accept()``
that fails. So the server counts its connections as it accepts them:

- over ``max_connections``, a connection is still accepted and served just
  far enough to answer its request with 503 and a ``Retry-After``, then
  closed (``ConnectionLimitGuard``);
- a few descriptors short of the process's limit (``hard_limit``), one is
  closed at once, unanswered, so that ``accept()`` itself never fails.

How long a body may take is bounded where bodies are read (``http/wire.py``);
a connection that has not finished sending its request headers within
hypercorn's ``keep_alive_timeout`` is closed by hypercorn.
"""

from __future__ import annotations

import socket
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..models import ProblemDetails
from ..throughput import Throughput
from .problem import problem_response

__all__ = ("ConnectionLimit", "ConnectionLimitGuard", "open_file_limit")

_HEADROOM = 64
"""Descriptors kept free for everything else: files, threads' pipes, the settings file."""


def open_file_limit(raise_to_hard: bool = False) -> int | None:
    """The process's limit on open files (None where there is none to read).

    Args:
        raise_to_hard: First raise the soft limit to the hard one, as a server
            that may hold many connections should (the usual soft limit,
            1,024, is a default for programs that open few files).
    """
    try:
        import resource
    except ImportError:  # Not on this platform (Windows).
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if raise_to_hard and hard != soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


class ConnectionLimit:
    """Counts the server's open connections; knows which are over the limit.

    Args:
        limit: Most connections served; those beyond get a 503 (None: ``DEFAULT``,
            or fewer if the open-file limit allows fewer: ``fit_to_process``).
        hard_limit: Most connections held at all; beyond it a new one is
            closed at once (keep it below the open-file limit).

    Attributes:
        open: Connections open now.
        throughput: How fast connections have been closing, for ``Retry-After``.
    """

    DEFAULT = 4096
    """Most connections served when nothing else is said (and the open-file limit allows)."""

    def __init__(self, limit: int | None = None, hard_limit: int | None = None) -> None:
        self.limit = limit if limit is not None else self.DEFAULT
        self.hard_limit = max(self.limit, hard_limit if hard_limit is not None else self.limit)
        self.open = 0
        self.throughput = Throughput()
        self._configured = limit
        self._over: set[tuple[str, int]] = set()

    def fit_to_process(self) -> None:
        """Fit the limits to the process's open-file limit, raised to its hard limit first.

        The hard limit stays a few descriptors short of the open-file limit;
        unless given, the limit is as many as that allows, at most ``DEFAULT``.
        """
        files = open_file_limit(raise_to_hard=True)
        if files is None:
            return
        self.hard_limit = max(files - _HEADROOM, 16)
        if self._configured is None:
            self.limit = min(self.DEFAULT, max(self.hard_limit - _HEADROOM, 8))
        self.hard_limit = max(self.hard_limit, self.limit)

    def listening(self, sock: socket.socket) -> socket.socket:
        """A listening socket, taken over, whose ``accept()`` counts what it accepts."""
        listener = _CountingListener(sock.family, sock.type, sock.proto, fileno=sock.detach())
        listener.connections = self
        return listener

    def is_over(self, client: Any) -> bool:
        """True if the connection from ``client`` (an ASGI scope's) was accepted over the limit."""
        return client is not None and (str(client[0]), int(client[1])) in self._over

    def retry_after(self) -> int:
        """Seconds until enough connections have closed to take one more."""
        return self.throughput.retry_after(max(self.open - self.limit + 1, 1))

    def _accepted(self, key: tuple[str, int]) -> bool:
        """Count a new connection; False if it must be closed unanswered."""
        if self.open >= self.hard_limit:
            return False
        self.open += 1
        if self.open > self.limit:
            self._over.add(key)
        return True

    def _closed(self, key: tuple[str, int]) -> None:
        self.open -= 1
        self._over.discard(key)
        self.throughput.record()


class _CountingListener(socket.socket):
    """A listening socket whose ``accept()`` counts each connection until it closes.

    asyncio's event loop calls ``accept()`` and, when the connection is done,
    ``close()`` on what it returned, both on the loop's thread.
    """

    connections: ConnectionLimit

    def accept(self) -> tuple[socket.socket, Any]:
        """Accept a connection, or close it at once when the hard limit is reached."""
        descriptor, address = self._accept()  # type: ignore[attr-defined]
        key = (str(address[0]), int(address[1])) if isinstance(address, tuple) else ("", 0)
        connection = _CountedConnection(self.family, self.type, self.proto, fileno=descriptor)
        if not self.connections._accepted(key):
            connection.close()
            # What the loop takes for "nothing more to accept": no log, no traceback.
            raise BlockingIOError("the server holds as many connections as it can")
        connection.counted = (self.connections, key)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            connection.setblocking(True)  # As socket.accept does.
        return connection, address


class _CountedConnection(socket.socket):
    """An accepted connection that tells its ``ConnectionLimit`` when it closes."""

    counted: tuple[ConnectionLimit, tuple[str, int]] | None = None

    def close(self) -> None:
        """Close, counting the connection closed (once)."""
        counted, self.counted = self.counted, None
        if counted is not None:
            connections, key = counted
            connections._closed(key)
        super().close()


class ConnectionLimitGuard:
    """ASGI middleware: a request on a connection over the limit gets 503; then it closes.

    Args:
        app: The app it guards.
        connections: The server's connection count (it counts nothing when the
            app is served by a host app's server rather than ``ThingServer.serve``).
    """

    def __init__(self, app: ASGIApp, connections: ConnectionLimit) -> None:
        self.app = app
        self.connections = connections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it."""
        connections = self.connections
        if scope["type"] != "http" or not connections.is_over(scope.get("client")):
            await self.app(scope, receive, send)
            return
        retry_after = connections.retry_after()
        problem = ProblemDetails(
            title="Too many connections",
            status=503,
            detail=(
                f"the server has {connections.open} connections open, more than the "
                f"{connections.limit} it serves at once (max_connections); at the rate "
                f"connections have been closing, retry in about {retry_after} s"
            ),
            instance=scope["path"],
        )
        headers = {"Retry-After": str(retry_after), "Connection": "close"}
        await problem_response(problem, headers)(scope, receive, send)
