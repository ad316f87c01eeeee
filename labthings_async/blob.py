"""Files and images as action outputs: blobs, served by href with their media type.

Layer: domain (stdlib, msgspec, the errors). Built with LabThings-FastAPI's
names, so a Thing written for it runs: subclass ``Blob`` with a
``media_type``, and return ``MyBlob.from_bytes(...)``, ``from_file(...)`` or
``from_temporary_directory(...)`` from an action. In JSON a blob is LabThings'
link, ``{"href", "media_type", "rel", "description"}``; the bytes are served
at the href, streamed from disk for a file.

Unlike LabThings, whose blobs live in one process-wide table for as long as
Python keeps them, a blob here is kept by the invocation that returned it
(``BlobStore`` is the manager's index of them): it is served while that
invocation is retained, and once the invocation is forgotten and nothing else
holds the blob, its temporary directory is removed.

A blob's href is written relative to the API root (``blob/{id}``) when the
output is encoded, once; ``absolute_links`` makes it absolute for each
reply, since only a request knows the URL its client used.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import uuid
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Self

import msgspec

from .errors import BlobNotFoundError, MediaTypeMismatchError

__all__ = (
    "BLOB_DESCRIPTION",
    "Blob",
    "BlobBytes",
    "BlobData",
    "BlobFile",
    "BlobStore",
    "UnresolvedBlobData",
    "absolute_links",
    "blob_id_of",
    "match_media_types",
    "parse_media_type",
)

BLOB_DESCRIPTION = (
    "The output from this action is not serialised to JSON, so it must be "
    "retrieved as a file. This link will return the file."
)
"""The ``description`` LabThings puts in every blob link."""

_HREF_ID = re.compile(r"blob/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/?$")
_RELATIVE_LINK = re.compile(
    rb'"href":"blob/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"'
)


def parse_media_type(media_type: str) -> tuple[str, str]:
    """The type and subtype of a media type (``image/png`` is ``("image", "png")``).

    Parameters after a ``;`` are ignored.

    Raises:
        MediaTypeMismatchError: It is not ``type/subtype``.
    """
    essence = media_type.split(";")[0].strip()
    main, slash, sub = essence.partition("/")
    main, sub = main.strip(), sub.strip()
    if not slash or not main or not sub or "/" in sub or (main == "*" and sub != "*"):
        raise MediaTypeMismatchError(
            f"{media_type!r} is not a media type; write it as type/subtype, such as 'image/png'"
        )
    return main.lower(), sub.lower()


def match_media_types(media_type: str, pattern: str) -> bool:
    """True if ``media_type`` fits ``pattern``, which may use ``*`` (``image/*``, ``*/*``)."""
    main, sub = parse_media_type(media_type)
    want_main, want_sub = parse_media_type(pattern)
    return want_main in ("*", main) and want_sub in ("*", sub)


class BlobData:
    """Where a blob's bytes are: in memory (``BlobBytes``) or in a file (``BlobFile``).

    Args:
        media_type: The media type of the bytes.

    Attributes:
        id: Unique ID, the last segment of the blob's href.
        media_type: The media type of the bytes.
    """

    def __init__(self, media_type: str) -> None:
        self.id = uuid.uuid4()
        self.media_type = media_type

    @property
    def content(self) -> bytes:
        """The bytes, read into memory."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """The number of bytes."""
        raise NotImplementedError

    @property
    def path(self) -> Path | None:
        """The file holding the bytes, or None when they are in memory."""
        return None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the bytes to ``path``."""
        raise NotImplementedError

    def open(self) -> io.IOBase:
        """The bytes as a binary file object, open for reading."""
        raise NotImplementedError


