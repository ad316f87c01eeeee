"""Tests for labthings_async.schema: Python types as TD 1.1 DataSchemas."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import importlib.resources
import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NamedTuple, Optional, TypedDict

import jsonschema
import msgspec
import pytest

from labthings_async import schema as schema_module
from labthings_async.schema import SchemaError, data_schema, json_schema_components

# --- sample types -----------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Gain(enum.IntEnum):
    LOW = 1
    HIGH = 4


class Point(msgspec.Struct):
    """A point on the stage.

    Coordinates are in millimetres.
    """

    x: float
    y: float = 0.0


POINT_SCHEMA: dict[str, Any] = {
    "title": "Point",
    "description": "A point on the stage.\n\nCoordinates are in millimetres.",
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
    "required": ["x"],
}


class Segment(msgspec.Struct):
    start: Point
    end: Point
    via: Point | None = None


@dataclasses.dataclass
class Exposure:
    seconds: float
    label: str = "default"


class Settings(TypedDict):
    gain: int


class Pair(NamedTuple):
    steps: int
    name: str = "n"


class Move(msgspec.Struct, tag=True):
    distance: float


class Home(msgspec.Struct, tag=True):
    pass


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    value: int


class Defaults(msgspec.Struct):
    colour: Colour = Colour.RED
    samples: list[int] = msgspec.field(default_factory=list)


class Node(msgspec.Struct):
    children: list[Node]


class Parent(msgspec.Struct):
    child: Child


class Child(msgspec.Struct):
    parent: Parent | None = None


class Holder(msgspec.Struct):
    tree: Node


SAMPLE_TYPES: list[Any] = [
    int,
    float,
    str,
    bool,
    None,
    bytes,
    Any,
    datetime.datetime,
    Annotated[datetime.datetime, msgspec.Meta(tz=True)],
    datetime.date,
    uuid.UUID,
    int | None,
    int | str | None,
    int | float,
    Colour,
    Gain,
    Literal["a", "b"],
    Literal["a", None],
    Point,
    Segment,
    Segment | None,
    Exposure,
    Settings,
    Pair,
    Move | Home,
    Move | Home | int | None,
    Strict,
    Defaults,
    dict[str, int],
    dict[str, Point],
    dict[str, Any],
    list[int],
    list[Point | None],
    set[str],
    tuple[int, str],
    tuple[int, ...],
    tuple[()],
    Annotated[int, msgspec.Meta(ge=0, le=10, description="Gain step")],
    Annotated[float, msgspec.Meta(gt=0, lt=1, multiple_of=0.25)],
    Annotated[str, msgspec.Meta(min_length=1, max_length=8, pattern="^[a-z]+$")],
    Annotated[list[int], msgspec.Meta(min_length=1, max_length=3)],
    Annotated[Point, msgspec.Meta(description="Where to go")],
    Annotated[float, msgspec.Meta(extra_json_schema={"unit": "mm"})],
]

# --- helpers ----------------------------------------------------------------

JSON_SCHEMA_ONLY_KEYWORDS = {"$ref", "$defs", "anyOf", "prefixItems", "discriminator"}


def walk(value: Any) -> Iterator[Any]:
    """Yield every dict, list and scalar nested in ``value``."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def thing_description(schema: dict[str, Any]) -> dict[str, Any]:
    """A minimal valid TD carrying ``schema`` as a property and as action input/output."""
    return {
        "@context": [
            "https://www.w3.org/2019/wot/td/v1",
            "https://www.w3.org/2022/wot/td/v1.1",
        ],
        "title": "Sample",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {"value": {**schema, "forms": [{"href": "/sample/value"}]}},
        "actions": {"act": {"input": schema, "output": schema, "forms": [{"href": "/sample/act"}]}},
    }


