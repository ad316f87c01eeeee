"""pydantic, as an optional dependency: its types validated, encoded and described by pydantic.

LabThings-FastAPI code uses pydantic throughout: models as action inputs,
outputs and property types, and ``Annotated[int, Field(ge=0)]`` constraints
on plain types. Each constraint is honoured (a safety limit on a stage
target must refuse an out-of-range value), described in the Thing
Description and the OpenAPI document, and a failure is a path-precise
problem. A Thing that does not use pydantic never imports it.
"""

import importlib.resources
import json
import subprocess
import sys
import textwrap
from typing import Annotated, Any

import anyio
import jsonschema
import msgspec
import pytest
from inprocess import in_process
from openapi_spec_validator import validate
from pydantic import BaseModel, Field
from things import TIMEOUT

import labthings_async as lt
from labthings_async.wot.openapi import openapi_document
from labthings_async.wot.td import thing_description


class Position(BaseModel):
    """A stage position, in micrometres."""

    x: int = Field(ge=-10_000, le=10_000, description="Across")
    y: int = Field(default=0, ge=-10_000, le=10_000)


class Stage(lt.Thing):
    """A stage written for LabThings-FastAPI, with pydantic types."""

    target: Position = lt.property(default_factory=lambda: Position(x=0))
    "Where the stage is going."

    step: Annotated[int, Field(gt=0, description="Microsteps per move")] = lt.property(default=8)

    @lt.action
    def move_to(
        self,
        x: Annotated[int, Field(ge=-10_000, le=10_000, description="Target along x")],
        y: Annotated[int, Field(ge=-10_000, le=10_000)] = 0,
    ) -> Position:
        """Move to an absolute position."""
        self.target = Position(x=x, y=y)
        return self.target

    @lt.action
    def go(self, to: Position, label: str = "") -> dict[str, Position]:
        return {label or "here": to}

    @lt.action
    async def where(self) -> Position:
        return self.target

    @lt.action
    def untyped(self):  # type: ignore[no-untyped-def]
        return Position(x=1)


def assert_valid_td(description: dict[str, Any]) -> None:
    """Valid against the W3C TD 1.1 JSON Schema (shipped in the labthings-fastapi wheel)."""
    schema = importlib.resources.files("labthings_fastapi") / "thing_description"
    validator = jsonschema.Draft7Validator(
        json.loads((schema / "td-json-schema-validation.json").read_text())
    )
    assert [error.message for error in validator.iter_errors(description)] == []


async def invoke(thing: lt.Thing, action: str, arguments: Any = None) -> lt.Invocation:
    async with lt.ActionManager({"stage": thing}) as manager:
        invocation = manager.invoke_action(thing, action, arguments)
        with anyio.fail_after(TIMEOUT):
            await invocation.wait()
    return invocation


# -- validation -------------------------------------------------------------------------


def test_a_field_constraint_on_a_plain_parameter_refuses_an_out_of_range_target() -> None:
    move_to = Stage.get_action("move_to")
    with pytest.raises(lt.InvalidInputError) as refused:
        move_to.decode_input(b'{"x": 20000}')
    error = refused.value
    assert error.status == 422
    assert error.path == "$.x"
    assert error.detail == (
        "the input of action 'move_to' is invalid: Input should be less than or equal to "
        "10000 - at `$.x`"
    )
    assert move_to.decode_input(b'{"x": 10000}') == {"x": 10000, "y": 0}


def test_a_model_parameter_is_validated_with_the_path_of_each_failing_field() -> None:
    go = Stage.get_action("go")
    with pytest.raises(lt.InvalidInputError) as refused:
        go.validate_input({"to": {"x": "left", "y": 99_999}})
    assert [(issue.path, issue.message) for issue in refused.value.issues] == [
        ("$.to.x", "Input should be a valid integer, unable to parse string as an integer"),
        ("$.to.y", "Input should be less than or equal to 10000"),
    ]
    arguments = go.validate_input({"to": {"x": 5}})
    assert arguments == {"to": Position(x=5, y=0), "label": ""}


