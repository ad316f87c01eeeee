"""LabThings-FastAPI 0.3.0's own example Things and quickstart, with only the imports changed.

The example module is LabThings-FastAPI's ``example_things``, read from the
installed package and rewritten import by import. Served here, it is driven
over HTTP by our ThingClient and by LabThings-FastAPI's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2
import pytest
from conftest import ServeThings
from ported import (
    LT_PACKAGE,
    changed_lines,
    in_thread,
    lt_client,
    port_source,
    ported_module,
    serving,
)

import labthings_async as lt
from labthings_async.wot.td import thing_description

EXAMPLES = LT_PACKAGE / "example_things" / "__init__.py"


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """LabThings-FastAPI's example Things, imports changed, imported as ``lt_example_things``."""
    directory = tmp_path_factory.mktemp("examples")
    with ported_module("lt_example_things", port_source(EXAMPLES.read_text()), directory) as module:
        yield module


def test_only_the_import_lines_change() -> None:
    source = EXAMPLES.read_text()
    changed = changed_lines(source, port_source(source))
    assert changed == [
        "from labthings_async.actions import action",
        "from labthings_async.properties import property as lt_property",
        "from labthings_async.thing import Thing",
    ]


async def test_our_client_drives_the_example_thing(
    examples: ModuleType, serve_things: ServeThings
) -> None:
    server = lt.ThingServer.from_things(
        {"example": examples.MyThing, "broken": examples.ThingWithBrokenAffordances}
    )
    root = await serve_things(server)
    async with await lt.AsyncThingClient.from_url(f"{root}/example/") as example:
        done = await example.anaction(repeats=1, undocumented=2, title="first")
        assert done == {"end_result": "finished!!"}
        assert await example.read_property("counter") == 1  # anaction calls increment_counter.
        assert await example.make_a_dict(extra_key="a", extra_value="b") == {
            "key": "value",
            "a": "b",
        }
        assert await example.action_without_arguments() is None
        assert await example.action_with_only_kwargs(settings={"gain": 2}) is None
        await example.write_property("foo", "changed")
        assert await example.read_property("foo") == "changed"
        with pytest.raises(lt.InvalidInputError, match=r"\$\.repeats"):
            await example.anaction(repeats="many", undocumented=1)
        with pytest.raises(lt.ReadOnlyPropertyError):
            await example.write_property("counter", 5)
    async with await lt.AsyncThingClient.from_url(f"{root}/broken/") as broken:
        with pytest.raises(lt.ActionFailedError) as failed:
            await broken.broken_action()
        assert failed.value.problem is not None
        assert (failed.value.problem.title, failed.value.problem.detail) == (
            "RuntimeError",
            "This is a broken action",
        )
        with pytest.raises(lt.LabThingsError, match="This is a broken property"):
            await broken.read_property("broken_property")


async def test_labthings_own_client_drives_the_example_thing(
    examples: ModuleType, serve_things: ServeThings
) -> None:
    from labthings_fastapi.exceptions import ServerActionError

    server = lt.ThingServer.from_things(
        {"example": examples.MyThing, "broken": examples.ThingWithBrokenAffordances}
    )
    root = await serve_things(server)

    def use() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        with httpx2.Client(base_url=root, timeout=10) as http:
            example = lt_client(f"{root}/example/", http)
            seen["anaction"] = example.anaction(repeats=2, undocumented=3)
            seen["counter"] = example.counter
            seen["dict"] = example.make_a_dict(extra_key="k", extra_value="v")
            example.foo = "from LabThings"
            seen["foo"] = example.foo
            broken = lt_client(f"{root}/broken/", http)
            try:
                broken.broken_action()
            except ServerActionError as error:
                seen["failure"] = str(error)
        return seen

    seen = await in_thread(use)
    assert seen["anaction"] == {"end_result": "finished!!"}
    assert seen["counter"] == 1
    assert seen["dict"] == {"key": "value", "k": "v"}
    assert seen["foo"] == "from LabThings"
    assert "This is a broken action" in seen["failure"]


def test_descriptions_and_defaults_reach_the_thing_description(examples: ModuleType) -> None:
    description = thing_description(examples.MyThing(), "http://example.test/example/")
    inputs = description["actions"]["anaction"]["input"]["properties"]
    assert inputs["repeats"]["description"] == "The number of times to try the action"
    assert inputs["title"]["default"] == "Untitled"
    counter = description["properties"]["counter"]
    assert (counter["description"], counter["default"]) == ("A pointless counter", 0)
    foo = description["properties"]["foo"]
    assert (foo["description"], foo["default"]) == (
        "A pointless string for demo purposes.",
        "Example",
    )


def test_a_thing_that_cannot_be_made_fails_at_once(examples: ModuleType) -> None:
    with pytest.raises(lt.ConfigError, match="This thing can't be instantiated"):
        lt.ThingServer.from_things({"bad": examples.ThingThatCantInstantiate})


def test_a_thing_that_cannot_start_stops_the_server_naming_its_enter(examples: ModuleType) -> None:
    server = lt.ThingServer.from_things({"bad": examples.ThingThatCantStart})
    with pytest.raises(lt.ThingSetupError) as failed, server.test_client():
        pytest.fail("the server started although its Thing could not")
    assert str(failed.value) == (
        "__enter__ of Thing 'bad' (ThingThatCantStart) failed: RuntimeError: This thing can't start"
    )


# -- the quickstart ----------------------------------------------------------------------------

QUICKSTART = '''
"""LabThings-FastAPI 0.3.0's quick start Thing, as its documentation writes it."""

import time

import labthings_fastapi as lt


class TestThing(lt.Thing):
    """A test thing with a counter property and a couple of actions."""

    @lt.action
    def increment_counter(self) -> None:
        """Increment the counter property."""
        self.counter += 1

    @lt.action
    def slowly_increase_counter(self) -> None:
        """Increment the counter slowly over a minute."""
        for _i in range(60):
            time.sleep(1)
            self.increment_counter()

    counter: int = lt.property(default=0, readonly=True)
    "A pointless counter."


server = lt.ThingServer.from_things({"counter": TestThing})
'''


def test_the_quickstart_runs_with_only_its_import_changed(tmp_path: Path) -> None:
    ported = port_source(QUICKSTART)
    assert changed_lines(QUICKSTART, ported) == ["import labthings_async as lt"]
    with (
        ported_module("lt_quickstart", ported, tmp_path) as quickstart,
        quickstart.server.test_client() as http,
    ):
        description = http.get("/counter/").json()
        assert description["properties"]["counter"]["description"] == "A pointless counter."
        assert http.get("/counter/counter").json() == 0
        invoked = http.post("/counter/increment_counter", headers={"Prefer": "wait=5"})
        assert invoked.status_code == 201
        assert invoked.json()["status"] == "completed"
        assert http.get("/counter/counter").json() == 1


def test_the_quickstart_config_file_is_served_by_serve_dash_c(
    examples: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "lt_example_things.py").write_text(port_source(EXAMPLES.read_text()))
    config = {"things": {"example": "lt_example_things:MyThing"}}
    (tmp_path / "example_config.json").write_text(json.dumps(config))
    with serving(tmp_path, "-c", "example_config.json") as url, httpx2.Client(base_url=url) as http:
        example = lt_client(f"{url}/example/", http)
        example.increment_counter()
        assert example.counter == 1
    with serving(tmp_path, "-j", json.dumps(config)) as url:
        assert httpx2.get(f"{url}/example/counter").json() == 0
