"""The LabThings-FastAPI names a migrating user writes: each works with its meaning here,
or fails at once saying what to write instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

import labthings_async as lt
from labthings_async.wot.td import thing_description

# -- a Thing written as LabThings-FastAPI documents it ------------------------------------------


class Sample(BaseModel):
    name: str
    depth: float = 0.0


class Microscope(lt.Thing):
    """A microscope written for LabThings-FastAPI 0.3.0."""

    def __init__(self, thing_server_interface: lt.ThingServerInterface, objective: str = "x10"):
        super().__init__(thing_server_interface)
        self.objective = objective
        self._focus = 0

    @lt.property
    def focus(self) -> int:
        """The focus drive's position."""
        return self._focus

    @focus.setter
    def _set_focus(self, value: int) -> None:
        self._focus = value

    @focus.resetter
    def _reset_focus(self) -> None:
        self._focus = 100

    @lt.property
    def zoom(self) -> float:
        return getattr(self, "_zoom", 1.0)

    @zoom.setter
    def _set_zoom(self, value: float) -> None:
        self._zoom = value

    zoom.default = 1.0

    @lt.action(retention_time=600, response_timeout=5)
    def snap(self) -> str:
        return f"image through {self.objective}"

    @lt.action
    def server_settings(self) -> dict[str, Any]:
        config = self._thing_server_interface.application_config
        return {"path": self._thing_server_interface.path, "config": config}

    @lt.endpoint("get")
    def path_from_name(self) -> str:
        return "path_from_name"

    @lt.endpoint("get", path="path_from_path")
    def get_method(self) -> str:
        return "get_method"

    @lt.endpoint("post", path="path_from_path")
    def post_method(self, body: Sample) -> str:
        return f"post_method {body.name} {body.depth}"

    @lt.endpoint("get", "images/{name}", response_class=PlainTextResponse)
    def image(self, name: str, width: int = 640) -> str:
        return f"{name} at {width}"

    @lt.endpoint("get", "raw")
    def raw(self, request: Request) -> Response:
        return Response(f"raw {request.url.path}".encode(), media_type="text/x-raw")


@pytest.fixture
def microscope() -> Iterator[tuple[Microscope, TestClient]]:
    server = lt.ThingServer.from_things(
        {"microscope": {"class": Microscope, "kwargs": {"objective": "x40"}}},
        api_prefix="/api",
        application_config={"lab": "B12"},
    )
    thing = server.manager.things["microscope"]
    assert isinstance(thing, Microscope)
    with server.test_client() as http:
        yield thing, http


def test_the_server_interface_and_application_config(
    microscope: tuple[Microscope, TestClient],
) -> None:
    thing, http = microscope
    done = http.post("/api/microscope/server_settings", headers={"Prefer": "wait=5"}).json()
    assert done["output"] == {"path": "/api/microscope/", "config": {"lab": "B12"}}
    assert thing._thing_server_interface is not None
    assert thing._thing_server_interface.name == "microscope"
    # Each Thing reads a copy: changing it changes nothing for the others.
    config = thing._thing_server_interface.application_config
    assert config is not None
    dict(config)["lab"] = "changed"
    assert thing._thing_server_interface.application_config == {"lab": "B12"}


def test_the_server_interface_names_the_things_settings_folder_and_file(tmp_path: Path) -> None:
    server = lt.ThingServer.from_things({"scope": Microscope}, settings_folder=str(tmp_path))
    interface = server.manager.things["scope"]._thing_server_interface
    assert interface.settings_folder == str(tmp_path / "scope")
    assert interface.settings_file_path == str(tmp_path / "scope" / "Settings-Microscope.json")
    memory_only = lt.ThingServer.from_things({"scope": Microscope}, settings_folder=None)
    with pytest.raises(lt.UnsupportedFeatureError, match="settings_folder=None"):
        _ = memory_only.manager.things["scope"]._thing_server_interface.settings_folder


def test_response_timeout_holds_the_reply_and_retention_time_keeps_it(
    microscope: tuple[Microscope, TestClient],
) -> None:
    _, http = microscope
    reply = http.post("/api/microscope/snap")  # No Prefer header: the action's own timeout.
    assert reply.status_code == 201
    assert reply.json()["status"] == "completed"
    assert reply.json()["output"] == "image through x40"
    assert Microscope.get_action("snap").retention == 600


def test_a_resetter_and_a_default_reset_over_http(
    microscope: tuple[Microscope, TestClient],
) -> None:
    thing, http = microscope
    assert http.put("/api/microscope/focus", json=7).status_code == 204
    assert http.post("/api/microscope/focus/reset").status_code == 204
    assert thing.focus == 100
    thing.zoom = 3.0
    Microscope.get_property("zoom").reset(thing)
    assert thing.zoom == 1.0
    description = http.get("/api/microscope/").json()
    assert description["properties"]["zoom"]["default"] == 1.0
    assert "default" not in description["properties"]["focus"]


