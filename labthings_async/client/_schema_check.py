"""Checking values against a Thing Description DataSchema, before they are sent.

Layer: bottom (stdlib and errors only). A client validates action arguments
and property values locally, so a mistake is reported at once, with the JSON
path of the failing value, and never reaches the instrument. The checks are
the DataSchema vocabulary of W3C TD 1.1 (a JSON Schema subset) plus the few
JSON Schema keywords other servers put in TDs (``anyOf``, ``allOf``, ``not``,
``$ref`` into ``$defs``). Messages are worded as msgspec words the server's
own errors (``Expected `int`, got `str```), so a user sees one vocabulary.

Deliberately as strict as a msgspec server: ``3.0`` is not an ``integer`` and
``true`` is not a number, although JSON Schema would allow the first.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..models import FieldIssue

__all__ = ("json_type_name", "validate")

_TYPE_NAMES = {
    "integer": "int",
    "number": "float",
    "string": "str",
    "boolean": "bool",
    "null": "null",
    "array": "array",
    "object": "object",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate(value: Any, schema: Any, *, path: str = "$") -> list[FieldIssue]:
    """Every way in which ``value`` breaks ``schema``.

    Args:
        value: Plain JSON-like data (dicts, lists, str, int, float, bool, None).
        schema: A DataSchema (a dict); ``None`` or ``{}`` accepts anything.
        path: The JSON path of ``value`` itself, for the messages.

    Returns:
        The issues, each with the JSON path of the failing value; empty when
        ``value`` is valid.
    """
    if schema is None:
        return []
    return list(_Checker(schema).check(value, schema, path))


def json_type_name(value: Any) -> str:
    """The name msgspec gives the JSON type of ``value`` (``int``, ``str``, ``object``...)."""
    # bool first: it is a subclass of int.
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "null"
    if isinstance(value, Sequence):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _is_type(value: Any, json_type: str) -> bool:
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "null":
        return value is None
    if json_type == "array":
        return isinstance(value, Sequence) and not isinstance(value, str | bytes)
    if json_type == "object":
        return isinstance(value, Mapping)
    return True  # An unknown type name constrains nothing.


def _json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON sees it: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if _is_type(left, "array") and _is_type(right, "array"):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    if _is_type(left, "number") and _is_type(right, "number"):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{key!r}]"


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [name for name in declared if isinstance(name, str)]
    return []


def _expected(types: Sequence[str]) -> str:
    return " | ".join(_TYPE_NAMES.get(name, name) for name in types)


class _Checker:
    """Walks a value and its schema together; ``root`` resolves ``$ref``."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def check(self, value: Any, schema: Any, path: str) -> Iterator[FieldIssue]:
        if schema is True or schema is None:
            return
        if schema is False:
            yield FieldIssue(path, "Expected no value here")
            return
        if not isinstance(schema, Mapping):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield from self.check(value, self._resolve(ref), path)
        types = _types(schema)
        if types and not any(_is_type(value, name) for name in types):
            yield FieldIssue(path, f"Expected `{_expected(types)}`, got `{json_type_name(value)}`")
            return
        if "const" in schema and not _json_equal(value, schema["const"]):
            yield FieldIssue(path, _invalid_choice(value, [schema["const"]]))
        enum = schema.get("enum")
        if isinstance(enum, list) and not any(_json_equal(value, option) for option in enum):
            yield FieldIssue(path, _invalid_choice(value, enum))
        if _is_type(value, "number"):
            yield from self._number(value, schema, path)
        elif isinstance(value, str):
            yield from self._string(value, schema, path)
        elif _is_type(value, "array"):
            yield from self._array(value, schema, path)
        elif isinstance(value, Mapping):
            yield from self._object(value, schema, path)
        yield from self._combinations(value, schema, path)

    def _resolve(self, ref: str) -> Any:
        target: Any = self.root
        if not ref.startswith("#"):
            return True  # A remote reference cannot be checked here; the server will.
        for part in ref.removeprefix("#").split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return True
            target = target[part]
        return target

    def _number(self, value: float, schema: Mapping[str, Any], path: str) -> Iterator[FieldIssue]:
        name = "float" if "number" in _types(schema) else json_type_name(value)

        def bound(limit: float) -> str:
            return repr(float(limit)) if name == "float" else repr(limit)

        # (keyword, how a value breaks it, what the message says is expected)
        for keyword, broken, symbol in (
            ("minimum", operator.lt, ">="),
            ("exclusiveMinimum", operator.le, ">"),
            ("maximum", operator.gt, "<="),
            ("exclusiveMaximum", operator.ge, "<"),
        ):
            limit: Any = schema.get(keyword)
            if _is_type(limit, "number") and broken(value, limit):
                yield FieldIssue(path, f"Expected `{name}` {symbol} {bound(limit)}")
        step: Any = schema.get("multipleOf")
        if _is_type(step, "number") and step > 0 and not _is_multiple(value, step):
            yield FieldIssue(path, f"Expected `{name}` that's a multiple of {step!r}")

    @staticmethod
    def _string(value: str, schema: Mapping[str, Any], path: str) -> Iterator[FieldIssue]:
        yield from _length_issues("str", len(value), schema, "Length", path)
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True  # A pattern Python cannot read is left to the server.
            if not matched:
                yield FieldIssue(path, f"Expected `str` matching regex {pattern!r}")

    def _array(
        self, value: Sequence[Any], schema: Mapping[str, Any], path: str
    ) -> Iterator[FieldIssue]:
        yield from _length_issues("array", len(value), schema, "Items", path)
        items = schema.get("items")
        if isinstance(items, list):
            # The TD's tuple form: one schema per position.
            for index, (item, item_schema) in enumerate(zip(value, items, strict=False)):
                yield from self.check(item, item_schema, f"{path}[{index}]")
        elif items is not None:
            for index, item in enumerate(value):
                yield from self.check(item, items, f"{path}[{index}]")

    def _object(
        self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str
    ) -> Iterator[FieldIssue]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        for name in required if isinstance(required, list) else ():
            if name not in value:
                yield FieldIssue(path, f"Object missing required field `{name}`")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                yield from self.check(item, properties[key], _child(path, str(key)))
            elif extra is False:
                yield FieldIssue(path, f"Object contains unknown field `{key}`")
            else:
                yield from self.check(item, extra, _child(path, str(key)))
        yield from _length_issues("object", len(value), schema, "Properties", path)

    def _combinations(
        self, value: Any, schema: Mapping[str, Any], path: str
    ) -> Iterator[FieldIssue]:
        for sub in schema.get("allOf") or ():
            yield from self.check(value, sub, path)
        for keyword in ("oneOf", "anyOf"):
            options = schema.get(keyword)
            if isinstance(options, list) and options:
                yield from self._options(value, options, path, exactly_one=keyword == "oneOf")
        forbidden = schema.get("not")
        if forbidden is not None and not list(self.check(value, forbidden, path)):
            yield FieldIssue(path, "Expected a value not matching the `not` schema")

    def _options(
        self, value: Any, options: list[Any], path: str, *, exactly_one: bool
    ) -> Iterator[FieldIssue]:
        outcomes = [list(self.check(value, option, path)) for option in options]
        matched = sum(1 for issues in outcomes if not issues)
        if matched == 1 or (matched > 1 and not exactly_one):
            return
        if matched > 1:
            yield FieldIssue(
                path,
                f"Expected a value matching exactly one of the `oneOf` schemas, "
                f"it matches {matched}",
            )
            return
        # Nothing matched. The options of the value's own type say what is
        # wrong with it (``Optional[int]`` given -1, say); if there are none,
        # the value's type is the problem.
        compatible = [
            issues
            for option, issues in zip(options, outcomes, strict=True)
            if not isinstance(option, Mapping)
            or not _types(option)
            or any(_is_type(value, name) for name in _types(option))
        ]
        if compatible:
            yield from min(compatible, key=len)
            return
        expected = _expected([name for option in options for name in _types(option)])
        yield FieldIssue(path, f"Expected `{expected}`, got `{json_type_name(value)}`")


def _length_issues(
    name: str, length: int, schema: Mapping[str, Any], noun: str, path: str
) -> Iterator[FieldIssue]:
    """``min{noun}`` and ``max{noun}``: ``minLength``, ``maxItems``..."""
    fewest, most = schema.get(f"min{noun}"), schema.get(f"max{noun}")
    if isinstance(fewest, int) and fewest == most:
        if length != fewest:  # A tuple's fixed length, as msgspec words it.
            yield FieldIssue(path, f"Expected `{name}` of length {fewest}")
        return
    if isinstance(fewest, int) and length < fewest:
        yield FieldIssue(path, f"Expected `{name}` of length >= {fewest}")
    if isinstance(most, int) and length > most:
        yield FieldIssue(path, f"Expected `{name}` of length <= {most}")


def _invalid_choice(value: Any, allowed: Sequence[Any]) -> str:
    """A value outside an enum, in msgspec's words, with the values it allows."""
    return f"Invalid enum value {value!r} (expected one of {', '.join(map(repr, allowed))})"


def _is_multiple(value: float, step: float) -> bool:
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    quotient = value / step
    return math.isclose(quotient, round(quotient), rel_tol=1e-9, abs_tol=1e-9)