class BlobBytes(BlobData):
    """A blob's bytes, held in memory."""

    def __init__(self, data: bytes, media_type: str) -> None:
        super().__init__(media_type)
        self._bytes = bytes(data)

    @property
    def content(self) -> bytes:
        """The bytes."""
        return self._bytes

    @property
    def size(self) -> int:
        """The number of bytes."""
        return len(self._bytes)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the bytes to ``path``."""
        Path(path).write_bytes(self._bytes)

    def open(self) -> io.IOBase:
        """The bytes as a ``BytesIO``."""
        return io.BytesIO(self._bytes)


class BlobFile(BlobData):
    """A blob's bytes, in a file on disk, which is served from disk, never read whole.

    Args:
        file_path: The file; it must exist.
        media_type: The media type of its bytes.
        temporary_directory: A ``TemporaryDirectory`` the file is in, kept
            (and so not removed) for as long as the blob is.

    Raises:
        FileNotFoundError: The file does not exist.
    """

    def __init__(
        self,
        file_path: str | os.PathLike[str],
        media_type: str,
        temporary_directory: TemporaryDirectory[str] | None = None,
    ) -> None:
        super().__init__(media_type)
        self._path = Path(file_path)
        if not self._path.is_file():
            raise FileNotFoundError(f"a blob was made of {self._path}, which is not a file")
        self._temporary_directory = temporary_directory
        if temporary_directory is not None:
            # Removed as soon as the blob is gone: explicitly, so not with the
            # ResourceWarning of a TemporaryDirectory left to its own finaliser.
            weakref.finalize(self, temporary_directory.cleanup)

    @property
    def path(self) -> Path:
        """The file."""
        return self._path

    @property
    def content(self) -> bytes:
        """The file's bytes, read into memory."""
        return self._path.read_bytes()

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self._path.stat().st_size

    def save(self, path: str | os.PathLike[str]) -> None:
        """Copy the file to ``path``."""
        shutil.copyfile(self._path, path)

    def open(self) -> io.IOBase:
        """The file, open for reading in binary."""
        return open(self._path, "rb")


class UnresolvedBlobData(BlobData):
    """A blob an action's input names by href, until the manager finds it among its own.

    Attributes:
        href: The href the client sent.
    """

    def __init__(self, href: str, media_type: str) -> None:
        super().__init__(media_type)
        self.href = href

    def _unavailable(self) -> BlobNotFoundError:
        return BlobNotFoundError(
            f"the blob at {self.href} was never found on this server; only a blob "
            "an action of this server returned can be read"
        )

    @property
    def content(self) -> bytes:
        """Never available: the blob was not found."""
        raise self._unavailable()

    @property
    def size(self) -> int:
        """Never available: the blob was not found."""
        raise self._unavailable()


class Blob:
    """A file or image an action returns, or takes: bytes with a media type.

    Subclass it with the ``media_type`` your action returns, and make one
    with ``from_bytes``, ``from_file`` or ``from_temporary_directory``::

        class PNGImage(lt.blob.Blob):
            media_type = "image/png"

        @lt.action
        def capture(self) -> PNGImage:
            return PNGImage.from_bytes(png_bytes)

    Args:
        data: Where the bytes are.
        description: Replaces the class's ``description`` in the link.

    Attributes:
        media_type: The media type (the class's: a pattern such as ``image/*``;
            an instance's: the type of its bytes).
        description: Said in the link, as LabThings says it.

    Raises:
        MediaTypeMismatchError: The data's media type does not fit the class's.
    """

    media_type: str = "*/*"
    description: str | None = None

    def __init__(self, data: BlobData, description: str | None = None) -> None:
        if not match_media_types(data.media_type, type(self).media_type):
            raise MediaTypeMismatchError(
                f"a {type(self).__qualname__} holds {type(self).media_type}, not {data.media_type}"
            )
        self._data = data
        self.media_type = data.media_type
        if description is not None:
            self.description = description

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        parse_media_type(cls.media_type)  # A malformed one fails at class definition.

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.media_type} {self._data.id}>"

    @property
    def data(self) -> BlobData:
        """Where the bytes are."""
        return self._data

    @property
    def id(self) -> uuid.UUID:
        """The blob's ID, the last segment of its href."""
        return self._data.id

    @property
    def content(self) -> bytes:
        """The bytes, read into memory (read a large file with ``open`` instead)."""
        return self._data.content

    def save(self, filepath: str | os.PathLike[str]) -> None:
        """Write the bytes to ``filepath``."""
        self._data.save(filepath)

    def open(self) -> io.IOBase:
        """The bytes as a binary file object, open for reading."""
        return self._data.open()

    def link(self) -> dict[str, str]:
        """The blob as JSON: LabThings' link, its href relative to the API root."""
        link = {
            "href": f"blob/{self._data.id}",
            "media_type": self.media_type,
            "rel": "output",
            "description": self.description or BLOB_DESCRIPTION,
        }
        return link

    @classmethod
    def validate_media_type(cls, media_type: str | None) -> str:
        """``media_type`` if it fits the class's, or the class's own when None.

        Raises:
            MediaTypeMismatchError: It does not fit.
        """
        if media_type is None:
            return cls.media_type
        if match_media_types(media_type, cls.media_type):
            return media_type
        raise MediaTypeMismatchError(
            f"can't make a {cls.__qualname__} of {media_type!r}: it holds {cls.media_type}"
        )

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Self:
        """A blob of bytes held in memory."""
        return cls(BlobBytes(data, cls.validate_media_type(media_type)))

    @classmethod
    def from_file(cls, file: str | os.PathLike[str], media_type: str | None = None) -> Self:
        """A blob of a file that stays on disk at least as long as the blob (not copied)."""
        return cls(BlobFile(file, cls.validate_media_type(media_type)))

    @classmethod
    def from_temporary_directory(
        cls, folder: TemporaryDirectory[str], file: str, media_type: str | None = None
    ) -> Self:
        """A blob of ``file`` in ``folder``, which is removed once the blob is gone.

        The blob keeps the ``TemporaryDirectory``: it is removed when the
        invocation that returned the blob is forgotten and nothing else
        holds the blob.
        """
        path = Path(folder.name) / file
        return cls(BlobFile(path, cls.validate_media_type(media_type), folder))

    @classmethod
    def from_link(cls, value: Any) -> Self:
        """A blob named by its JSON link (``{"href", "media_type"}``), to be resolved.

        Raises:
            ValueError: ``value`` is not a link to a blob (msgspec reports it
                at the field's path).
        """
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"Expected a blob link (an object with `href`), got {value!r:.60}")
        href, media_type = value.get("href"), value.get("media_type", cls.media_type)
        if not isinstance(href, str) or not isinstance(media_type, str):
            raise ValueError("Expected a blob link: `href` and `media_type` must be strings")
        if blob_id_of(href) is None:
            raise ValueError(f"{href!r} is not the href of a blob (it ends in blob/ID)")
        try:
            return cls(UnresolvedBlobData(href, media_type))
        except MediaTypeMismatchError as error:
            raise ValueError(str(error)) from None


