"""Checking values against TD DataSchemas, as the client does before sending."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import msgspec
import pytest

from labthings_async.client._schema_check import json_type_name, validate
from labthings_async.errors import InvalidInputError
from labthings_async.schema import data_schema
from labthings_async.validation import decode_json


def issues(value: Any, schema: Any) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in validate(value, schema)]


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        pytest.param(3, {"type": "integer"}, [], id="integer"),
        pytest.param(
            3.0,
            {"type": "integer"},
            [("$", "Expected `int`, got `float`")],
            id="float-is-not-integer",
        ),
        pytest.param(
            True,
            {"type": "integer"},
            [("$", "Expected `int`, got `bool`")],
            id="bool-is-not-integer",
        ),
        pytest.param(3, {"type": "number"}, [], id="integer-is-a-number"),
        pytest.param(
            False,
            {"type": "number"},
            [("$", "Expected `float`, got `bool`")],
            id="bool-is-not-number",
        ),
        pytest.param("x", {"type": "string"}, [], id="string"),
        pytest.param(
            None, {"type": "string"}, [("$", "Expected `str`, got `null`")], id="null-is-not-string"
        ),
        pytest.param(None, {"type": "null"}, [], id="null"),
        pytest.param(
            [1],
            {"type": "object"},
            [("$", "Expected `object`, got `array`")],
            id="array-is-not-object",
        ),
        pytest.param((1, 2), {"type": "array"}, [], id="tuple-is-an-array"),
        pytest.param(
            "ab",
            {"type": "array"},
            [("$", "Expected `array`, got `str`")],
            id="string-is-not-array",
        ),
        pytest.param(
            1,
            {"type": ["string", "null"]},
            [("$", "Expected `str | null`, got `int`")],
            id="type-list",
        ),
        pytest.param(
            "b",
            {"enum": ["a", "c"]},
            [("$", "Invalid enum value 'b' (expected one of 'a', 'c')")],
            id="enum",
        ),
        pytest.param(
            1,
            {"enum": [True]},
            [("$", "Invalid enum value 1 (expected one of True)")],
            id="enum-one-is-not-true",
        ),
        pytest.param(2.0, {"enum": [2]}, [], id="enum-numbers-compare-by-value"),
        pytest.param(
            "x", {"const": "y"}, [("$", "Invalid enum value 'x' (expected one of 'y')")], id="const"
        ),
        pytest.param(
            -1, {"type": "integer", "minimum": 0}, [("$", "Expected `int` >= 0")], id="minimum"
        ),
        pytest.param(
            0,
            {"type": "number", "exclusiveMinimum": 0},
            [("$", "Expected `float` > 0.0")],
            id="exclusive-minimum",
        ),
        pytest.param(
            11, {"type": "number", "maximum": 10}, [("$", "Expected `float` <= 10.0")], id="maximum"
        ),
        pytest.param(
            10,
            {"type": "integer", "exclusiveMaximum": 10},
            [("$", "Expected `int` < 10")],
            id="exclusive-maximum",
        ),
        pytest.param(
            7,
            {"type": "integer", "multipleOf": 3},
            [("$", "Expected `int` that's a multiple of 3")],
            id="multiple-of",
        ),
        pytest.param(0.3, {"type": "number", "multipleOf": 0.1}, [], id="float-multiple-of"),
        pytest.param(
            "ab",
            {"type": "string", "minLength": 3},
            [("$", "Expected `str` of length >= 3")],
            id="min-length",
        ),
        pytest.param(
            "abcd",
            {"type": "string", "maxLength": 3},
            [("$", "Expected `str` of length <= 3")],
            id="max-length",
        ),
        pytest.param(
            "bcd",
            {"type": "string", "pattern": "^a"},
            [("$", "Expected `str` matching regex '^a'")],
            id="pattern",
        ),
        pytest.param("xa", {"type": "string", "pattern": "a"}, [], id="pattern-is-a-search"),
        pytest.param(
            [],
            {"type": "array", "minItems": 1},
            [("$", "Expected `array` of length >= 1")],
            id="min-items",
        ),
        pytest.param(
            [1, 2],
            {"type": "array", "maxItems": 1},
            [("$", "Expected `array` of length <= 1")],
            id="max-items",
        ),
        pytest.param(
            [1],
            {"type": "array", "minItems": 2, "maxItems": 2},
            [("$", "Expected `array` of length 2")],
            id="fixed-length",
        ),
        pytest.param(
            [1, "x", 3],
            {"type": "array", "items": {"type": "integer"}},
            [("$[1]", "Expected `int`, got `str`")],
            id="items",
        ),
        pytest.param(
            [1, 2],
            {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]},
            [("$[1]", "Expected `str`, got `int`")],
            id="tuple-items",
        ),
        pytest.param(
            {},
            {"type": "object", "required": ["x"]},
            [("$", "Object missing required field `x`")],
            id="required",
        ),
        pytest.param(
            {"y": 1},
            {"type": "object", "properties": {}, "additionalProperties": False},
            [("$", "Object contains unknown field `y`")],
            id="no-additional-properties",
        ),
        pytest.param(
            {"k": "v"},
            {"type": "object", "additionalProperties": {"type": "integer"}},
            [("$.k", "Expected `int`, got `str`")],
            id="additional-properties-schema",
        ),
        pytest.param(
            {"a b": 1},
            {"type": "object", "additionalProperties": {"type": "string"}},
            [("$['a b']", "Expected `str`, got `int`")],
            id="key-not-an-identifier",
        ),
        pytest.param(
            {"a": {"b": [0, -1]}},
            {"properties": {"a": {"properties": {"b": {"items": {"minimum": 0}}}}}},
            [("$.a.b[1]", "Expected `int` >= 0")],
            id="nested-path",
        ),
        pytest.param(
            None,
            {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
            [],
            id="nullable-null",
        ),
        pytest.param(
            -1,
            {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
            [("$", "Expected `int` >= 0")],
            id="nullable-constraint",
        ),
        pytest.param(
            "x",
            {"oneOf": [{"type": "integer"}, {"type": "null"}]},
            [("$", "Expected `int | null`, got `str`")],
            id="nullable-wrong-type",
        ),
        pytest.param(
            1,
            {"oneOf": [{"type": "integer"}, {"type": "number"}]},
            [("$", "Expected a value matching exactly one of the `oneOf` schemas, it matches 2")],
            id="one-of-matches-two",
        ),
        pytest.param(
            1, {"anyOf": [{"type": "integer"}, {"type": "number"}]}, [], id="any-of-matches-two"
        ),
        pytest.param(
            5,
            {"allOf": [{"minimum": 0}, {"maximum": 3}]},
            [("$", "Expected `int` <= 3")],
            id="all-of",
        ),
        pytest.param(
            5,
            {"not": {"type": "integer"}},
            [("$", "Expected a value not matching the `not` schema")],
            id="not",
        ),
        pytest.param(
            {"p": -2},
            {
                "$defs": {"P": {"type": "integer", "minimum": 0}},
                "properties": {"p": {"$ref": "#/$defs/P"}},
            },
            [("$.p", "Expected `int` >= 0")],
            id="ref",
        ),
        pytest.param("anything", {}, [], id="empty-schema"),
        pytest.param("anything", None, [], id="no-schema"),
        pytest.param(1, False, [("$", "Expected no value here")], id="false-schema"),
        pytest.param(
            1,
            {"type": "integer", "unknownKeyword": 3, "forms": []},
            [],
            id="unknown-keywords-ignored",
        ),
    ],
)
def test_validate(value: Any, schema: Any, expected: list[tuple[str, str]]) -> None:
    assert issues(value, schema) == expected


def test_every_issue_is_reported_not_only_the_first() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string", "minLength": 2}},
        "required": ["a", "c"],
        "additionalProperties": False,
    }
    assert issues({"b": "x", "d": 1}, schema) == [
        ("$", "Object missing required field `a`"),
        ("$", "Object missing required field `c`"),
        ("$.b", "Expected `str` of length >= 2"),
        ("$", "Object contains unknown field `d`"),
    ]


def test_the_path_of_the_value_can_be_given() -> None:
    assert [issue.path for issue in validate("x", {"type": "integer"}, path="$.speed")] == [
        "$.speed"
    ]


def test_json_type_names_are_msgspecs() -> None:
    values: list[Any] = [True, 1, 1.5, "s", None, [], {}]
    names = [json_type_name(value) for value in values]
    assert names == ["bool", "int", "float", "str", "null", "array", "object"]


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(msgspec.Struct):
    x: Annotated[float, msgspec.Meta(ge=-10, le=10)]
    y: float = 0.0
    label: Annotated[str, msgspec.Meta(max_length=4)] | None = None


class Square(msgspec.Struct, tag=True):
    side: int


class Circle(msgspec.Struct, tag=True):
    radius: float


TYPES_AND_VALUES: list[tuple[Any, list[Any]]] = [
    (int, [1, -3, 1.0, True, "1", None]),
    (float, [1, 1.5, "1.5", False]),
    (int | None, [None, 2, "x", 2.5]),
    (int | float, [1, 1.5, "1"]),
    (Annotated[int, msgspec.Meta(ge=0, lt=10, multiple_of=2)], [0, 4, 5, 10, -2]),
    (Annotated[str, msgspec.Meta(min_length=2, pattern="^[a-z]+$")], ["ab", "a", "AB", "abc1"]),
    (Literal["a", "b"], ["a", "c", 1]),
    (Colour, ["red", "blue", 1]),
    (list[int], [[], [1, 2], [1, "2"], "12", {"a": 1}]),
    (tuple[int, str], [[1, "a"], [1], [1, 2], [1, "a", 3]]),
    (dict[str, int], [{}, {"a": 1}, {"a": "b"}, []]),
    (
        Point,
        [
            {"x": 1},
            {"x": 11},
            {"y": 1},
            {"x": 1, "z": 2},
            {"x": 1, "label": "toolong"},
            {"x": 1, "label": None},
        ],
    ),
    (list[Point], [[{"x": 1}], [{"x": 1}, {"x": "a"}]]),
    (
        Square | Circle,
        [
            {"type": "Square", "side": 2},
            {"type": "Circle", "radius": 1.5},
            {"type": "Circle", "side": 2},
            {"type": "Hexagon"},
        ],
    ),
]


@pytest.mark.parametrize(
    ("tp", "value"),
    [
        pytest.param(tp, value, id=f"{tp}-{value!r}")
        for tp, values in TYPES_AND_VALUES
        for value in values
    ],
)
def test_agrees_with_the_servers_decoder(tp: Any, value: Any) -> None:
    """A value passes the TD check exactly when the server's msgspec would accept it."""
    schema = data_schema(tp)
    try:
        msgspec.convert(value, tp, strict=True)
        server_accepts = True
    except msgspec.ValidationError:
        server_accepts = False
    assert (not validate(value, schema)) == server_accepts, issues(value, schema)


@pytest.mark.parametrize(
    ("tp", "value"),
    [
        (int, "1"),
        (Annotated[int, msgspec.Meta(ge=0)], -1),
        (Annotated[str, msgspec.Meta(min_length=3)], "ab"),
        (list[int], [1, "x"]),
        (int | None, "x"),
        (Literal["a", "b"], "z"),
        (list[Colour], ["red", "mauve"]),
        (Point, {"x": 11}),
    ],
)
def test_messages_match_the_servers(tp: Any, value: Any) -> None:
    with pytest.raises(InvalidInputError) as server:
        decode_json(msgspec.json.encode(value), tp, "the value")
    (issue,) = validate(value, data_schema(tp))
    (server_issue,) = server.value.issues
    assert (issue.path, issue.message) == (server_issue.path, server_issue.message)
