"""Refusing requests that change state when another site's web page sent them (CSRF).

Layer: HTTP (starlette's types, problem details). Any page a user visits can
make the browser send a ``POST`` to a server on the user's network, such as
this one on ``localhost``, with no body or with a form or ``text/plain`` body,
without asking the server first. Two rules close that:

- a body must be declared JSON (``http/wire.py`` answers anything else with
  415), and a browser cannot send a JSON body to another origin without a
  CORS preflight, which this server answers only for ``--cors`` origins;
- a request that changes state (anything but ``GET``, ``HEAD`` and
  ``OPTIONS``) and that a browser marks as coming from another origin (its
  ``Origin`` header, or ``Sec-Fetch-Site: cross-site`` or ``same-site``) is
  refused with 403, unless that origin was allowed with ``--cors``. This
  covers the one request the first rule lets through: a ``POST`` with no body.

Programs (our client, LabThings' ThingClient, node-wot, curl) send no
``Origin``, so they are unaffected, as is the server's own page, whose
requests come from its own origin.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..models import ProblemDetails
from .problem import problem_response

__all__ = ("CrossSiteGuard", "same_origin")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def same_origin(origin: str, host: str | None) -> bool:
    """True if a browser's ``Origin`` names the host (and port) the request was sent to.

    The scheme is not compared: behind a proxy that ends TLS the server sees
    plain HTTP for a page that is ``https``. A default port may be written or
    left out on either side.
    """
    if host is None:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return False
    default = f":{_DEFAULT_PORTS[parts.scheme]}"
    return parts.netloc.lower().removesuffix(default) == host.lower().removesuffix(default)


class CrossSiteGuard:
    """ASGI middleware: a state-changing request from another site's page is a 403 problem.

    Args:
        app: The app it guards.
        allowed_origins: Origins whose pages may change state (the CORS
            origins); ``*`` allows any.
    """

    def __init__(self, app: ASGIApp, allowed_origins: Collection[str] = ()) -> None:
        self.app = app
        self.any_origin = "*" in allowed_origins
        self.allowed_origins = frozenset(origin.rstrip("/") for origin in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it."""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or self.any_origin:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site", "").lower()
        if origin is not None:
            allowed = origin in self.allowed_origins or same_origin(origin, headers.get("host"))
            sender = f"a page at {origin}"
        else:
            allowed = fetch_site not in ("cross-site", "same-site")
            sender = f"a page of another site (Sec-Fetch-Site: {fetch_site})"
        if allowed:
            await self.app(scope, receive, send)
            return
        problem = ProblemDetails(
            title="Cross-site request refused",
            status=403,
            detail=(
                f"{scope['method']} {scope['path']} was sent by {sender}; only this server's "
                "own pages may change anything here, unless the server allows that origin "
                "(--cors ORIGIN)"
            ),
            instance=scope["path"],
        )
        await problem_response(problem)(scope, receive, send)
