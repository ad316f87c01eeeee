"""An invalid enum value is told the values allowed, wherever the enum is in the input."""

from __future__ import annotations

import enum
from typing import Any, Literal

import msgspec
import pytest
from starlette.testclient import TestClient

import labthings_async as lt
from labthings_async.errors import InvalidInputError
from labthings_async.validation import allowed_values, decode_json


class Lamp(enum.StrEnum):
    OFF = "off"
    DIM = "dim"


class Gain(enum.IntEnum):
    LOW = 1
    HIGH = 8


class Setting(msgspec.Struct):
    lamp: Lamp
    gain: Gain = Gain.LOW
    mode: Literal["fast", "fine"] = "fast"
    later: Lamp | None = None
    sequence: list[Lamp] = []
    by_name: dict[str, Lamp] = {}
    pair: tuple[int, Lamp] = (0, Lamp.OFF)


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        (b'{"lamp": "on"}', "$.lamp", "Invalid enum value 'on' (expected one of 'dim', 'off')"),
        (b'{"lamp": "off", "gain": 2}', "$.gain", "Invalid enum value 2 (expected one of 1, 8)"),
        (
            b'{"lamp": "off", "mode": "slow"}',
            "$.mode",
            "Invalid enum value 'slow' (expected one of 'fast', 'fine')",
        ),
        (b'{"lamp": "off", "later": "x"}', "$.later", "Invalid enum value 'x' (expected one of"),
        (b'{"lamp": "off", "sequence": ["dim", "x"]}', "$.sequence[1]", "Invalid enum value 'x'"),
        (b'{"lamp": "off", "by_name": {"a": "x"}}', "$.by_name[...]", "Invalid enum value 'x'"),
        (b'{"lamp": "off", "pair": [1, "x"]}', "$.pair[1]", "Invalid enum value 'x' (expected"),
    ],
)
def test_the_allowed_values_are_listed_wherever_the_enum_is(
    body: bytes, path: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as invalid:
        decode_json(body, Setting, "the setting")
    (issue,) = invalid.value.issues
    assert issue.path == path
    assert issue.message.startswith(reason)
    assert str(invalid.value) == f"the setting is invalid: {issue.message} - at `{path}`"


def test_a_type_that_is_not_an_enum_there_adds_nothing() -> None:
    assert allowed_values(Setting, "$.pair[0]") == []
    assert allowed_values(Setting, "$.nowhere") == []
    assert allowed_values(Any, "$") == []


class Bench(lt.Thing):
    lamp: Lamp = lt.property(default=Lamp.OFF)

    @lt.action
    def light(self, lamp: Lamp) -> str:
        return lamp.value


def test_the_server_tells_a_client_the_allowed_values() -> None:
    server = lt.ThingServer({"bench": Bench()})
    with TestClient(server.app) as http:
        written = http.put("/bench/lamp", json="on")
        invoked = http.post("/bench/light", json={"lamp": "on"})
    assert written.status_code == 422
    assert written.json()["errors"] == [
        {"path": "$", "message": "Invalid enum value 'on' (expected one of 'dim', 'off')"}
    ]
    assert invoked.status_code == 422
    assert invoked.json()["errors"] == [
        {"path": "$.lamp", "message": "Invalid enum value 'on' (expected one of 'dim', 'off')"}
    ]
