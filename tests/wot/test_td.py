"""Thing Descriptions: valid W3C TD 1.1, with the content real consumers rely on.

Served ones are fetched in-process (Starlette's TestClient).
"""

import enum
import importlib.resources
import json
from contextlib import asynccontextmanager
from typing import Annotated, Any

import jsonschema
import msgspec
import pytest
from inprocess import in_process
from starlette.applications import Starlette
from starlette.routing import Mount

import labthings_async as lt
from labthings_async.examples.microscope import Microscope
from labthings_async.wot.td import TD_CONTEXT, thing_description


def td_schema() -> dict[str, Any]:
    """The W3C TD 1.1 JSON Schema shipped in the labthings-fastapi 0.3.0 wheel."""
    path = (
        importlib.resources.files("labthings_fastapi")
        / "thing_description"
        / "td-json-schema-validation.json"
    )
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def assert_valid_td(description: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(td_schema())
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(description)]
    assert errors == []


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(msgspec.Struct):
    """A point."""

    x: float
    y: float


class Gadget(lt.Thing):
    """A gadget.

    It does several things.
    """

    level: Annotated[int, msgspec.Meta(ge=0, le=10)] = lt.property(default=3)
    colour: Colour = lt.property(default=Colour.RED)
    where: Point = lt.property(default_factory=lambda: Point(x=0, y=0), readonly=True)
    note: str | None = lt.property(default=None, description="Free text.")

    @lt.property
    def temperature(self) -> float:
        """The temperature in kelvin."""
        return 300.0

    @lt.action(safe=True, idempotent=True)
    def read_all(self) -> dict[str, int]:
        """Read everything."""
        return {"a": 1}

    @lt.action
    def go(
        self, to: Point, colours: list[Colour], pair: tuple[int, str] = (1, "a")
    ) -> Point | None:
        """Go somewhere."""
        return to


def test_the_example_and_a_rich_thing_validate_against_the_td_1_1_schema() -> None:
    assert td_schema()["version"].startswith("1.1")
    assert_valid_td(thing_description(Microscope(), "http://127.0.0.1:5000/microscope/"))
    assert_valid_td(thing_description(Gadget(), "http://127.0.0.1:5000/gadget/"))


def test_an_invalid_td_is_caught_by_the_validation_used_here() -> None:
    description = thing_description(Gadget(), "http://127.0.0.1:5000/gadget/")
    description["properties"]["level"]["forms"][0]["op"] = ["invokeaction"]
    with pytest.raises(AssertionError):
        assert_valid_td(description)


def test_td_context_identity_and_security() -> None:
    description = thing_description(Gadget(), "http://h/gadget/")
    assert description["@context"] == TD_CONTEXT
    assert description["@context"][:2] == [
        "https://www.w3.org/2019/wot/td/v1",
        "https://www.w3.org/2022/wot/td/v1.1",
    ]
    assert description["id"] == "http://h/gadget/"
    assert description["title"] == "Gadget"
    assert description["description"].startswith("A gadget.")
    assert description["base"] == "http://h/gadget/"
    assert description["security"] == ["nosec_sc"]
    assert description["securityDefinitions"] == {"nosec_sc": {"scheme": "nosec"}}


def test_property_schemas_carry_types_constraints_and_flags() -> None:
    properties = thing_description(Gadget(), "http://h/gadget/")["properties"]
    level = properties["level"]
    assert (level["type"], level["minimum"], level["maximum"]) == ("integer", 0, 10)
    assert properties["colour"]["enum"] == ["green", "red"]
    assert properties["where"]["readOnly"] is True
    assert properties["where"]["properties"]["x"] == {"type": "number"}
    assert properties["note"]["oneOf"] == [{"type": "string"}, {"type": "null"}]
    assert properties["note"]["description"] == "Free text."
    assert properties["level"]["observable"] is True
    assert properties["temperature"]["observable"] is False
    assert properties["temperature"]["readOnly"] is True


