"""Turning msgspec's decode and validation failures into ``InvalidInputError``.

Layer: bottom (stdlib, msgspec, errors and models). msgspec words its errors as
``Expected `int`, got `str` - at `$.x```; we keep that wording, which already
says what was wrong and where, and split the path out for problem details.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from .errors import InvalidInputError
from .models import FieldIssue

__all__ = ("convert_value", "decode_json", "invalid_input")

T = TypeVar("T")

_AT = " - at `"


def invalid_input(error: msgspec.MsgspecError, what: str) -> InvalidInputError:
    """Describe a msgspec failure as an ``InvalidInputError`` about ``what``."""
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
    return InvalidInputError(f"{what} is invalid: {message}", [FieldIssue(path, reason)])


def decode_json(raw: bytes, type_: type[T] | Any, what: str) -> T:
    """Decode JSON bytes into ``type_``, raising ``InvalidInputError`` on failure."""
    try:
        result: T = msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as error:
        # msgspec stops at the first problem, so `[1, ` against an `int` reads
        # as a wrong type; a body that is not JSON at all is reported as such.
        try:
            msgspec.json.decode(raw)
        except msgspec.DecodeError as syntax:
            raise invalid_input(syntax, what) from None
        raise invalid_input(error, what) from None
    except msgspec.MsgspecError as error:
        raise invalid_input(error, what) from None
    return result


def convert_value(value: Any, type_: type[T] | Any, what: str) -> T:
    """Validate a Python value against ``type_`` as if it had come as JSON."""
    try:
        result: T = msgspec.convert(value, type_)
    except msgspec.MsgspecError as error:
        raise invalid_input(error, what) from None
    return result