def test_an_unknown_argument_and_malformed_json_are_refused() -> None:
    move_to = Stage.get_action("move_to")
    with pytest.raises(lt.InvalidInputError, match=r"Extra inputs are not permitted - at `\$.z`"):
        move_to.decode_input(b'{"x": 1, "z": 2}')
    with pytest.raises(lt.InvalidInputError) as malformed:
        move_to.decode_input(b'{"x": ')
    assert malformed.value.malformed
    assert malformed.value.status == 400


def test_a_property_of_a_model_type_validates_what_clients_write() -> None:
    target = Stage.get_property("target")
    assert target.decode(b'{"x": 3}') == Position(x=3)
    with pytest.raises(lt.InvalidInputError, match=r"greater than or equal to -10000 - at `\$.x`"):
        target.decode(b'{"x": -20000}')
    step = Stage.get_property("step")
    with pytest.raises(lt.InvalidInputError, match="Input should be greater than 0"):
        step.convert(0)


# -- running -------------------------------------------------------------------------------


async def test_models_go_in_and_come_out_of_an_action() -> None:
    stage = Stage()
    invocation = await invoke(stage, "go", {"to": {"x": 4, "y": 2}, "label": "start"})
    assert invocation.status is lt.InvocationStatus.COMPLETED, invocation.error
    assert invocation.output == msgspec.Raw(b'{"start":{"x":4,"y":2}}')
    assert invocation.result() == {"start": Position(x=4, y=2)}


async def test_an_async_action_and_an_untyped_one_return_models() -> None:
    stage = Stage()
    stage.target = Position(x=7)
    assert (await invoke(stage, "where")).result() == Position(x=7)
    untyped = await invoke(stage, "untyped")
    assert untyped.status is lt.InvocationStatus.COMPLETED
    assert untyped.result() == {"x": 1, "y": 0}


async def test_an_output_that_breaks_a_model_annotation_ends_in_error() -> None:
    class Broken(lt.Thing):
        @lt.action
        def read(self) -> Position:
            return {"x": 99_999}  # type: ignore[return-value]

    invocation = await invoke(Broken(), "read")
    assert invocation.status is lt.InvocationStatus.ERROR
    assert invocation.error is not None
    assert invocation.error.detail == (
        "action 'read' returned {'x': 99999} (a dict), which does not fit its return "
        "annotation `Position`: Input should be less than or equal to 10000 - at `$.x`"
    )


# -- over HTTP ------------------------------------------------------------------------------


def test_over_http_models_are_json_and_failures_are_problems() -> None:
    with in_process(lt.ThingServer({"stage": Stage()}).app) as http:
        refused = http.post("/stage/move_to", json={"x": 20_000})
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"] == [
            {"path": "$.x", "message": "Input should be less than or equal to 10000"}
        ]
        done = http.post("/stage/move_to", json={"x": 5, "y": 6}, headers={"Prefer": "wait=5"})
        assert done.status_code == 201
        assert done.json()["status"] == "completed"
        assert done.json()["output"] == {"x": 5, "y": 6}
        assert done.json()["input"] == {"x": 5, "y": 6}
        assert http.get("/stage/target").json() == {"x": 5, "y": 6}
        assert http.put("/stage/target", json={"x": 1}).status_code == 204
        assert http.get("/stage/target").json() == {"x": 1, "y": 0}
        bad = http.put("/stage/target", json={"x": 1, "y": "up"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["path"] == "$.y"
        went = http.post("/stage/go", json={"to": {"x": 2}}, headers={"Prefer": "wait=5"})
        assert went.json()["input"] == {"to": {"x": 2, "y": 0}, "label": ""}


async def test_a_model_property_change_is_published_as_json() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}) as manager,
        manager.subscribe_properties(thing="stage") as changes,
    ):
        stage.target = Position(x=3, y=4)
        with anyio.fail_after(TIMEOUT):
            event = await anext(changes)
    assert (event.name, json.loads(event.data)) == ("target", {"x": 3, "y": 4})


# -- descriptions ---------------------------------------------------------------------------


