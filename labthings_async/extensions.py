"""The values msgspec does not know that actions take and return: blobs and numpy arrays.

Layer: domain (stdlib, msgspec, blob; numpy only when the caller's own values
or types are numpy's, so a server whose Things use no arrays never imports
it). msgspec's three hooks, written once: how such a value is encoded
(``encode_hook``), decoded from JSON (``decode_hook``) and described as
JSON Schema (``schema_hook``). A blob encodes as its link; an array as nested
lists, as LabThings sends it; a numpy scalar as the number it holds; a
pydantic model (in an untyped output, or an action's input) as pydantic
dumps it, pydantic being imported only if the caller's code did.

A type can say how it travels itself, with three class-level methods:
``__labthings_schema__()``, ``__labthings_decode__(value)`` and (on
instances) ``__labthings_encode__()``: the array types of ``arrays`` do.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable
from typing import Any

from .blob import BLOB_DESCRIPTION, Blob

__all__ = (
    "NESTED_NUMBERS_SCHEMA",
    "decode_hook",
    "encode_hook",
    "encode_value",
    "is_numpy_array_type",
    "schema_hook",
)

_NUMBER: dict[str, Any] = {"type": "number"}


def _nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = dict(_NUMBER)
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


NESTED_NUMBERS_SCHEMA: dict[str, Any] = {
    "description": "An array of numbers as nested lists (up to 7 dimensions), as numpy's tolist()",
    "oneOf": [_nested(depth) for depth in range(8)],
}
"""An array of any shape: what LabThings' ``NDArray`` says (a number, or lists of them)."""


def _class_of(tp: Any) -> Any:
    """The class of a type, or of a parametrised one (``ndarray[Any, dtype[Any]]``)."""
    origin = typing.get_origin(tp)
    return origin if isinstance(origin, type) else tp


def is_numpy_array_type(tp: Any) -> bool:
    """True for ``numpy.ndarray`` and its subclasses, without importing numpy."""
    numpy = sys.modules.get("numpy")
    tp = _class_of(tp)
    return numpy is not None and isinstance(tp, type) and issubclass(tp, numpy.ndarray)


def _is_numpy_value(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray | numpy.generic)


def encode_hook(attachments: list[Blob] | None = None) -> Callable[[Any], Any]:
    """The ``enc_hook`` of msgspec: blobs as links, arrays as nested lists.

    Args:
        attachments: Collects the blobs met, which must then be kept (and
            served) as long as the encoded value is; None for a value whose
            blobs are served already (an input echoed back).
    """

    def encode(value: Any) -> Any:
        if isinstance(value, Blob):
            if attachments is not None:
                attachments.append(value)
            return value.link()
        own = getattr(value, "__labthings_encode__", None)
        if own is not None:
            return own()
        if _is_numpy_value(value):
            return value.tolist()
        if "pydantic" in sys.modules:
            from .pydantic_types import dump_model

            dumped = dump_model(value)
            if dumped is not None:
                return dumped
        # msgspec passes the hook's error on as it is: say it as msgspec would.
        raise TypeError(f"Encoding objects of type {type(value).__qualname__} is unsupported")

    return encode


encode_value = encode_hook()
"""The ``enc_hook`` for a reply: blobs as links (served already), arrays as nested lists."""


def decode_hook(tp: Any, value: Any) -> Any:
    """The ``dec_hook`` of msgspec: a blob from its link, an array from nested lists.

    Raises:
        ValueError: ``value`` does not fit ``tp`` (msgspec adds the path).
        NotImplementedError: ``tp`` is none of these (msgspec says so).
    """
    tp = _class_of(tp)
    if isinstance(tp, type) and issubclass(tp, Blob):
        return tp.from_link(value)
    own = getattr(tp, "__labthings_decode__", None)
    if own is not None:
        return own(value)
    if is_numpy_array_type(tp):
        if isinstance(value, tp):
            return value
        numpy = sys.modules["numpy"]
        try:
            array = numpy.asarray(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Expected an array of numbers as nested lists ({error})") from None
        if array.dtype.kind not in "biuf":
            raise ValueError(
                "Expected an array of numbers as nested lists of equal length, "
                f"got {array.dtype.kind!r}-kind values"
            )
        return array
    raise NotImplementedError(f"cannot decode a {getattr(tp, '__qualname__', tp)}")


def schema_hook(tp: Any) -> dict[str, Any]:
    """The ``schema_hook`` of msgspec: a blob's link, an array as nested lists of numbers.

    Raises:
        NotImplementedError: ``tp`` is none of these (msgspec says so).
    """
    tp = _class_of(tp)
    if isinstance(tp, type) and issubclass(tp, Blob):
        return _blob_schema(tp)
    own = getattr(tp, "__labthings_schema__", None)
    if own is not None:
        schema: dict[str, Any] = own()
        return schema
    if is_numpy_array_type(tp):
        return dict(NESTED_NUMBERS_SCHEMA)
    raise NotImplementedError(f"cannot describe a {getattr(tp, '__qualname__', tp)}")


def _blob_schema(cls: type[Blob]) -> dict[str, Any]:
    """A blob's link as JSON Schema, as LabThings describes it (``const`` fixed to one value)."""
    media_type: dict[str, Any] = {"type": "string", "default": cls.media_type}
    if "*" not in cls.media_type:
        media_type["const"] = cls.media_type
    return {
        "title": cls.__name__,
        "description": f"A file ({cls.media_type}) to download from href",
        "type": "object",
        "properties": {
            "href": {"type": "string", "format": "uri-reference"},
            "media_type": media_type,
            "rel": {"type": "string", "const": "output", "default": "output"},
            "description": {"type": "string", "default": cls.description or BLOB_DESCRIPTION},
        },
        "required": ["href", "media_type"],
    }
