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
            plain = msgspec.json.decode(raw)
        except msgspec.DecodeError as syntax:
            raise invalid_input(syntax, what) from None
        except (UnicodeDecodeError, RecursionError) as undecodable:
            raise _undecodable(undecodable, what) from None
        whole: T | None = _with_whole_numbers(plain, type_, error)
        if whole is not None:
            return whole
        raise invalid_input(error, what, type_) from None
    except msgspec.MsgspecError as error:
        raise invalid_input(error, what, type_) from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise _undecodable(error, what) from None
    return result


_FLOAT_FOR_INT = "Expected `int`, got `float`"


def _with_whole_numbers(value: Any, type_: Any, error: msgspec.ValidationError) -> Any:
    """``value`` decoded as ``type_`` once each whole ``5.0`` where an int goes is ``5``; or None.

    JSON has one kind of number: ``5.0`` is the integer 5 to JSON Schema, and
    so to the schemas the server publishes, but msgspec refuses it for an
    ``int``. Only the values msgspec names, one at a time, are changed, so a
    ``5.0`` anywhere else stays as it was sent; a ``5.5`` is still refused.
    """
    for _ in range(64):  # Each round fixes one number; a body with more is refused.
        reason, _, at = str(error).rpartition(_AT)
        if not reason:  # The value itself, not one inside it.
            if str(error) != _FLOAT_FOR_INT or not float(value).is_integer():
                return None
            value = int(value)
        elif reason != _FLOAT_FOR_INT or not _set_whole(value, at.rstrip("`")):
            return None
        try:
            return msgspec.json.decode(msgspec.json.encode(value), type=type_, dec_hook=decode_hook)
        except msgspec.ValidationError as again:
            error = again
    return None


def _set_whole(root: Any, path: str) -> bool:
    """Replace the whole float at ``path`` (msgspec's) in ``root`` by its int; False if none."""
    steps = list(_PATH_STEP.finditer(path.removeprefix("$")))
    if not steps or "".join(step.group(0) for step in steps) != path.removeprefix("$"):
        return False
    container = root
    for step in steps[:-1]:
        container = _child(container, step)
        if container is None:
            return False
    last = steps[-1]
    key: Any = last.group(1) if last.group(1) is not None else last.group(2)
    if key is None:
        return False  # A dict's key ([...]): msgspec does not say which.
    if isinstance(container, list):
        key = int(key)
        if key >= len(container):
            return False
    elif not isinstance(container, dict) or key not in container:
        return False
    number = container[key]
    if not isinstance(number, float) or not number.is_integer():
        return False
    container[key] = int(number)
    return True


def _child(container: Any, step: re.Match[str]) -> Any:
    field, index = step.group(1), step.group(2)
    if field is not None and isinstance(container, dict):
        return container.get(field)
    if index is not None and isinstance(container, list) and int(index) < len(container):
        return container[int(index)]
    return None


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
