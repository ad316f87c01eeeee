"""Reading request bodies and writing JSON responses, the same way on every route.

Layer: HTTP (starlette, the errors). A body's type and declared size are
checked from the headers before it is read; then it is read as a stream with
a size limit, so a chunked upload (no Content-Length, as node-wot sends) is
bounded as well as a declared one. JSON is encoded by msgspec straight to
bytes.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.datastructures import URL
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Scope

from ..errors import BodyTimeoutError, BodyTooLargeError, UnsupportedMediaTypeError
from ..extensions import encode_value

__all__ = (
    "API_ROOT",
    "accepted",
    "base_url",
    "first_segment",
    "json_response",
    "prefer_wait",
    "read_json_body",
)

_JSON_TYPES = re.compile(r"^(application/([\w.+-]+\+)?json|text/json)\s*(;.*)?$", re.IGNORECASE)
_MEDIA_RANGE = re.compile(r"^\s*([^;\s]+)\s*(?:;(.*))?$")
_QUALITY = re.compile(r"(?:^|;)\s*q\s*=\s*([0-9.]+)", re.IGNORECASE)
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d+(?:\.\d+)?)\"?", re.IGNORECASE)


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded by msgspec (a pydantic model in it by pydantic)."""
    return Response(
        # The hook is called only for what msgspec cannot encode itself: arrays,
        # blobs, pydantic models.
        msgspec.json.encode(content, enc_hook=encode_value),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


async def read_json_body(request: Request, limit: int, seconds: float = 30.0) -> bytes:
    """The request body, checked to be JSON and at most ``limit`` bytes.

    Whether the body is acceptable is decided from the headers first, before
    a byte of it is read: a request declared as something other than JSON is
    refused, even when empty (a form or ``text/plain`` is what another site's
    page can send without asking: see ``crosssite``), and so is a body with
    no declared type at all; only a request with no body may leave the type
    out. A body whose declared length is over ``limit`` is refused unread;
    one that declares no length (chunked, as node-wot sends) is counted as
    it streams. The whole body must arrive within ``seconds``: a
    client sending it a byte at a time would otherwise hold its connection
    (and a file descriptor) for as long as it liked.

    Raises:
        UnsupportedMediaTypeError: The body is not declared as JSON.
        BodyTooLargeError: The body is over ``limit`` (declared or streamed).
        BodyTimeoutError: The body took longer than ``seconds`` to arrive (408).
    """
    headers = request.headers
    content_type = headers.get("content-type")
    declared = headers.get("content-length")
    if content_type is None:
        if (declared is not None and declared != "0") or "transfer-encoding" in headers:
            raise UnsupportedMediaTypeError(
                "the request has a body but no Content-Type; this endpoint reads JSON: "
                "send it with `Content-Type: application/json`"
            )
    elif not _JSON_TYPES.match(content_type):
        raise UnsupportedMediaTypeError(
            f"the body is {content_type}, but this endpoint reads JSON; send it with "
            "`Content-Type: application/json`"
        )
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"the body is {declared} bytes; this server accepts {limit}")
    # Read from the ASGI channel itself: ``request.stream()`` is an async
    # generator, which costs more than the usual one-message body takes to read.
    # The deadline is asyncio's timeout, not an anyio cancel scope, which cost
    # more than the rest of reading the body.
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise ClientDisconnect()
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLargeError(
                        f"the body is over the {limit}-byte limit of this server"
                    )
                if not message.get("more_body", False):
                    if not chunks:
                        return chunk
                    chunks.append(chunk)
                    return b"".join(chunks)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeoutError(
            f"the body did not arrive within {seconds:g} s ({size} bytes came); send it all at once"
        ) from None


def accepted(request: Request) -> dict[str, float]:
    """The media types the ``Accept`` header names, each with its quality (``q``).

    Only what is named counts: ``*/*`` is kept as it is, not matched against
    anything, so a client that sends it (httpx, curl, LabThings' client)
    gets each route's usual reply. A range whose quality cannot be read is
    skipped.
    """
    qualities: dict[str, float] = {}
    for media_range in request.headers.get("accept", "").split(","):
        match = _MEDIA_RANGE.match(media_range)
        if match is None:
            continue
        quality_match = _QUALITY.search(match.group(2) or "")
        try:
            quality = float(quality_match.group(1)) if quality_match else 1.0
        except ValueError:
            continue
        media_type = match.group(1).lower()
        qualities[media_type] = max(quality, qualities.get(media_type, 0.0))
    return qualities


def prefer_wait(request: Request, cap: float) -> float:
    """Seconds to hold the reply, from an RFC 7240 ``Prefer: wait=N`` header (capped)."""
    header = request.headers.get("prefer")
    if not header:
        return 0.0
    match = _PREFER_WAIT.search(header)
    return min(float(match.group(1)), cap) if match else 0.0


def base_url(request: Request) -> str:
    """The absolute URL of the API root, honouring every mount point on the way.

    Starlette's ``request.base_url`` is the root of the outermost app, so a
    host app's mount would be missed, and by the time an endpoint runs,
    ``root_path`` also holds the mounts inside the API (``/action_invocations``,
    a Thing's). The app records the API root as a request enters it
    (``API_ROOT``). Worked out once per request (kept in the scope), as
    several links need it.
    """
    scope = request.scope
    cached: str | None = scope.get(_BASE_URL)
    if cached is None:
        cached = f"{scope.get('scheme', 'http')}://{_netloc(scope)}{scope[API_ROOT]}"
        scope[_BASE_URL] = cached
    return cached


def _netloc(scope: Scope) -> str:
    """Host and port as Starlette's ``request.url`` has them, without building a URL each time."""
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    return _authority(scope.get("scheme", "http"), host, None if server is None else tuple(server))


@functools.lru_cache(maxsize=256)
def _authority(scheme: str, host: bytes | None, server: tuple[str, int] | None) -> str:
    """Starlette's own answer (it checks the ``Host`` header), once per distinct request origin."""
    headers = [] if host is None else [(b"host", host)]
    scope = {"type": "http", "scheme": scheme, "server": server, "path": "/", "headers": headers}
    return URL(scope=scope).netloc


def first_segment(scope: Scope) -> str:
    """The first segment of the request's path below the mount it has reached ("" for none)."""
    path: str = scope["path"]
    return path.removeprefix(scope.get("root_path", "")).lstrip("/").partition("/")[0]


API_ROOT = "labthings_async.api_root"
"""Scope key: the path of the API root (every mount before it, and the prefix)."""

_BASE_URL = "labthings_async.base_url"