def test_property_forms_read_write_and_observe_over_sse() -> None:
    properties = thing_description(Gadget(), "http://h/gadget/")["properties"]
    forms = properties["level"]["forms"]
    assert [(form["op"], form["htv:methodName"], form["href"]) for form in forms] == [
        (["readproperty"], "GET", "level"),
        (["writeproperty"], "PUT", "level"),
        (["observeproperty", "unobserveproperty"], "GET", "level/values"),
        (["observeproperty", "unobserveproperty"], "GET", "level/events"),
    ]
    assert all(form["subprotocol"] == "sse" for form in forms[2:])
    assert [form["op"] for form in properties["where"]["forms"]] == [
        ["readproperty"],
        ["observeproperty", "unobserveproperty"],
        ["observeproperty", "unobserveproperty"],
    ]
    assert [form["op"] for form in properties["temperature"]["forms"]] == [["readproperty"]]


def test_action_schemas_flags_and_forms() -> None:
    actions = thing_description(Gadget(), "http://h/gadget/")["actions"]
    go = actions["go"]
    assert go["input"]["required"] == ["to", "colours"]
    assert go["input"]["properties"]["to"]["properties"]["y"] == {"type": "number"}
    assert go["input"]["properties"]["pair"]["items"] == [{"type": "integer"}, {"type": "string"}]
    assert go["output"]["oneOf"][1] == {"type": "null"}
    assert actions["read_all"]["safe"] is True and actions["read_all"]["idempotent"] is True
    assert go["safe"] is False
    ops = [(form["op"], form["htv:methodName"], form["href"]) for form in go["forms"]]
    assert ops == [
        (["invokeaction"], "POST", "go?reply=output"),
        (["invokeaction"], "POST", "go"),
        (["queryaction"], "GET", "../action_invocations/{id}"),
        (["cancelaction"], "DELETE", "../action_invocations/{id}"),
    ]


def test_thing_level_forms() -> None:
    forms = thing_description(Gadget(), "http://h/gadget/")["forms"]
    assert [(form["op"], form["href"]) for form in forms] == [
        (["readallproperties"], "properties"),
        (["observeallproperties", "unobserveallproperties"], "events"),
        (["queryallactions"], "../action_invocations/?thing=gadget"),
    ]


class Tree(msgspec.Struct):
    children: "list[Tree]"


def test_a_recursive_type_fails_when_the_class_is_defined() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="recursive"):

        class Forest(lt.Thing):
            @lt.action
            def plant(self, tree: Tree) -> None:
                """Plant a tree."""


def test_served_td_base_is_absolute_behind_a_mount_prefix() -> None:
    things = lt.ThingServer({"gadget": Gadget()}, prefix="/api")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        async with things.lifespan():
            yield

    host = Starlette(routes=[Mount("/lab", app=things.app)], lifespan=lifespan)
    with in_process(host) as http:
        description = http.get("/lab/api/gadget/").json()
        assert description["base"] == "http://testserver/lab/api/gadget/"
        assert_valid_td(description)
        everything = http.get("/lab/api/thing_descriptions/").json()
        assert everything["gadget"] == description
        values = http.get("/lab/api/gadget/properties").json()
        assert values["level"] == 3 and values["temperature"] == 300.0


def test_both_kinds_of_client_invoke_through_the_td_forms() -> None:
    with in_process(lt.ThingServer({"gadget": Gadget()}).app) as http:
        description = http.get("/gadget/").json()
        base = description["base"]
        first, second = description["actions"]["go"]["forms"][:2]
        body = {"to": {"x": 1, "y": 2}, "colours": ["red"]}
        # A W3C consumer: the first invokeaction form replies with the output itself.
        reply = http.post(base + first["href"], json=body)
        assert reply.status_code == 200
        assert reply.json() == {"x": 1.0, "y": 2.0}
        # LabThings' way: 201 and the invocation to follow.
        reply = http.post(base + second["href"], json=body, headers={"Prefer": "wait=5"})
        assert reply.status_code == 201
        assert reply.json()["output"] == {"x": 1.0, "y": 2.0}
        # A failure is an HTTP error on the synchronous form.
        bad = http.post(base + first["href"], json={"to": {"x": 1}, "colours": []})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
