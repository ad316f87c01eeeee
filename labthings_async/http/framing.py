"""Requests whose framing is ambiguous: refused, and their connection closed.

Layer: HTTP (starlette's types, problem details). A request with both
``Content-Length`` and ``Transfer-Encoding`` may be read one way by a proxy
in front of the server and the other way by the server, which is how
requests are smuggled past the proxy. RFC 9112 §6.1 lets the server answer
it, but it must then close the connection; h11 reads such a body by its
``Transfer-Encoding`` and keeps the connection open, so it is refused here,
with ``Connection: close``, which makes hypercorn close it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..models import ProblemDetails
from .problem import problem_response

__all__ = ("FramingGuard",)


class FramingGuard:
    """ASGI middleware: both ``Content-Length`` and ``Transfer-Encoding``: 400, and close."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it and close the connection."""
        if scope["type"] == "http":
            names = {name for name, _ in scope["headers"]}
            if b"content-length" in names and b"transfer-encoding" in names:
                problem = ProblemDetails(
                    title="Ambiguous request framing",
                    status=400,
                    detail=(
                        "the request has both Content-Length and Transfer-Encoding, so where "
                        "its body ends is ambiguous (RFC 9112 §6.1); send one of them"
                    ),
                    instance=scope["path"],
                )
                response = problem_response(problem, {"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