@pytest.fixture(scope="module")
def td_validator() -> Any:
    resource = (
        importlib.resources.files("labthings_fastapi")
        / "thing_description"
        / "td-json-schema-validation.json"
    )
    td_schema = json.loads(resource.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(td_schema)
    validator_class.check_schema(td_schema)
    return validator_class(td_schema)


# --- scalars ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (str, {"type": "string"}),
        (bool, {"type": "boolean"}),
        (bytes, {"type": "string", "contentEncoding": "base64"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (datetime.date, {"type": "string", "format": "date"}),
        (datetime.timedelta, {"type": "string", "format": "duration"}),
    ],
)
def test_scalar_types_map_to_td_types(tp: Any, expected: dict[str, Any]) -> None:
    assert data_schema(tp) == expected


def test_none_return_type_is_null_schema() -> None:
    assert data_schema(None) == {"type": "null"}
    assert data_schema(type(None)) == {"type": "null"}


def test_any_is_empty_schema() -> None:
    assert data_schema(Any) == {}


def test_tz_aware_datetime_is_date_time_string() -> None:
    utc_datetime = Annotated[datetime.datetime, msgspec.Meta(tz=True)]
    assert data_schema(utc_datetime) == {"type": "string", "format": "date-time"}


def test_naive_datetime_has_no_date_time_format() -> None:
    # msgspec encodes a naive datetime without an offset, which is not an
    # RFC 3339 date-time, so only tz=True datetimes claim the format.
    assert data_schema(datetime.datetime) == {"type": "string"}


# --- unions -----------------------------------------------------------------


def test_optional_becomes_one_of_with_null() -> None:
    expected = {"oneOf": [{"type": "integer"}, {"type": "null"}]}
    assert data_schema(int | None) == expected
    assert data_schema(Optional[int]) == expected  # noqa: UP045 - the spelling many users write


def test_union_becomes_one_of() -> None:
    assert data_schema(int | str | None) == {
        "oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]
    }


def test_int_or_float_collapses_to_number() -> None:
    # oneOf [integer, number] would reject 3, which matches both options.
    assert data_schema(int | float) == {"type": "number"}
    assert data_schema(int | float | None) == {"oneOf": [{"type": "number"}, {"type": "null"}]}


def test_int_or_float_keeps_use_site_description() -> None:
    described = Annotated[int | float, msgspec.Meta(description="Position")]
    assert data_schema(described) == {"description": "Position", "type": "number"}


def test_tagged_union_drops_discriminator() -> None:
    assert data_schema(Move | Home) == {
        "oneOf": [
            {
                "title": "Move",
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": ["Move"]},
                    "distance": {"type": "number"},
                },
                "required": ["type", "distance"],
            },
            {
                "title": "Home",
                "type": "object",
                "properties": {"type": {"type": "string", "enum": ["Home"]}},
                "required": ["type"],
            },
        ]
    }


def test_tagged_union_inside_wider_union_is_flattened() -> None:
    options = data_schema(Move | Home | int | None)["oneOf"]
    assert [option.get("title", option.get("type")) for option in options] == [
        "integer",
        "Move",
        "Home",
        "null",
    ]


# --- enums ------------------------------------------------------------------


def test_str_enum_is_inlined_with_type() -> None:
    assert data_schema(Colour) == {
        "title": "Colour",
        "type": "string",
        "enum": ["green", "red"],
    }


def test_int_enum_is_inlined_with_type() -> None:
    assert data_schema(Gain) == {"title": "Gain", "type": "integer", "enum": [1, 4]}


def test_literals_become_typed_enums() -> None:
    assert data_schema(Literal["a", "b"]) == {"type": "string", "enum": ["a", "b"]}
    assert data_schema(Literal[1, 2]) == {"type": "integer", "enum": [1, 2]}


def test_mixed_literal_has_no_type() -> None:
    assert data_schema(Literal["a", None]) == {"enum": [None, "a"]}


def test_enum_field_keeps_its_default() -> None:
    assert data_schema(Defaults) == {
        "title": "Defaults",
        "type": "object",
        "properties": {
            "colour": {
                "title": "Colour",
                "type": "string",
                "enum": ["green", "red"],
                "default": "red",
            },
            "samples": {"type": "array", "items": {"type": "integer"}, "default": []},
        },
    }


# --- constraints ------------------------------------------------------------