def test_a_resetter_named_as_its_property_is_refused() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="the resetter of property 'level'"):

        class Lamp(lt.Thing):
            @lt.property
            def level(self) -> int:
                return 0

            @level.resetter  # type: ignore[no-redef]
            def level(self) -> None:
                pass


def test_endpoints_are_served_below_the_thing(microscope: tuple[Microscope, TestClient]) -> None:
    _, http = microscope
    assert http.get("/api/microscope/path_from_name").json() == "path_from_name"
    assert http.get("/api/microscope/path_from_path").json() == "get_method"
    posted = http.post("/api/microscope/path_from_path", json={"name": "slide", "depth": 2})
    assert posted.json() == "post_method slide 2.0"
    image = http.get("/api/microscope/images/cells.png?width=320")
    assert (image.headers["content-type"], image.text) == (
        "text/plain; charset=utf-8",
        "cells.png at 320",
    )
    raw = http.get("/api/microscope/raw")
    assert (raw.headers["content-type"], raw.text) == (
        "text/x-raw; charset=utf-8",
        "raw /api/microscope/raw",
    )
    # Not in the Thing Description, as in LabThings-FastAPI.
    description = http.get("/api/microscope/").json()
    assert "path_from_name" not in description["actions"] | description["properties"]


def test_endpoint_input_is_validated_as_problems(microscope: tuple[Microscope, TestClient]) -> None:
    _, http = microscope
    wrong = http.get("/api/microscope/images/cells.png?width=wide")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["path"] == "$.query.width"
    missing = http.post("/api/microscope/path_from_path", json={"depth": 1})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["path"] == "$.name"
    assert http.delete("/api/microscope/path_from_path").status_code == 405


def test_an_endpoint_option_fastapi_has_and_we_do_not_fails_at_once() -> None:
    with pytest.raises(lt.UnsupportedFeatureError, match=r"option\(s\) \['dependencies'\]"):

        class Camera(lt.Thing):
            @lt.endpoint("get", dependencies=[])
            def frame(self) -> str:
                return ""


def test_an_endpoint_may_not_hide_an_affordance() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="endpoint 'shadow' would be served at"):

        class Camera(lt.Thing):
            exposure: int = lt.property(default=1)

            @lt.endpoint("get", "exposure")
            def shadow(self) -> str:
                return ""


# -- names from lt --------------------------------------------------------------------------------


def test_exceptions_under_their_labthings_names() -> None:
    exceptions = lt.exceptions
    assert exceptions.InvocationCancelledError is lt.InvocationCancelledError
    assert exceptions.InvocationError is lt.InvocationError
    assert exceptions.InvalidReturnValueError is lt.InvalidOutputError
    assert exceptions.ReadOnlyPropertyError is lt.ReadOnlyPropertyError
    with pytest.raises(AttributeError, match=r"catch lt\.ActionFailedError"):
        _ = exceptions.ServerActionError


def test_the_thing_logger_is_the_parent_of_each_things_logger() -> None:
    class Stage(lt.Thing):
        pass

    stage = Stage()
    stage.name = "stage"
    assert stage.logger is lt.get_thing_logger("stage")
    assert stage.logger.parent is lt.get_thing_logger()
    assert lt.get_thing_logger().name == "labthings_async.things"
    assert isinstance(lt.get_thing_logger(), logging.Logger)


def test_labthings_config_given_to_the_server_and_things_as_classes() -> None:
    server = lt.ThingServer(
        {
            "things": {"scope": {"cls": Microscope, "kwargs": {"objective": "x4"}}},
            "api_prefix": "/v1",
            "application_config": {"user": "ada"},
        }
    )
    assert server.prefix == "/v1"
    assert server.application_config == {"user": "ada"}
    with pytest.raises(TypeError, match=r"use ThingServer\.from_things"):
        lt.ThingServer({"scope": Microscope})


def test_a_config_file_with_application_config(tmp_path: Path) -> None:
    from labthings_async.config import load_config, server_options

    path = tmp_path / "lab.json"
    path.write_text(json.dumps({"things": {}, "application_config": {"room": 4}}))
    assert server_options(load_config(path))["application_config"] == {"room": 4}


def test_a_functional_property_is_described_by_its_getter() -> None:
    description = thing_description(Microscope(None), "http://example.test/microscope/")  # type: ignore[arg-type]
    assert description["properties"]["focus"]["description"] == "The focus drive's position."
    assert description["properties"]["focus"]["readOnly"] is False
