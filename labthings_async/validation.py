"""Turning msgspec's decode and validation failures into ``InvalidInputError``.

Layer: bottom (stdlib, msgspec, errors, models, and the extensions that
decode blobs and arrays). msgspec words its errors as
``Expected `int`, got `str` - at `$.x```; we keep that wording, which already
says what was wrong and where, and split the path out for problem details.
Where msgspec only says ``Invalid enum value 'x'``, the values the field
allows are added, read from the type's JSON Schema at the failing path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from .errors import InvalidInputError
from .extensions import decode_hook, schema_hook
from .models import FieldIssue

__all__ = ("allowed_values", "convert_value", "decode_json", "invalid_input")

T = TypeVar("T")

_AT = " - at `"
_INVALID_ENUM = "Invalid enum value "
# One step of a msgspec path: `.name`, `[3]`, or `[...]` (a dict's key).
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


def invalid_input(error: msgspec.MsgspecError, what: str, type_: Any = None) -> InvalidInputError:
    """Describe a msgspec failure as an ``InvalidInputError`` about ``what``.

    Args:
        error: What msgspec raised.
        what: What was being decoded, for the message: ``the input of action 'x'``.
        type_: The type it was decoded into; given, an invalid enum value's
            message lists the values allowed.
    """
    message = str(error)
    malformed = isinstance(error, msgspec.DecodeError) and not isinstance(
        error, msgspec.ValidationError
    )
    if malformed:
        return InvalidInputError(f"{what} is not valid JSON: {message}", malformed=True)
    path = "$"
    reason = message
    if _AT in message:
        reason, _, rest = message.rpartition(_AT)
        path = rest.rstrip("`")
    if reason.startswith(_INVALID_ENUM) and type_ is not None:
        allowed = allowed_values(type_, path)
        if allowed:
            reason = f"{reason} (expected one of {', '.join(map(repr, allowed))})"
            message = reason if path == "$" else f"{reason}{_AT}{path}`"
    return InvalidInputError(f"{what} is invalid: {message}", [FieldIssue(path, reason)])


def allowed_values(type_: Any, path: str) -> list[Any]:
    """The values an enum (or ``Literal``) at ``path`` within ``type_`` allows; [] if unknown.

    Args:
        type_: A type msgspec can describe as JSON Schema.
        path: A msgspec path into a value of that type: ``$.items[0].mode``.
    """
    try:
        root = msgspec.json.schema(type_, schema_hook=schema_hook)
    except (TypeError, ValueError):
        return []
    schemas = [root]
    for step in _PATH_STEP.finditer(path.removeprefix("$")):
        field, index = step.group(1), step.group(2)
        schemas = [
            child
            for schema in schemas
            for option in _options(schema, root)
            for child in _children(option, field, index)
        ]
    return [
        value
        for schema in schemas
        for option in _options(schema, root)
        for value in option.get("enum", ())
    ]


def _options(schema: Any, root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``schema`` with ``$ref`` followed and ``anyOf`` (an ``Optional``, a union) spread out."""
    if not isinstance(schema, Mapping):
        return []
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        return _options(root.get("$defs", {}).get(reference.removeprefix("#/$defs/")), root)
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        return [found for option in options for found in _options(option, root)]
    return [schema]


def _children(schema: Mapping[str, Any], field: str | None, index: str | None) -> list[Any]:
    """The schemas one path step below ``schema``: a field, an item, or a dict's value."""
    if field is not None:
        properties = schema.get("properties") or {}
        return [properties[field]] if field in properties else []
    if index is not None:
        prefix = schema.get("prefixItems") or []
        if int(index) < len(prefix):
            return [prefix[int(index)]]
        return [schema["items"]] if isinstance(schema.get("items"), Mapping) else []
    extra = schema.get("additionalProperties")
    return [extra] if isinstance(extra, Mapping) else []


def decode_json(raw: bytes, type_: type[T] | Any, what: str) -> T:
    """Decode JSON bytes into ``type_``, raising ``InvalidInputError`` on failure.

    A body that is not JSON at all (bad syntax, a string that is not UTF-8,
    arrays or objects nested deeper than the decoder goes) is malformed: 400.
    """
    try:
        result: T = msgspec.json.decode(raw, type=type_, dec_hook=decode_hook)
    except msgspec.ValidationError as error:
        # msgspec stops at the first problem, so `[1, ` against an `int` reads
        # as a wrong type; a body that is not JSON at all is reported as such.
        try:
            msgspec.json.decode(raw)
        except msgspec.DecodeError as syntax:
            raise invalid_input(syntax, what) from None
        except (UnicodeDecodeError, RecursionError) as undecodable:
            raise _undecodable(undecodable, what) from None
        raise invalid_input(error, what, type_) from None
    except msgspec.MsgspecError as error:
        raise invalid_input(error, what, type_) from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise _undecodable(error, what) from None
    return result


def _undecodable(error: UnicodeDecodeError | RecursionError, what: str) -> InvalidInputError:
    """A body msgspec could not decode as JSON text at all: invalid UTF-8, or nested too deep."""
    if isinstance(error, UnicodeDecodeError):
        reason = f"a string in it is not UTF-8 (it holds byte {error.object[error.start]:#04x})"
    else:
        reason = "its arrays or objects are nested too deep"
    return InvalidInputError(f"{what} is not valid JSON: {reason}", malformed=True)


def convert_value(value: Any, type_: type[T] | Any, what: str) -> T:
    """Validate a Python value against ``type_`` as if it had come as JSON."""
    try:
        result: T = msgspec.convert(value, type_, dec_hook=decode_hook)
    except msgspec.MsgspecError as error:
        raise invalid_input(error, what, type_) from None
    return result
