"""Authentication: who sent a request (a bearer token's role), and whether that role may do it.

Layer: HTTP (starlette, the token store, problem details). Off unless the
server has tokens. Then every request but those for the documents a client
needs before it has a token (the Thing Descriptions, which declare the
bearer scheme, the index of Things, the OpenAPI document, the page and its
files) must carry a token:

- ``Authorization: Bearer TOKEN``, for anything its role allows: ``observe``
  reads and watches, ``operate`` also invokes, writes and cancels;
- or, for reading only (``GET``, ``HEAD``), a stream token in the query,
  ``?access_token=...``: what a browser's ``EventSource`` or ``<img>``, which
  cannot send a header, uses. ``POST /auth/stream-token`` (with a bearer
  token) gives one. It is taken out of the request's query string as soon as
  it is checked, so it reaches no log line, no link the server sends back and
  no endpoint.

No token: 401 with ``WWW-Authenticate: Bearer``; a token whose role does not
allow the request: 403. The role is left in the request's scope
(``request_role``), where the Thing Description endpoint finds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..models import ProblemDetails
from ..tokens import Role, TokenStore
from .problem import problem_response
from .state import ServerState, server_state
from .wire import API_ROOT, json_response

__all__ = (
    "ACCESS_TOKEN",
    "AuthGuard",
    "READ_METHODS",
    "request_role",
    "stream_token_endpoint",
)

ACCESS_TOKEN = "access_token"
"""The query parameter of a stream token (RFC 6750's name for a token in a URL)."""

READ_METHODS = frozenset({"GET", "HEAD"})

_ROLE = "labthings_async.role"
"""Scope key: the ``Role`` of the request's token, or None."""

_PUBLIC_ROOTS = frozenset({"", "docs", "static", "things", "thing_descriptions", "openapi.json"})
"""First path segments served to anyone: the page, its files, and the documents."""

_CHALLENGE = 'Bearer realm="labthings_async"'

_ROLE_REFUSED_TOKEN = "labthings_async.refused_token"
"""Scope key: True if the request carried a token the server refused (``invalid_token``)."""


def request_role(scope: Mapping[str, Any]) -> Role | None:
    """The role of the token the request carried (None: no valid token, or none needed)."""
    role: Role | None = scope.get(_ROLE)
    return role


class AuthGuard:
    """ASGI middleware: a request needs a token whose role allows it.

    Args:
        app: The app it guards.
        state: The server's state: its tokens, its stream tokens, and its
            Things (whose descriptions anyone may read).
    """

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it."""
        tokens = self.state.tokens
        if tokens is None or scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)  # A CORS preflight carries no credentials.
            return
        method = scope["method"]
        role, refusal = self._role(scope, tokens)
        scope[_ROLE] = role
        if self._public(scope) and method in READ_METHODS:
            await self.app(scope, receive, send)
            return
        if role is None:
            await self._refuse(scope, receive, send, 401, refusal)
            return
        if role < Role.OPERATE and method not in READ_METHODS and not _is_stream_token_path(scope):
            detail = (
                f"{method} {scope['path']} changes state, which needs an operate token; "
                "this token may only observe (read and watch)"
            )
            await self._refuse(scope, receive, send, 403, detail)
            return
        await self.app(scope, receive, send)

    def _role(self, scope: Scope, tokens: TokenStore) -> tuple[Role | None, str]:
        """The role the request's credentials grant, or None and why not."""
        stream_token = _take_access_token(scope)  # Out of the query whatever else is sent.
        authorization = Headers(scope=scope).get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, "the Authorization header must be `Bearer TOKEN`"
            role = tokens.role_of(token.strip())
            if role is None:
                scope[_ROLE_REFUSED_TOKEN] = True
                return None, "the bearer token is not one this server accepts"
            return role, ""
        if stream_token is not None:
            if scope["method"] not in READ_METHODS:
                return None, f"a token in the URL ({ACCESS_TOKEN}) is for reading only"
            if not self.state.stream_tokens.valid(stream_token):
                scope[_ROLE_REFUSED_TOKEN] = True
                return None, (
                    f"the {ACCESS_TOKEN} in the URL has expired or is not this server's; "
                    "get a new one from POST auth/stream-token"
                )
            return Role.OBSERVE, ""
        return None, "this server needs a token: send `Authorization: Bearer TOKEN`"

    def _public(self, scope: Scope) -> bool:
        """True for the page, its files and the documents, which anyone may read."""
        path: str = scope["path"]
        relative = path.removeprefix(scope.get(API_ROOT, "")).strip("/")
        first, _, rest = relative.partition("/")
        return first in _PUBLIC_ROOTS or (first in self.state.manager.things and rest == "")

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        """Answer 401 (no token the server accepts) or 403 (a token whose role falls short)."""
        if status == 403:
            challenge = f'{_CHALLENGE}, error="insufficient_scope"'
        elif scope.get(_ROLE_REFUSED_TOKEN):
            challenge = f'{_CHALLENGE}, error="invalid_token"'
        else:
            challenge = _CHALLENGE
        problem = ProblemDetails(
            title="Not authenticated" if status == 401 else "Not allowed",
            status=status,
            detail=detail,
            instance=scope["path"],
        )
        await problem_response(problem, {"WWW-Authenticate": challenge})(scope, receive, send)


def _is_stream_token_path(scope: Scope) -> bool:
    path: str = scope["path"]
    return path.removeprefix(scope.get(API_ROOT, "")).strip("/") == "auth/stream-token"


def _take_access_token(scope: Scope) -> str | None:
    """The stream token in the query string, removed from it (so it is logged nowhere)."""
    query: bytes = scope.get("query_string", b"")
    if ACCESS_TOKEN.encode() not in query:
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    token = next((value for name, value in pairs if name == ACCESS_TOKEN), None)
    kept = [(name, value) for name, value in pairs if name != ACCESS_TOKEN]
    # In place: hypercorn (and uvicorn) log the request from this same scope.
    scope["query_string"] = urlencode(kept).encode("latin-1")
    return token


async def stream_token_endpoint(request: Request) -> Response:
    """``POST /auth/stream-token``: a read-only token for URLs, such as an ``EventSource``'s."""
    state = server_state(request)
    if state.tokens is None:
        return json_response({"token": None, "expires": None, "parameter": ACCESS_TOKEN})
    token, expires = state.stream_tokens.issue()
    return json_response(
        {"token": token, "expires": expires, "parameter": ACCESS_TOKEN},
        headers={"Cache-Control": "no-store"},
    )
