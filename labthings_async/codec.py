"""How the values of a declared type are validated, encoded and described.

Layer: domain (stdlib, msgspec, the errors and validation). A Thing declares
types: an action's parameters and return annotation, a property's
annotation. Each gets a codec, picked once, at class definition, by
``codec_for``: msgspec's (the fast path, and most types), or pydantic's for a
type that uses pydantic (a ``BaseModel``, ``pydantic.Field(...)`` or an
``annotated_types`` constraint in ``Annotated``), with pydantic's own
validation, serialization and JSON Schema, as LabThings-FastAPI has them.
pydantic is an optional dependency: it is imported only once the user's own
code has imported it, since only then can a type use it.

Annotation metadata nothing reads would be a constraint silently dropped, so
``codec_for`` refuses it: in ``Annotated[...]`` a msgspec type takes only
``msgspec.Meta``, a pydantic type only pydantic's and ``annotated_types``'
metadata.

``encode_json`` is how any value becomes JSON here: msgspec, with what it
does not know itself (blobs, arrays, pydantic models) encoded by the hooks of
``extensions``.
"""

from __future__ import annotations

import sys
import typing
from typing import Any, Protocol

import msgspec

from .blob import Blob
from .declared_types import UnreadMetadataError, annotated_metadata, type_parts
from .errors import ActionDefinitionError
from .extensions import decode_hook, encode_hook, encode_value, schema_hook
from .validation import convert_value, decode_json

__all__ = (
    "Codec",
    "MsgspecCodec",
    "codec_for",
    "declared_codec",
    "encode_json",
    "encode_output",
    "type_name",
    "uses_pydantic",
)

_NULL = msgspec.Raw(b"null")
"""The encoding of ``None``, shared: most hardware actions (move, home) return nothing."""


class Codec(Protocol):
    """What the framework does with values of one declared type."""

    @property
    def type(self) -> Any:
        """The declared type."""

    def decode_json(self, raw: bytes, what: str) -> Any:
        """Validate a JSON body; ``InvalidInputError`` naming ``what`` and the path if it fails."""

    def convert(self, value: Any, what: str) -> Any:
        """Validate a Python value as if it had come as JSON (``InvalidInputError`` if not)."""

    def check(self, value: Any) -> Any:
        """The value, made to fit the type (an int for a float, say), or ``InvalidInputError``."""

    def encode(self, value: Any, attachments: list[Blob] | None = None) -> bytes:
        """A value of the type as JSON; the blobs met are added to ``attachments``."""

    def to_json_value(self, value: Any) -> Any:
        """A value of the type as plain JSON values (dicts, lists, strings...)."""

    def json_schema(self) -> dict[str, Any]:
        """The type's JSON Schema, with ``#/$defs/`` references."""


class MsgspecCodec:
    """msgspec's codec: structs, dataclasses, containers, ``Annotated[..., msgspec.Meta]``.

    Raises:
        TypeError: msgspec cannot handle the type.
    """

    __slots__ = ("type",)

    def __init__(self, tp: Any) -> None:
        # Fails now, at class definition, if msgspec (with the extensions' hook) cannot.
        msgspec.json.Decoder(tp, dec_hook=decode_hook)
        self.type = tp

    def decode_json(self, raw: bytes, what: str) -> Any:
        """Validate a JSON body."""
        return decode_json(raw, self.type, what)

    def convert(self, value: Any, what: str) -> Any:
        """Validate a Python value as if it had come as JSON."""
        return convert_value(value, self.type, what)

    def check(self, value: Any) -> Any:
        """The value, made to fit the type, or ``InvalidInputError``."""
        return convert_value(value, self.type, "the value")

    def encode(self, value: Any, attachments: list[Blob] | None = None) -> bytes:
        """A value of the type as JSON; the blobs met are added to ``attachments``."""
        return msgspec.json.encode(value, enc_hook=encode_hook(attachments))

    def to_json_value(self, value: Any) -> Any:
        """A value of the type as plain JSON values."""
        return msgspec.json.decode(encode_json(value))

    def json_schema(self) -> dict[str, Any]:
        """The type's JSON Schema, written by msgspec."""
        schema: dict[str, Any] = msgspec.json.schema(self.type, schema_hook=schema_hook)
        return schema


def codec_for(tp: Any) -> Codec:
    """The codec for values of ``tp``: pydantic's if ``tp`` uses pydantic, else msgspec's.

    Raises:
        UnreadMetadataError: ``Annotated`` metadata in ``tp`` that the codec
            would not read; the message names it and says what is read.
        TypeError: Neither library can handle the type.
    """
    if uses_pydantic(tp):
        from .pydantic_types import PydanticCodec, check_pydantic_metadata

        check_pydantic_metadata(tp)
        return PydanticCodec(tp)
    for metadata in annotated_metadata(tp):
        if not isinstance(metadata, msgspec.Meta):
            raise UnreadMetadataError(
                f"the annotation's metadata {metadata!r} (a {type(metadata).__name__}) is "
                "not understood, so it would be ignored; constrain and describe a type "
                "with msgspec.Meta(...) or pydantic.Field(...), or remove it"
            )
    return MsgspecCodec(tp)


def declared_codec(tp: Any, where: str) -> Codec:
    """The codec of a type a Thing declares; a failure names where it was declared.

    Args:
        tp: The type.
        where: The declaration, for the message: ``action Stage.move, parameter 'x'``.

    Raises:
        ActionDefinitionError: ``tp`` holds metadata nothing reads, or
            neither msgspec nor pydantic can handle it.
    """
    try:
        return codec_for(tp)
    except UnreadMetadataError as error:
        raise ActionDefinitionError(f"{where}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ActionDefinitionError(f"{where}: unsupported type ({error})") from None


def uses_pydantic(tp: Any) -> bool:
    """Whether ``tp`` is or contains a pydantic model, or pydantic metadata in ``Annotated``.

    Without importing pydantic: a type can use it only once something has.
    """
    if "pydantic" not in sys.modules:
        return False
    from .pydantic_types import is_pydantic_part

    return any(is_pydantic_part(part) for part in type_parts(tp))


def encode_json(value: Any) -> bytes:
    """``value`` as JSON: msgspec's encoding, with the extensions' hook for what it cannot.

    Raises:
        TypeError: JSON cannot carry the value (msgspec's ``EncodeError`` is one).
    """
    return msgspec.json.encode(value, enc_hook=encode_value)


def encode_output(action: str, output: Any, attachments: list[Blob] | None = None) -> msgspec.Raw:
    """An action's return value as JSON, encoded once for every reply and event.

    Encoding is also the check that the value can be sent at all. A value
    that is already a ``msgspec.Raw`` is taken to be JSON as it stands.
    Blobs are encoded as their links and numpy arrays as nested lists
    (``extensions``).

    Args:
        action: The action's name, for the message.
        output: What it returned.
        attachments: Collects the blobs in the output, which the invocation
            then keeps (and the manager serves); None only encodes them.

    Raises:
        TypeError: JSON cannot carry the value; the message names the action
            and the type.
    """
    if output is None:
        return _NULL
    if isinstance(output, msgspec.Raw):
        return output
    try:
        return msgspec.Raw(msgspec.json.encode(output, enc_hook=encode_hook(attachments)))
    except (TypeError, msgspec.EncodeError) as error:
        raise TypeError(
            f"action {action!r} returned a value of type {type(output).__name__!r}, which "
            f"cannot be sent as JSON ({error}); return JSON-compatible data or a msgspec Struct"
        ) from None


def type_name(tp: Any) -> str:
    """How a type is written in an annotation: ``int``, ``list[int]``, ``Position | None``."""
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")