def test_the_thing_description_shows_constraints_descriptions_and_defaults() -> None:
    description = thing_description(Stage(), "http://example.test/stage/")
    assert_valid_td(description)
    move_to = description["actions"]["move_to"]
    assert move_to["input"]["properties"]["x"] == {
        "description": "Target along x",
        "maximum": 10000,
        "minimum": -10000,
        "title": "X",
        "type": "integer",
    }
    assert move_to["input"]["required"] == ["x"]
    assert move_to["output"]["properties"]["x"]["description"] == "Across"
    target = description["properties"]["target"]
    assert target["description"] == "Where the stage is going."
    assert target["default"] == {"x": 0, "y": 0}
    assert target["properties"]["y"]["maximum"] == 10000
    step = description["properties"]["step"]
    assert (step["type"], step["exclusiveMinimum"], step["default"]) == ("integer", 0, 8)
    go = description["actions"]["go"]
    assert go["output"]["additionalProperties"]["description"] == (
        "A stage position, in micrometres."
    )


def test_the_openapi_document_describes_pydantic_types() -> None:
    document = openapi_document({"stage": Stage()}, server_url="http://example.test")
    validate(document)
    assert "Position" in document["components"]["schemas"]


# -- what is refused at class definition -----------------------------------------------------


def test_metadata_nothing_reads_fails_naming_class_member_and_metadata() -> None:
    with pytest.raises(lt.ActionDefinitionError) as refused:

        class Unread(lt.Thing):
            @lt.action
            def move(self, x: Annotated[int, "micrometres"]) -> None:
                pass

    assert str(refused.value) == (
        "action Unread.move, parameter 'x': the annotation's metadata 'micrometres' (a str) "
        "is not understood, so it would be ignored; constrain and describe a type with "
        "msgspec.Meta(...) or pydantic.Field(...), or remove it"
    )


def test_msgspec_metadata_in_a_pydantic_type_fails_rather_than_being_ignored() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="msgspec's, in a type pydantic validates"):

        class Mixed(lt.Thing):
            @lt.action
            def move(self, x: Annotated[int, Field(description="x"), msgspec.Meta(le=10)]) -> None:
                pass


def test_unread_metadata_on_a_property_or_a_return_annotation_fails_too() -> None:
    with pytest.raises(lt.ActionDefinitionError, match=r"property Labelled\.speed: .*'fast'"):

        class Labelled(lt.Thing):
            speed: Annotated[float, "fast"] = lt.property(default=1.0)

    with pytest.raises(lt.ActionDefinitionError, match=r"Returns\.read, its return annotation"):

        class Returns(lt.Thing):
            @lt.action
            def read(self) -> list[Annotated[int, object()]]:
                return []


def test_a_msgspec_struct_inside_a_pydantic_signature_is_refused_clearly() -> None:
    class Point(msgspec.Struct):
        x: int

    with pytest.raises(lt.ActionDefinitionError, match="pydantic cannot validate it"):

        class Both(lt.Thing):
            @lt.action
            def move(self, where: Point, speed: Annotated[int, Field(gt=0)]) -> None:
                pass


# -- optional ---------------------------------------------------------------------------------

PLAIN_THING = textwrap.dedent(
    """
    import asyncio, sys
    import labthings_async as lt
    from labthings_async.wot.openapi import openapi_document
    from labthings_async.wot.td import thing_description

    class Counter(lt.Thing):
        count: int = lt.property(default=0)
        "How many."

        @lt.action
        def increment(self, by: int = 1) -> int:
            self.count += by
            return self.count

    async def main():
        counter = Counter()
        async with lt.ActionManager({"counter": counter}) as manager:
            invocation = manager.invoke_action(counter, "increment", {"by": 2})
            await invocation.wait()
        thing_description(counter, "http://example.test/counter/")
        openapi_document({"counter": counter}, server_url="http://example.test")
        lt.ThingServer({"counter": Counter()})
        print(invocation.result(), "pydantic" in sys.modules)

    asyncio.run(main())
    """
)


def test_a_thing_without_pydantic_types_never_imports_pydantic() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", PLAIN_THING], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["2", "False"]