def blob_id_of(href: str) -> uuid.UUID | None:
    """The blob ID at the end of a blob's href, or None if it has none."""
    found = _HREF_ID.search(href)
    return uuid.UUID(found.group(1)) if found else None


def absolute_links(data: bytes, api_root: str) -> bytes:
    """``data`` (encoded JSON) with every blob href made absolute, under ``api_root``."""
    if b'"href":"blob/' not in data:
        return data
    root = _json_string_body(api_root)
    return _RELATIVE_LINK.sub(lambda found: b'"href":"%s/blob/%s"' % (root, found[1]), data)


def _json_string_body(text: str) -> bytes:
    """``text`` as the inside of a JSON string (escaped, no quotes)."""
    return msgspec.json.encode(text)[1:-1]


class BlobStore:
    """The blobs a manager serves, by ID: those of the invocations it retains.

    The store holds each blob as long as the invocation that returned it;
    the invocation is what keeps the blob, the store is only its index.
    """

    def __init__(self) -> None:
        self._by_id: dict[uuid.UUID, Blob] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, blobs: Iterable[Blob]) -> None:
        """Serve these blobs (those of an invocation that has just completed)."""
        for blob in blobs:
            self._by_id[blob.id] = blob

    def discard(self, blobs: Iterable[Blob]) -> None:
        """Stop serving these blobs (their invocation has been forgotten)."""
        for blob in blobs:
            self._by_id.pop(blob.id, None)

    def get(self, blob_id: uuid.UUID | str) -> Blob:
        """The blob with this ID.

        Raises:
            BlobNotFoundError: No blob of a retained invocation has this ID.
        """
        try:
            key = blob_id if isinstance(blob_id, uuid.UUID) else uuid.UUID(blob_id)
        except ValueError:
            raise BlobNotFoundError(f"{blob_id!r} is not a blob ID (a UUID)") from None
        try:
            return self._by_id[key]
        except KeyError:
            raise BlobNotFoundError(
                f"no blob {key}: it never existed, or the invocation that returned it has expired"
            ) from None

    def resolve(self, blob: Blob) -> Blob:
        """The blob itself, for one an input named by href.

        Raises:
            BlobNotFoundError: The href names no blob served here.
        """
        data = blob.data
        if not isinstance(data, UnresolvedBlobData):
            return blob
        blob_id = blob_id_of(data.href)
        found = self.get(blob_id) if blob_id is not None else None
        if found is None or not match_media_types(found.media_type, type(blob).media_type):
            raise BlobNotFoundError(
                f"{data.href} is not a {type(blob).media_type} blob of this server"
            )
        return type(blob)(found.data, found.description)
