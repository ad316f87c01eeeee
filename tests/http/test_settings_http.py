"""Settings over HTTP: read, written and observed as properties, and saved when written."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
from conftest import ServeThings
from eventsource import read_events
from inprocess import in_process

import labthings_async as lt
from labthings_async.settings_store import settings_path


class Objective(lt.Thing):
    """A microscope objective and its calibration."""

    magnification: float = lt.setting(default=10.0, gt=0, description="Nominal magnification.")
    name_plate: str = lt.setting(default="10x", readonly=True)

    @lt.action
    def recalibrate(self, factor: float) -> float:
        self.magnification *= factor
        return self.magnification


def test_a_setting_is_a_property_in_the_thing_description(tmp_path: Path) -> None:
    server = lt.ThingServer({"objective": Objective()}, settings_folder=tmp_path)
    with in_process(server.app) as http:
        affordance = http.get("/objective/").json()["properties"]["magnification"]
    assert affordance["type"] == "number"
    assert affordance["exclusiveMinimum"] == 0
    assert affordance["description"] == "Nominal magnification."
    assert (affordance["readOnly"], affordance["observable"]) == (False, True)
    assert [form["op"] for form in affordance["forms"]][:2] == [
        ["readproperty"],
        ["writeproperty"],
    ]


def test_a_client_write_is_saved_before_the_reply(tmp_path: Path) -> None:
    server = lt.ThingServer({"objective": Objective()}, settings_folder=tmp_path)
    path = settings_path(tmp_path, "objective", "Objective")
    with in_process(server.app) as http:
        assert http.put("/objective/magnification", json=40.0).status_code == 204
        assert json.loads(path.read_text())["magnification"] == 40.0
        assert http.get("/objective/magnification").json() == 40.0
        refused = http.put("/objective/magnification", json=-1)
        assert refused.status_code == 422
        assert json.loads(path.read_text())["magnification"] == 40.0


def test_a_write_that_cannot_be_saved_is_a_500_naming_the_file(tmp_path: Path) -> None:
    server = lt.ThingServer({"objective": Objective()}, settings_folder=tmp_path)
    path = settings_path(tmp_path, "objective", "Objective")
    with in_process(server.app) as http:
        path.parent.mkdir(parents=True)
        path.mkdir()  # A folder in the file's place: the save's rename fails.
        (path / "x").write_text("")
        response = http.put("/objective/magnification", json=40.0)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Settings not saved"
    assert problem["detail"] == (
        f"settings of Thing 'objective' not saved to {path}: Is a directory"
    )


async def test_setting_changes_are_observed_like_property_changes(
    serve_things: ServeThings, client: httpx2.AsyncClient, tmp_path: Path
) -> None:
    url = await serve_things(lt.ThingServer({"objective": Objective()}, settings_folder=tmp_path))
    assert (await client.put(f"{url}/objective/magnification", json=20.0)).status_code == 204
    invoked = await client.post(
        f"{url}/objective/recalibrate", json={"factor": 1.5}, headers={"Prefer": "wait=10"}
    )
    assert invoked.json()["status"] == "completed"
    # Replayed from the start of the stream's buffer: both changes, in order.
    events, _ = await read_events(
        client, f"{url}/objective/magnification/events", headers={"Last-Event-ID": "0"}, limit=2
    )
    assert [(event.type, event.json()) for event in events] == [
        ("magnification", 20.0),
        ("magnification", 30.0),
    ]
    saved = json.loads(settings_path(tmp_path, "objective", "Objective").read_text())
    assert saved == {"magnification": 30.0, "name_plate": "10x"}