def test_annotated_integer_constraints_and_description() -> None:
    step = Annotated[int, msgspec.Meta(ge=0, le=10, title="Step", description="Gain step")]
    assert data_schema(step) == {
        "title": "Step",
        "description": "Gain step",
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
    }


def test_exclusive_bounds_and_multiple_of() -> None:
    fraction = Annotated[float, msgspec.Meta(gt=0, lt=1, multiple_of=0.25)]
    assert data_schema(fraction) == {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 1,
        "multipleOf": 0.25,
    }


def test_string_constraints() -> None:
    name = Annotated[str, msgspec.Meta(min_length=1, max_length=8, pattern="^[a-z]+$")]
    assert data_schema(name) == {
        "type": "string",
        "maxLength": 8,
        "minLength": 1,
        "pattern": "^[a-z]+$",
    }


def test_array_constraints() -> None:
    short = Annotated[list[int], msgspec.Meta(min_length=1, max_length=3)]
    assert data_schema(short) == {
        "type": "array",
        "items": {"type": "integer"},
        "maxItems": 3,
        "minItems": 1,
    }
    assert data_schema(set[str]) == {
        "type": "array",
        "items": {"type": "string"},
        "uniqueItems": True,
    }


def test_extra_json_schema_passes_through() -> None:
    length = Annotated[float, msgspec.Meta(extra_json_schema={"unit": "mm"})]
    assert data_schema(length) == {"unit": "mm", "type": "number"}


# --- objects ----------------------------------------------------------------


def test_struct_is_inlined_with_clean_docstring() -> None:
    schema = data_schema(Point)
    assert schema == POINT_SCHEMA
    assert list(schema) == ["title", "description", "type", "properties", "required"]


def test_nested_struct_referenced_twice_is_inlined_both_times() -> None:
    schema = data_schema(Segment)
    assert schema == {
        "title": "Segment",
        "type": "object",
        "properties": {
            "start": POINT_SCHEMA,
            "end": POINT_SCHEMA,
            "via": {"oneOf": [POINT_SCHEMA, {"type": "null"}], "default": None},
        },
        "required": ["start", "end"],
    }
    # Each inlined copy is its own object: editing one must not edit the other.
    assert schema["properties"]["start"] is not schema["properties"]["end"]
    assert schema["properties"]["start"]["required"] is not schema["properties"]["end"]["required"]


def test_use_site_description_overrides_docstring() -> None:
    target = Annotated[Point, msgspec.Meta(description="Where to go")]
    assert data_schema(target) == {**POINT_SCHEMA, "description": "Where to go"}


def test_dataclass_is_an_object() -> None:
    assert data_schema(Exposure) == {
        "title": "Exposure",
        "type": "object",
        "properties": {
            "seconds": {"type": "number"},
            "label": {"type": "string", "default": "default"},
        },
        "required": ["seconds"],
    }


def test_typed_dict_is_an_object() -> None:
    assert data_schema(Settings) == {
        "title": "Settings",
        "type": "object",
        "properties": {"gain": {"type": "integer"}},
        "required": ["gain"],
    }


def test_forbidden_unknown_fields_keep_additional_properties_false() -> None:
    assert data_schema(Strict) == {
        "title": "Strict",
        "type": "object",
        "properties": {"value": {"type": "integer"}},
        "required": ["value"],
        "additionalProperties": False,
    }


def test_dict_values_become_additional_properties() -> None:
    assert data_schema(dict[str, int]) == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert data_schema(dict[str, Point]) == {
        "type": "object",
        "additionalProperties": POINT_SCHEMA,
    }
    assert data_schema(dict[str, Any]) == {"type": "object"}


def test_list_items_are_inlined() -> None:
    assert data_schema(list[Point | None]) == {
        "type": "array",
        "items": {"oneOf": [POINT_SCHEMA, {"type": "null"}]},
    }


# --- tuples -----------------------------------------------------------------


def test_tuple_becomes_items_array() -> None:
    assert data_schema(tuple[int, str]) == {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": [{"type": "integer"}, {"type": "string"}],
    }


