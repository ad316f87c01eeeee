"""Blob downloads: ``GET /blob/{id}``, the bytes with their media type, in ranges if asked.

Layer: HTTP (starlette, the manager's blob store). A file is streamed from
disk in chunks (Starlette's ``FileResponse``), never read whole, with its
``Content-Length``, ``Last-Modified`` and ``ETag``; bytes in memory are sent
with theirs, the ETag being the blob's ID (a blob's bytes never change).
A single ``Range`` (``bytes=0-99``, ``bytes=100-``, ``bytes=-100``) is
answered 206; one that is malformed or asks for bytes the blob does not
have, 416 problem details with ``Content-Range: bytes */SIZE``, where
Starlette would answer a plain-text 400 or 416.
"""

from __future__ import annotations

import re
import uuid

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from ..blob import Blob
from ..errors import RangeNotSatisfiableError
from .state import server_state
from .wire import first_segment

__all__ = ("blob_routes", "download_blob", "requested_range")

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes ``[start, end)`` a ``Range`` header asks for; None for the whole blob.

    Raises:
        RangeNotSatisfiableError: The header is malformed, asks for several
            ranges, or for none of the blob's ``size`` bytes.
    """
    if header is None:
        return None
    found = _RANGE.match(header)
    if found is None:
        raise RangeNotSatisfiableError(
            f"the Range header {header[:80]!r} is not one byte range; write bytes=START-END, "
            "bytes=START- or bytes=-LENGTH (one range, counting from 0)",
            size,
        )
    first, last = found.group(1), found.group(2)
    if not first and not last:
        raise RangeNotSatisfiableError("the Range header bytes=- names no bytes", size)
    if not first:  # The last N bytes.
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiableError(
                f"the Range header asks for the last {length} of {size} bytes", size
            )
        return max(size - length, 0), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if last and int(last) < start:
        raise RangeNotSatisfiableError(
            f"the Range header's end ({last}) comes before its start ({start})", size
        )
    if start >= size:
        raise RangeNotSatisfiableError(
            f"the Range header starts at byte {start}, but the blob has {size} bytes", size
        )
    return start, end


async def download_blob(request: Request) -> Response:
    """``GET /blob/{id}``: the blob's bytes, or the range of them asked for."""
    blob_id: uuid.UUID = request.path_params["id"]
    blob = server_state(request).manager.blobs.get(blob_id)
    path = blob.data.path
    if path is not None:
        stat = path.stat()
        # Checked here, so a bad range is answered as problem details, not by Starlette.
        requested_range(request.headers.get("range"), stat.st_size)
        return FileResponse(path, media_type=blob.media_type, stat_result=stat)
    return _bytes_response(request, blob)


def _bytes_response(request: Request, blob: Blob) -> Response:
    content = blob.data.content
    size = len(content)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{blob.id}"'}
    wanted = requested_range(request.headers.get("range"), size)
    if wanted is None or request.headers.get("if-range", headers["ETag"]) != headers["ETag"]:
        return Response(content, media_type=blob.media_type, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return Response(content[start:end], 206, headers, media_type=blob.media_type)


async def _no_such_blob(scope: Scope, receive: Receive, send: Send) -> None:
    """What nothing under ``/blob/`` serves: an ID that is no blob's, or a path below one."""
    # Raises BlobNotFoundError, saying why (not a UUID; never existed, or expired).
    server_state(HTTPConnection(scope)).manager.blobs.get(first_segment(scope))
    raise HTTPException(404)  # The blob exists; nothing is served below it.


def blob_routes() -> list[BaseRoute]:
    """The ``/blob`` routes (LabThings' path for blob downloads)."""
    under = Router([Route("/{id:uuid}", download_blob, methods=["GET"])], default=_no_such_blob)
    return [Mount("/blob", app=under)]
