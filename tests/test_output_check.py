"""An action's output is checked against its return annotation, as LabThings-FastAPI checks it.

A mismatch ends the invocation in ``error``, with a message naming the
action, the type it declared and what came back. No annotation (or ``Any``)
is not checked at all.
"""

from typing import Any

import anyio
import msgspec
import pytest
from things import TIMEOUT

import labthings_async as lt

Status = lt.InvocationStatus


class Position(msgspec.Struct):
    x: float
    y: float


class Meter(lt.Thing):
    """Returns what the test tells it to, under different annotations."""

    def __init__(self) -> None:
        self.value: Any = None

    @lt.action
    def measure(self) -> int:
        return self.value  # type: ignore[no-any-return]

    @lt.action
    async def measure_async(self) -> int:
        return self.value  # type: ignore[no-any-return]

    @lt.action
    def move(self) -> None:
        return self.value  # type: ignore[no-any-return]

    @lt.action
    def untyped(self):  # type: ignore[no-untyped-def]
        return self.value

    @lt.action
    def anything(self) -> Any:
        return self.value

    @lt.action
    def reading(self) -> float:
        return self.value  # type: ignore[no-any-return]

    @lt.action
    def readings(self) -> list[int]:
        return self.value  # type: ignore[no-any-return]

    @lt.action
    def where(self) -> Position:
        return self.value  # type: ignore[no-any-return]


async def outcome(action: str, value: Any) -> lt.Invocation:
    meter = Meter()
    meter.value = value
    async with lt.ActionManager({"meter": meter}) as manager:
        invocation = manager.invoke_action(meter, action)
        with anyio.fail_after(TIMEOUT):
            await invocation.wait()
    return invocation


@pytest.mark.parametrize("action", ["measure", "measure_async"])
async def test_an_int_action_returning_a_float_ends_in_error(action: str) -> None:
    invocation = await outcome(action, 4.2)
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert invocation.error.title == "InvalidOutputError"
    assert invocation.error.detail == (
        f"action {action!r} returned 4.2 (a float), which does not fit its return "
        "annotation `int`: Expected `int`, got `float`"
    )
    with pytest.raises(lt.InvalidOutputError):
        invocation.result()


async def test_a_none_action_returning_a_value_ends_in_error() -> None:
    invocation = await outcome("move", "done")
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert "returned 'done' (a str), which does not fit its return annotation `None`" in (
        invocation.error.detail
    )


async def test_the_path_of_a_wrong_item_is_named() -> None:
    invocation = await outcome("readings", [1, 2, "three"])
    assert invocation.error is not None
    assert invocation.error.detail.endswith(
        "annotation `list[int]`: Expected `int`, got `str` - at `$[2]`"
    )


async def test_a_long_value_is_shortened_in_the_message() -> None:
    invocation = await outcome("measure", "x" * 500)
    assert invocation.error is not None
    assert "returned 'xxxx" in invocation.error.detail
    assert "...' (a str)" not in invocation.error.detail
    assert "... (a str)" in invocation.error.detail
    assert len(invocation.error.detail) < 250


@pytest.mark.parametrize(
    ("action", "value", "result"),
    [
        ("reading", 4, 4.0),  # An int is a number, as in JSON.
        ("where", {"x": 1, "y": 2}, Position(1.0, 2.0)),
        ("where", Position(3.0, 4.0), Position(3.0, 4.0)),
        ("untyped", {"anything": [1, "two"]}, {"anything": [1, "two"]}),
        ("anything", 4.2, 4.2),
        ("move", None, None),
    ],
)
async def test_values_that_fit_complete(action: str, value: Any, result: Any) -> None:
    invocation = await outcome(action, value)
    assert invocation.status is Status.COMPLETED, invocation.error
    assert invocation.result() == result


async def test_raw_json_is_sent_as_it_stands() -> None:
    invocation = await outcome("measure", msgspec.Raw(b"4.2"))
    assert invocation.status is Status.COMPLETED
    assert invocation.output == msgspec.Raw(b"4.2")