def test_variadic_and_empty_tuples() -> None:
    assert data_schema(tuple[int, ...]) == {"type": "array", "items": {"type": "integer"}}
    assert data_schema(tuple[()]) == {"type": "array", "minItems": 0, "maxItems": 0}


def test_named_tuple_becomes_items_array() -> None:
    assert data_schema(Pair) == {
        "title": "Pair",
        "type": "array",
        "items": [{"type": "integer"}, {"type": "string", "default": "n"}],
        "minItems": 1,
        "maxItems": 2,
    }


# --- recursion and errors ---------------------------------------------------


def test_direct_recursion_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match=r"`Node` is recursive \(Node -> Node\)") as info:
        data_schema(Node)
    assert "recursive types cannot be described in a Thing Description" in str(info.value)


def test_indirect_recursion_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match=r"`Parent` is recursive \(Parent -> Child -> Parent\)"):
        data_schema(Parent)
    with pytest.raises(SchemaError, match=r"`Child` is recursive \(Child -> Parent -> Child\)"):
        data_schema(Child)


def test_recursion_below_the_top_names_the_recursive_type() -> None:
    with pytest.raises(SchemaError, match=r"`Node` is recursive \(Node -> Node\)") as info:
        data_schema(Holder)
    assert "Holder" in str(info.value)


def test_schema_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        data_schema(list[Node])


def test_unsupported_type_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match=r"Cannot describe `msgspec\.UnsetType`"):
        data_schema(msgspec.UnsetType)


# --- output shape -----------------------------------------------------------


@pytest.mark.parametrize("tp", SAMPLE_TYPES, ids=repr)
def test_schema_has_no_json_schema_only_keywords(tp: Any) -> None:
    for value in walk(data_schema(tp)):
        if isinstance(value, dict):
            assert not JSON_SCHEMA_ONLY_KEYWORDS & value.keys()
            assert value.get("items") is not False


@pytest.mark.parametrize("tp", SAMPLE_TYPES, ids=repr)
def test_schema_is_plain_deterministic_json(tp: Any) -> None:
    schema = data_schema(tp)
    for value in walk(schema):
        assert value is None or type(value) in (dict, list, str, int, float, bool)
    assert json.dumps(schema) == json.dumps(data_schema(tp))


@pytest.mark.parametrize("tp", SAMPLE_TYPES, ids=repr)
def test_schema_validates_in_thing_description(tp: Any, td_validator: Any) -> None:
    td_validator.validate(thing_description(data_schema(tp)))


def test_td_validator_rejects_raw_msgspec_tuple_schema(td_validator: Any) -> None:
    # Guards the test above: the raw JSON Schema for a tuple has `items: false`.
    raw = msgspec.json.schema(tuple[int, str])
    assert not td_validator.is_valid(thing_description(raw))
    assert not td_validator.is_valid(thing_description({"type": ["integer", "null"]}))


def test_module_exports_its_public_names() -> None:
    assert schema_module.__all__ == ("SchemaError", "data_schema", "json_schema_components")
    for name in schema_module.__all__:
        assert hasattr(schema_module, name)


# --- JSON Schema components -------------------------------------------------


def test_json_schema_components_use_openapi_refs() -> None:
    schemas, components = json_schema_components([Segment, int])
    assert schemas == [{"$ref": "#/components/schemas/Segment"}, {"type": "integer"}]
    assert set(components) == {"Segment", "Point"}
    assert components["Segment"]["properties"]["start"] == {"$ref": "#/components/schemas/Point"}


def test_json_schema_components_allow_recursion() -> None:
    schemas, components = json_schema_components(iter([Node]))
    assert schemas == [{"$ref": "#/components/schemas/Node"}]
    assert components["Node"]["properties"]["children"]["items"] == {
        "$ref": "#/components/schemas/Node"
    }


def test_json_schema_components_wrap_unsupported_types() -> None:
    with pytest.raises(SchemaError, match=r"msgspec\.UnsetType"):
        json_schema_components([int, msgspec.UnsetType])
