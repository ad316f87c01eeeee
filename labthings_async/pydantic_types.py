"""Types that use pydantic: validated, encoded and described by pydantic itself.

Layer: domain (pydantic, msgspec, the errors). Imported only by ``codec``, and
only once the user's code has imported pydantic: pydantic is an optional
dependency (``pip install labthings-async[pydantic]``). A ``BaseModel``, or a
plain type constrained with ``pydantic.Field(...)`` in ``Annotated`` (as
LabThings-FastAPI code writes ``Annotated[int, Field(ge=0, le=10)]``), gets
pydantic's validation (its lax mode, as LabThings-FastAPI has it), its
serialization and its JSON Schema. A validation failure becomes the same
``InvalidInputError`` msgspec's do, one issue per failing value, each with its
JSON path: ``Input should be less than or equal to 10 - at `$.x```.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import annotated_types
import msgspec
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic.errors import PydanticUserError
from pydantic.fields import FieldInfo

from .declared_types import UnreadMetadataError, annotated_metadata
from .errors import InvalidInputError
from .models import FieldIssue

__all__ = (
    "PydanticCodec",
    "check_pydantic_metadata",
    "dump_model",
    "input_model",
    "invalid_input",
    "is_pydantic_part",
    "json_schema_components",
)

_PYDANTIC_HOMES = ("pydantic", "annotated_types")


def is_pydantic_part(part: Any) -> bool:
    """Whether one part of a type (see ``codec.type_parts``) is pydantic's."""
    if isinstance(part, type):
        return issubclass(part, BaseModel) or is_pydantic_dataclass(part)
    return _from_pydantic(part)


def _from_pydantic(metadata: Any) -> bool:
    """Whether an ``Annotated`` metadata object is one pydantic reads."""
    if isinstance(metadata, FieldInfo | annotated_types.BaseMetadata):
        return True
    home = type(metadata).__module__.partition(".")[0]
    return home in _PYDANTIC_HOMES


def check_pydantic_metadata(tp: Any) -> None:
    """Refuse ``Annotated`` metadata pydantic would ignore (msgspec's among it).

    Raises:
        UnreadMetadataError: The message names the metadata.
    """
    for metadata in annotated_metadata(tp):
        if isinstance(metadata, msgspec.Meta):
            raise UnreadMetadataError(
                f"the annotation's metadata {metadata!r} is msgspec's, in a type pydantic "
                "validates (it uses pydantic), so it would be ignored; write its "
                "constraints as pydantic.Field(...) instead"
            )
        if not _from_pydantic(metadata):
            raise UnreadMetadataError(
                f"the annotation's metadata {metadata!r} (a {type(metadata).__name__}) is "
                "not understood, so it would be ignored; constrain and describe a type "
                "with pydantic.Field(...), or remove it"
            )


class PydanticCodec:
    """pydantic's codec for one type, through a ``TypeAdapter``.

    Raises:
        TypeError: pydantic cannot handle the type (a msgspec Struct inside a
            pydantic model, say).
    """

    __slots__ = ("_adapter", "type")

    def __init__(self, tp: Any) -> None:
        try:
            self._adapter: TypeAdapter[Any] = TypeAdapter(tp)
            self._adapter.json_schema()
        except (PydanticUserError, TypeError, ValueError) as error:
            raise TypeError(_cannot(error)) from None
        self.type = tp

    def decode_json(self, raw: bytes, what: str) -> Any:
        """Validate a JSON body (bytes, or an encoded output: a ``msgspec.Raw``)."""
        try:
            return self._adapter.validate_json(bytes(raw))
        except ValidationError as error:
            raise invalid_input(error, what) from None

    def convert(self, value: Any, what: str) -> Any:
        """Validate a Python value."""
        try:
            return self._adapter.validate_python(value)
        except ValidationError as error:
            raise invalid_input(error, what) from None

    def check(self, value: Any) -> Any:
        """The value, made to fit the type, or ``InvalidInputError``."""
        return self.convert(value, "the value")

    def encode(self, value: Any, attachments: list[Any] | None = None) -> bytes:
        """A value of the type as JSON, serialized by pydantic (it holds no blobs)."""
        return self._adapter.dump_json(value)

    def to_json_value(self, value: Any) -> Any:
        """A value of the type as plain JSON values."""
        return self._adapter.dump_python(value, mode="json")

    def json_schema(self) -> dict[str, Any]:
        """The type's JSON Schema, written by pydantic."""
        return self._adapter.json_schema()


def input_model(
    name: str, fields: Iterable[tuple[str, Any] | tuple[str, Any, Any]], *, extras_allowed: bool
) -> type[BaseModel]:
    """An action's input as a pydantic model: one field per parameter, ``(name, type[, default])``.

    As LabThings-FastAPI builds it; unknown fields are refused unless the
    action takes ``**kwargs``.
    """
    definitions: dict[str, Any] = {
        field[0]: (field[1], field[2] if len(field) == 3 else ...) for field in fields
    }
    config = ConfigDict(extra="allow" if extras_allowed else "forbid", protected_namespaces=())
    try:
        model: type[BaseModel] = create_model(name, __config__=config, **definitions)
    except PydanticUserError as error:
        raise TypeError(_cannot(error)) from None
    return model


def _cannot(error: Exception) -> str:
    first_line = str(error).splitlines()[0]
    return (
        f"pydantic cannot validate it ({first_line}); in a type that uses pydantic, use "
        "pydantic models, dataclasses and plain types throughout"
    )


def invalid_input(error: ValidationError, what: str) -> InvalidInputError:
    """A pydantic failure as an ``InvalidInputError`` about ``what``, worded as msgspec's."""
    problems = error.errors(include_url=False)
    if any(problem["type"] == "json_invalid" for problem in problems):
        reason = problems[0]["msg"]
        return InvalidInputError(f"{what} is not valid JSON: {reason}", malformed=True)
    issues = [FieldIssue(_json_path(problem["loc"]), problem["msg"]) for problem in problems]
    described = "; ".join(
        issue.message if issue.path == "$" else f"{issue.message} - at `{issue.path}`"
        for issue in issues
    )
    return InvalidInputError(f"{what} is invalid: {described}", issues)


def _json_path(location: Iterable[int | str]) -> str:
    """A pydantic ``loc`` as a JSON path: ``('x', 0, 'y')`` is ``$.x[0].y``."""
    path = "$"
    for step in location:
        path += f"[{step}]" if isinstance(step, int) else f".{step}"
    return path


def dump_model(value: Any) -> Any:
    """A pydantic model as plain JSON values, or None if ``value`` is not one."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return None


def json_schema_components(
    types: Iterable[Any], ref_template: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """JSON Schemas of several pydantic types, sharing named components.

    Args:
        types: The types.
        ref_template: Where references point, as msgspec writes it
            (``#/components/schemas/{name}``).

    Returns:
        One schema per type, in order, and the components they refer to.
    """
    adapters = [(index, "validation", TypeAdapter(tp)) for index, tp in enumerate(types)]
    if not adapters:
        return [], {}
    template = ref_template.replace("{name}", "{model}")  # pydantic's placeholder
    schemas, top = TypeAdapter.json_schemas(adapters, ref_template=template)  # type: ignore[arg-type]
    ordered = [schemas[(index, "validation")] for index, _mode, _adapter in adapters]
    return ordered, dict(top.get("$defs", {}))
