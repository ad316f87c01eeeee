"""Bearer tokens and the roles they grant: who may watch the hardware, and who may drive it.

Layer: domain (stdlib, the errors). A token file is a JSON object naming the
tokens of each role: ``{"operate": ["..."], "observe": ["..."]}``. An
``observe`` token reads and watches (``GET``: properties, invocations, event
streams); an ``operate`` token does that and changes things too (invokes,
writes, cancels). An entry is the token itself, or ``sha256:`` and the hex
digest of it, so the file need not hold the secret (``hashed_entry`` makes
one). Every token presented is compared with every entry, in constant time.

Browsers' ``EventSource`` (and ``<img>``) cannot send an ``Authorization``
header, so a holder of a token can get a *stream token* for their URLs: signed
by this server, valid for a while, and good for reading only.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from .errors import ConfigError

__all__ = ("Role", "StreamTokens", "TokenStore", "hashed_entry")

_HASHED = "sha256:"


class Role(enum.IntEnum):
    """What a token may do; a greater role may do all a lesser one may."""

    OBSERVE = 1
    """Read and watch: ``GET`` and ``HEAD``, event streams included."""
    OPERATE = 2
    """Read, watch, and change: invoke actions, write properties, cancel invocations."""

    @property
    def wire_name(self) -> str:
        """The name of the role in a token file: ``observe`` or ``operate``."""
        return self.name.lower()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hashed_entry(token: str) -> str:
    """The token-file entry for ``token`` that does not reveal it: ``sha256:HEX``."""
    return _HASHED + hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The tokens a server accepts, and the role of each.

    Args:
        roles: For each role's name (``observe``, ``operate``), its entries:
            tokens, or ``sha256:HEX`` digests of tokens.

    Raises:
        ConfigError: An unknown role, an entry that is not a non-empty string,
            a malformed digest, or no entry at all.
    """

    def __init__(self, roles: Mapping[str, Iterable[Any]]) -> None:
        known = {role.wire_name: role for role in Role}
        self._entries: list[tuple[bytes, Role]] = []
        for name, entries in roles.items():
            role = known.get(name)
            if role is None:
                raise ConfigError(
                    f"tokens: {name!r} is not a role; the roles are {', '.join(known)}"
                )
            if isinstance(entries, str) or not isinstance(entries, Iterable):
                raise ConfigError(f"tokens: {name!r} must be a list of tokens")
            for entry in entries:
                self._entries.append((_entry_digest(entry, name), role))
        if not self._entries:
            raise ConfigError("tokens: no token is given, so nobody could use the server")

    @classmethod
    def from_file(cls, path: str | Path) -> TokenStore:
        """Read a token file: ``{"operate": [...], "observe": [...]}``.

        Raises:
            ConfigError: The file cannot be read, is not JSON, or is not a token file.
        """
        where = f"token file {str(path)!r}"
        try:
            raw = msgspec.json.decode(Path(path).read_bytes())
        except OSError as error:
            raise ConfigError(f"cannot read {where}: {error.strerror}") from None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
            raise ConfigError(f"{where} is not valid JSON: {error}") from None
        if not isinstance(raw, dict):
            raise ConfigError(
                f'{where} must hold a JSON object such as {{"operate": ["TOKEN"], '
                '"observe": ["TOKEN"]}'
            )
        try:
            return cls(raw)
        except ConfigError as error:
            raise ConfigError(f"{where}: {str(error).removeprefix('tokens: ')}") from None

    def role_of(self, token: str) -> Role | None:
        """The role ``token`` grants, or None; the time taken does not depend on the token.

        Every entry is compared, whatever matched, so how long this takes
        says nothing about which entry (or how much of one) the token matched.
        """
        presented = _digest(token)
        found: Role | None = None
        for digest, role in self._entries:
            if hmac.compare_digest(presented, digest) and (found is None or role > found):
                found = role
        return found

    def __len__(self) -> int:
        return len(self._entries)


def _entry_digest(entry: Any, role: str) -> bytes:
    if not isinstance(entry, str) or not entry:
        raise ConfigError(f"tokens: an entry of {role!r} is {entry!r}, not a token")
    if entry.startswith(_HASHED):
        try:
            digest = bytes.fromhex(entry.removeprefix(_HASHED))
        except ValueError:
            digest = b""
        if len(digest) != hashlib.sha256().digest_size:
            raise ConfigError(
                f"tokens: an entry of {role!r} starts with {_HASHED!r} but is not followed "
                "by the 64 hex digits of a SHA-256 digest"
            )
        return digest
    return _digest(entry)


class StreamTokens:
    """Short-lived, signed, read-only tokens for URLs that cannot carry a header.

    Signed with a secret made when the server starts, so they are worth
    nothing to another server, nor after a restart.

    Args:
        lifetime: Seconds a stream token stays valid.
        now: The wall clock, in seconds (``time.time`` unless a test moves it).
    """

    PREFIX = "st1."

    def __init__(self, lifetime: float = 3600.0, now: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime
        self._now = now
        self._key = secrets.token_bytes(32)

    def issue(self) -> tuple[str, int]:
        """A new stream token, and the time it expires (Unix seconds)."""
        expires = int(self._now() + self.lifetime)
        return f"{self.PREFIX}{expires}.{self._signature(expires)}", expires

    def valid(self, token: str) -> bool:
        """True if ``token`` was issued here and has not expired."""
        expires_text, _, signature = token.removeprefix(self.PREFIX).partition(".")
        if not token.startswith(self.PREFIX) or not expires_text.isdigit():
            return False
        expires = int(expires_text)
        good = hmac.compare_digest(signature.encode(), self._signature(expires).encode())
        return good and expires > self._now()

    def _signature(self, expires: int) -> str:
        mac = hmac.new(self._key, f"{self.PREFIX}{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
