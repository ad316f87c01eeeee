"""Allowed hosts: the names the server answers to, so a spoofed ``Host`` is refused.

Layer: HTTP (starlette's types, problem details). Every absolute URL the
server sends (a Thing Description's ``base`` and ``id``, each ``href``,
``Location``) is built from the request's ``Host`` header. A request naming
a host the server does not answer to is refused with 421 before it reaches
a route: otherwise a page on an attacker's domain that resolves to this
machine (DNS rebinding) could drive it, and a forged header would put the
attacker's address in the links the server hands out.

Unless configured, the server answers to what it is bound to: the address a
connection reached it on, the host names it was told to bind, the machine's
own names when bound to every interface, and ``localhost`` (and the loopback
addresses) when reached on loopback. ``*`` allows any host; ``.example.org``
or ``*.example.org`` allows that domain and every name under it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..models import ProblemDetails
from .problem import problem_response

__all__ = ("AllowedHosts", "HostGuard", "host_name")

_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def host_name(host: str) -> str:
    """The name or address in a ``Host`` header, without its port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name
    return host


def _is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class AllowedHosts:
    """The host names a server answers to.

    Args:
        names: The names given (``--allowed-host``), or None for the
            default: what the server is bound to.

    Attributes:
        configured: True when the names were given rather than derived.
    """

    def __init__(self, names: Iterable[str] | None = None) -> None:
        self.configured = names is not None
        self._exact: set[str] = set()
        self._domains: set[str] = set()
        self._any = False
        for name in names or ():
            self.add(name)

    def add(self, name: str) -> None:
        """Answer to ``name`` too: a name or address, ``*``, or ``.domain`` / ``*.domain``."""
        name = name.strip().lower()
        if name == "*":
            self._any = True
        elif name.startswith(("*.", ".")):
            self._domains.add(name.lstrip("*").lstrip("."))
        else:
            self._exact.add(host_name(name))

    def add_bind(self, host: str) -> None:
        """Answer to a host the server binds (unless configured); 0.0.0.0: the machine's names."""
        if self.configured:
            return
        name = host_name(host)
        if name in _WILDCARD_BINDS:
            hostname = socket.gethostname().lower()
            for machine_name in (hostname, f"{hostname}.local", socket.getfqdn().lower()):
                self._exact.add(machine_name)
        else:
            self._exact.add(name)

    def allows(self, host: str | None, scope: Scope) -> bool:
        """True if a request with this ``Host`` header, on this connection, may be served."""
        if self._any or host is None:  # HTTP/1.0 may send none: its URLs use the address.
            return True
        name = host_name(host)
        if name in self._exact or any(
            name == domain or name.endswith(f".{domain}") for domain in self._domains
        ):
            return True
        if self.configured:
            return False
        server = scope.get("server")
        local = "" if not server else str(server[0]).lower()
        return name == local or (_is_loopback(name) and (not local or _is_loopback(local)))

    def describe(self) -> str:
        """The names allowed, for a message."""
        if self._any:
            return "any host"
        names = sorted(self._exact) + sorted(f"*.{domain}" for domain in self._domains)
        if not self.configured:
            names.append("the address it was reached at (and localhost, on loopback)")
        return ", ".join(names)


class HostGuard:
    """ASGI middleware: a request naming a host the server does not answer to is a 421 problem.

    Args:
        app: The app it guards.
        allowed: The names the server answers to.
    """

    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if self.allowed.allows(host, scope):
            await self.app(scope, receive, send)
            return
        shown = (host or "")[:100]
        problem = ProblemDetails(
            title="Host not allowed",
            status=421,
            detail=(
                f"this server does not answer to the host {shown!r} (the request's Host "
                f"header); it answers to {self.allowed.describe()}. To reach it by this "
                f"name, start it with --allowed-host {host_name(shown) or 'NAME'}"
            ),
            instance=scope["path"],
        )
        await problem_response(problem)(scope, receive, send)
