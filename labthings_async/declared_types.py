"""Reading a declared type: its annotations resolved, every type inside it, its metadata.

Layer: domain (stdlib, msgspec, the errors). A type written in a Thing's
declarations may hold others (``list[Position]``, a struct's fields, a
pydantic model's) and ``Annotated`` metadata at any depth; ``codec`` reads
them to pick who validates the type and to refuse metadata nothing would read.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from typing import Any

import msgspec

from .errors import ActionDefinitionError

__all__ = ("UnreadMetadataError", "annotated_metadata", "resolved_hints", "type_parts")


def resolved_hints(function: Any, where: str) -> dict[str, Any]:
    """The annotations of a method, resolved, ``Annotated`` metadata kept.

    Raises:
        ActionDefinitionError: An annotation names what cannot be found,
            the message naming ``where``.
    """
    try:
        return typing.get_type_hints(function, include_extras=True)
    except NameError as error:
        raise ActionDefinitionError(f"{where}: cannot resolve an annotation ({error})") from None


class UnreadMetadataError(TypeError):
    """``Annotated`` metadata that nothing would read (raised by ``codec_for``)."""


def type_parts(tp: Any) -> Iterator[Any]:
    """Every type inside ``tp``, and every ``Annotated`` metadata object, ``tp`` first.

    Goes into generic arguments and into the fields of structs, dataclasses,
    TypedDicts and pydantic models; each class once.
    """
    seen: set[int] = set()
    pending = [tp]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        origin = typing.get_origin(current)
        if origin is typing.Annotated:
            pending.append(typing.get_args(current)[0])
            pending.extend(current.__metadata__)
        elif origin is typing.Literal:
            continue
        elif origin is not None:
            pending.extend(arg for arg in typing.get_args(current) if arg is not Ellipsis)
        elif isinstance(current, type):
            pending.extend(_field_types(current))


def annotated_metadata(tp: Any) -> Iterator[Any]:
    """Every ``Annotated`` metadata object inside ``tp``."""
    for part in type_parts(tp):
        if typing.get_origin(part) is typing.Annotated:
            yield from part.__metadata__


def _field_types(cls: type) -> list[Any]:
    """The annotated field types of a struct, dataclass, TypedDict or pydantic model."""
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict):  # A pydantic model: its fields keep their metadata apart.
        found: list[Any] = []
        for field in fields.values():
            found.append(field.annotation)
            found.extend(field.metadata)
        return found
    is_record = (
        issubclass(cls, msgspec.Struct) or dataclasses.is_dataclass(cls) or typing.is_typeddict(cls)
    )
    if not is_record:
        return []
    try:
        return list(typing.get_type_hints(cls, include_extras=True).values())
    except (NameError, TypeError):
        return []  # msgspec reports what it cannot resolve, when it reads the class.
