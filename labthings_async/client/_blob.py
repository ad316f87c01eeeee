"""Files and images an action returned, as the client hands them over: downloaded when asked.

Layer: client (stdlib, httpx2, the errors and the client's replies). An
output that the action's Thing Description describes as a blob (an object
with ``href`` and ``media_type``, as both this server and LabThings-FastAPI
describe one) and that is such a link becomes a ``RemoteBlob`` (blocking
client) or an ``AsyncRemoteBlob``: nothing is downloaded until its bytes are
asked for, and ``save`` streams them to disk, never holding them whole. A
remote blob given as an action's argument is sent as its link, so one
action's output can be the next one's input without a round trip.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import httpx2

from ..errors import BlobNotFoundError
from ._replies import checked, transport_error

__all__ = ("AsyncRemoteBlob", "RemoteBlob", "blob_link", "link_of")

_CHUNK = 1 << 16


def blob_link(value: Any, schema: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The link in an output, if the output is one and its schema says it is a blob."""
    if not isinstance(value, Mapping) or not isinstance(schema, Mapping):
        return None
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not {"href", "media_type"} <= properties.keys():
        return None
    href, media_type = value.get("href"), value.get("media_type")
    if not isinstance(href, str) or not isinstance(media_type, str):
        return None
    return {key: item for key, item in value.items() if isinstance(item, str)}


def link_of(value: Any) -> Any:
    """``msgspec.to_builtins``' ``enc_hook``: a remote blob given as an argument is its link.

    Raises:
        NotImplementedError: ``value`` is not a remote blob.
    """
    if isinstance(value, RemoteBlob | AsyncRemoteBlob):
        return dict(value.link)
    raise NotImplementedError(f"cannot send a {type(value).__qualname__} as JSON")


class _Link:
    def __init__(self, link: Mapping[str, str]) -> None:
        self.link = dict(link)
        self.href = link["href"]
        self.media_type = link["media_type"]
        self.description = link.get("description")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.media_type} at {self.href}>"

    def _what(self) -> str:
        return f"the blob at {self.href}"


class RemoteBlob(_Link):
    """A file or image on the server, downloaded when its bytes are asked for.

    Attributes:
        href: Where the bytes are.
        media_type: Their media type (``image/png``...).
        description: What the server said of it, if anything.
        link: The link as the server sent it (what is sent back as an argument).
    """

    def __init__(self, link: Mapping[str, str], http: httpx2.Client) -> None:
        super().__init__(link)
        self._http = http

    @property
    def content(self) -> bytes:
        """The bytes, downloaded now (each time it is read).

        Raises:
            BlobNotFoundError: The server no longer has it (its invocation expired).
            ServerUnavailableError: The server could not be reached.
        """
        try:
            response = self._http.get(self.href)
        except httpx2.TransportError as error:
            raise transport_error(error, self.href) from error
        return checked(response, self._what(), missing=BlobNotFoundError).content

    def open(self) -> io.BytesIO:
        """The bytes, downloaded now, as a file object (LabThings' ``Blob.open``)."""
        return io.BytesIO(self.content)

    def save(self, path: str | os.PathLike[str]) -> int:
        """Download the bytes to ``path``, a chunk at a time; returns how many.

        Raises:
            BlobNotFoundError: The server no longer has it.
            ServerUnavailableError: The server could not be reached.
        """
        written = 0
        try:
            with self._http.stream("GET", self.href) as response:
                if response.status_code >= 400:
                    response.read()
                    checked(response, self._what(), missing=BlobNotFoundError)
                with open(path, "wb") as file:
                    for chunk in response.iter_bytes(_CHUNK):
                        written += file.write(chunk)
        except httpx2.TransportError as error:
            raise transport_error(error, self.href) from error
        return written


class AsyncRemoteBlob(_Link):
    """A file or image on the server, downloaded when ``read`` or ``save`` is awaited.

    Attributes:
        href: Where the bytes are.
        media_type: Their media type.
        description: What the server said of it, if anything.
        link: The link as the server sent it.
    """

    def __init__(self, link: Mapping[str, str], http: httpx2.AsyncClient) -> None:
        super().__init__(link)
        self._http = http

    async def read(self) -> bytes:
        """The bytes, downloaded now.

        Raises:
            BlobNotFoundError: The server no longer has it (its invocation expired).
            ServerUnavailableError: The server could not be reached.
        """
        try:
            response = await self._http.get(self.href)
        except httpx2.TransportError as error:
            raise transport_error(error, self.href) from error
        return checked(response, self._what(), missing=BlobNotFoundError).content

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Download the bytes to ``path``, a chunk at a time; returns how many.

        Raises:
            BlobNotFoundError: The server no longer has it.
            ServerUnavailableError: The server could not be reached.
        """
        written = 0
        try:
            async with self._http.stream("GET", self.href) as response:
                if response.status_code >= 400:
                    await response.aread()
                    checked(response, self._what(), missing=BlobNotFoundError)
                with open(path, "wb") as file:  # noqa: ASYNC230 - chunks of a download.
                    async for chunk in response.aiter_bytes(_CHUNK):
                        written += file.write(chunk)
        except httpx2.TransportError as error:
            raise transport_error(error, self.href) from error
        return written
