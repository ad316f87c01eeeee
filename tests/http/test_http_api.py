"""Every non-streaming route, in-process (Starlette's TestClient); chunked uploads end to end.

Event streams, shutdown and embedding have their own end-to-end tests against
a real hypercorn; here a test drives the app directly, and anything that
must happen on the app's event loop goes through ``on_loop``.
"""

from __future__ import annotations

import asyncio
import gc
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import msgspec
from conftest import ServeThings
from inprocess import in_process, on_loop

import labthings_async as lt
from labthings_async.server import ThingServer


class Point(msgspec.Struct):
    x: float
    y: float


class Counter(lt.Thing):
    """Counts things and does arithmetic."""

    count: int = lt.property(default=0, ge=0, le=1000, description="How many so far.")
    origin: Point = lt.property(default_factory=lambda: Point(0.0, 0.0))
    label: str = lt.property(default="a counter", readonly=True)

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = threading.Event()
        self._scale = 1

    @lt.property
    def scale(self) -> int:
        """A functional property with a setter."""
        return self._scale

    @scale.setter  # type: ignore[no-redef]
    def scale(self, value: int) -> None:
        self._scale = value

    @lt.action
    def add(self, a: int, b: int = 1) -> int:
        """Add two numbers in a worker thread."""
        return a + b

    @lt.action
    async def ping(self) -> str:
        return "pong"

    @lt.action
    async def hold(self) -> str:
        """Wait on the event loop until the test opens the gate."""
        await self.gate.wait()
        return "released"

    @lt.action
    def sleep(self, seconds: float = 30.0) -> None:
        """Sleep in a thread, stopping early when cancelled."""
        self.started.set()
        lt.cancellable_sleep(seconds)

    @lt.action
    def fail(self) -> None:
        raise RuntimeError("out of paper")

    @lt.action
    def zero(self) -> int:
        return 0

    @lt.action
    def empty_string(self) -> str:
        return ""

    @lt.action
    def empty_list(self) -> list[int]:
        return []

    @lt.action
    def false(self) -> bool:
        return False

    @lt.action
    def nothing(self) -> None:
        return None


class Lamp(lt.Thing):
    on: bool = lt.property(default=False)

    @lt.action
    async def toggle(self) -> bool:
        self.on = not self.on
        return self.on


WAIT = {"Prefer": "wait=10"}
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SUMMARY_KEYS = {
    "id",
    "thing",
    "action",
    "status",
    "href",
    "timeRequested",
    "timeStarted",
    "timeCompleted",
    "links",
}
BASE = "http://testserver"
"""The root URL of an app under the TestClient."""


def links(body: dict[str, Any]) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in body["links"]}


def next_link(response: httpx2.Response) -> str | None:
    header = response.headers.get("link")
    if header is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', header)
    assert match is not None, header
    return match.group(1)


def finish(http: Any, server: ThingServer, invocation_id: str) -> None:
    """Wait until the invocation has finished."""
    on_loop(http, server.manager.get_invocation(invocation_id).wait)


def test_invoke_answers_201_with_location_and_the_invocation() -> None:
    counter = Counter()
    server = ThingServer({"counter": counter})
    with in_process(server.app) as http:
        response = http.post("/counter/hold", json={})

        assert response.status_code == 201
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert UUID_PATTERN.match(body["id"])
        href = f"{BASE}/action_invocations/{body['id']}"
        assert response.headers["location"] == href
        assert body["href"] == href
        assert links(body)["self"] == href
        assert links(body)["output"] == f"{href}/output"
        assert body["action"] == "/counter/hold"
        assert body["thing"] == "counter"
        assert body["status"] in ("pending", "running")
        assert body["timeRequested"].endswith("Z")
        assert body["timeCompleted"] is None
        assert body["input"] == {}
        assert body["output"] is None
        assert body["log"] == []
        assert body["error"] is None

        on_loop(http, counter.gate.set)
        finish(http, server, body["id"])
        finished = http.get(href).json()
    assert finished["status"] == "completed"
    assert finished["output"] == "released"
    assert finished["timeCompleted"] is not None


def test_prefer_wait_returns_the_finished_invocation() -> None:
    with in_process(ThingServer({"counter": Counter()}).app) as http:
        response = http.post("/counter/add", json={"a": 2}, headers=WAIT)

    assert response.status_code == 201
    assert response.headers["preference-applied"] == "wait=10"
    body = response.json()
    assert body["status"] == "completed"
    assert body["input"] == {"a": 2, "b": 1}
    assert body["output"] == 3
    assert response.headers["location"] == body["href"]


def test_prefer_wait_is_capped_and_returns_an_unfinished_invocation() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}, max_wait=0.2).app) as http:
        response = http.post("/counter/hold", headers={"Prefer": "wait=600"})
        on_loop(http, counter.gate.set)

    assert response.status_code == 201
    assert response.headers["preference-applied"] == "wait=0.2"
    assert response.json()["status"] == "running"


def test_request_without_prefer_wait_has_no_preference_applied() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}).app) as http:
        response = http.post("/counter/hold", headers={"Prefer": "respond-async"})
        on_loop(http, counter.gate.set)

    assert response.status_code == 201
    assert "preference-applied" not in response.headers


async def test_chunked_request_body_is_read(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    base = await serve_things(ThingServer({"counter": Counter()}))

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b'{"a"', b": 40, ", b'"b": 2}'):
            yield chunk

    response = await client.post(
        f"{base}/counter/add",
        content=chunks(),
        headers={**WAIT, "Content-Type": "application/json"},
    )

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 201
    assert response.json()["output"] == 42


def test_no_argument_action_accepts_absent_empty_null_and_empty_object_bodies() -> None:
    json_type = {"Content-Type": "application/json"}

    def nothing() -> Iterator[bytes]:
        yield from ()

    with in_process(ThingServer({"counter": Counter()}).app) as http:
        url = "/counter/ping"
        responses = [
            http.post(url, headers=WAIT),
            http.post(url, content=b"", headers={**WAIT, **json_type}),
            http.post(url, content=nothing(), headers={**WAIT, **json_type}),
            http.post(url, content=b"null", headers={**WAIT, **json_type}),
            http.post(url, json={}, headers=WAIT),
            http.post(url, content=b" {} \n", headers={**WAIT, **json_type}),
        ]

    for response in responses:
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "completed"
        assert response.json()["output"] == "pong"


def test_action_lists_its_invocations_newest_first() -> None:
    with in_process(ThingServer({"counter": Counter(), "lamp": Lamp()}).app) as http:
        added = [
            http.post("/counter/add", json={"a": a}, headers=WAIT).json()["id"] for a in range(3)
        ]
        http.post("/counter/ping", headers=WAIT)
        http.post("/lamp/toggle", headers=WAIT)

        response = http.get("/counter/add")

    assert response.status_code == 200
    listed = response.json()
    assert [item["id"] for item in listed] == added[::-1]
    for item in listed:
        assert set(item) >= SUMMARY_KEYS
        assert not {"input", "output", "log", "error"} & set(item)
        assert item["action"] == "/counter/add"
        assert item["href"] == f"{BASE}/action_invocations/{item['id']}"
        assert links(item)["self"] == item["href"]


def test_all_invocations_list_filters_by_thing_action_and_status() -> None:
    counter = Counter()
    server = ThingServer({"counter": counter, "lamp": Lamp()})
    with in_process(server.app) as http:
        http.post("/counter/add", json={"a": 1}, headers=WAIT)
        http.post("/counter/fail", headers=WAIT)
        held = http.post("/counter/hold").json()
        toggles = [http.post("/lamp/toggle", headers=WAIT).json() for _ in range(2)]

        def listed(query: str) -> list[tuple[str, str]]:
            response = http.get(f"/action_invocations/{query}")
            assert response.status_code == 200
            return [(item["action"], item["status"]) for item in response.json()]

        assert listed("") == [
            ("/lamp/toggle", "completed"),
            ("/lamp/toggle", "completed"),
            ("/counter/hold", "running"),
            ("/counter/fail", "error"),
            ("/counter/add", "completed"),
        ]
        assert http.get("/action_invocations").json() == http.get("/action_invocations/").json()
        assert listed("?thing=lamp") == [("/lamp/toggle", "completed")] * 2
        assert listed("?action=fail") == [("/counter/fail", "error")]
        assert listed("?thing=counter&status=completed") == [("/counter/add", "completed")]
        assert listed("?status=running") == [("/counter/hold", "running")]
        assert listed("?thing=lamp&action=add") == []
        assert listed("?thing=nobody") == []
        ids = [item["id"] for item in http.get("/lamp/toggle").json()]
        assert ids == [toggle["id"] for toggle in reversed(toggles)]
        on_loop(http, counter.gate.set)
        finish(http, server, held["id"])
        assert listed("?status=running") == []


def test_invocation_lists_are_paged_by_limit_cursor_and_offset() -> None:
    server = ThingServer({"counter": Counter(), "lamp": Lamp()})

    def invoke_both() -> str:
        server.manager.invoke_action("lamp", "toggle")
        return str(server.manager.invoke_action("counter", "ping").id)

    with in_process(server.app) as http:
        ids = [on_loop(http, invoke_both) for _ in range(25)]
        newest_first = ids[::-1]

        pages: list[list[str]] = []
        url: str | None = "/action_invocations/?thing=counter&limit=10"
        while url is not None:
            response = http.get(url)
            assert response.status_code == 200
            pages.append([item["id"] for item in response.json()])
            url = next_link(response)
            if url is not None:
                assert url.startswith(f"{BASE}/action_invocations/?")
                assert "thing=counter" in url
                assert "limit=10" in url

        assert [len(page) for page in pages] == [10, 10, 5]
        assert [item for page in pages for item in page] == newest_first

        response = http.get("/action_invocations/?thing=counter&offset=3&limit=2")
        assert [item["id"] for item in response.json()] == newest_first[3:5]
        assert next_link(response) is not None

        response = http.get("/counter/ping?limit=20")
        assert [item["id"] for item in response.json()] == newest_first[:20]
        follow = next_link(response)
        assert follow is not None and follow.startswith(f"{BASE}/counter/ping?")
        assert [item["id"] for item in http.get(follow).json()] == newest_first[20:]

        response = http.get("/counter/ping?limit=25")
        assert len(response.json()) == 25
        assert next_link(response) is None


def test_list_of_a_hundred_thousand_invocations_serves_a_page() -> None:
    total = 100_000
    server = ThingServer({"counter": Counter()}, max_retained=200_000, event_buffer=1)
    manager = server.manager

    async def invoke_all() -> list[str]:
        ids: list[str] = []
        # Collecting cycles among 100,000 live invocations costs more than
        # creating them; nothing here needs collecting until the test ends.
        gc.disable()
        try:
            for index in range(total):
                invocation = manager.invoke_action("counter", "ping")
                ids.append(str(invocation.id))
                if index % 5000 == 4999:
                    await invocation.wait()
            await invocation.wait()
        finally:
            gc.enable()
        return ids

    with in_process(server.app) as http:
        ids = on_loop(http, invoke_all)[::-1]
        assert len(manager) == total

        first = http.get("/action_invocations/?limit=50")
        assert [item["id"] for item in first.json()] == ids[:50]
        deep = http.get("/action_invocations/?offset=99990&limit=50")
        assert [item["id"] for item in deep.json()] == ids[99_990:]
        assert next_link(deep) is None

        cursor = next_link(first)
        assert cursor is not None
        second = http.get(cursor)
        assert [item["id"] for item in second.json()] == ids[50:100]
        near_the_end = http.get("/counter/ping?limit=3&before=3")
        assert [item["id"] for item in near_the_end.json()] == ids[-2:]
        none_failed = http.get("/action_invocations/?status=error&limit=10")
        assert none_failed.json() == []


def test_output_serves_every_completed_value_including_falsy_ones() -> None:
    expected: dict[str, Any] = {
        "zero": 0,
        "empty_string": "",
        "empty_list": [],
        "false": False,
        "nothing": None,
    }
    with in_process(ThingServer({"counter": Counter()}).app) as http:
        for action, value in expected.items():
            invocation = http.post(f"/counter/{action}", headers=WAIT).json()
            assert invocation["status"] == "completed"
            response = http.get(links(invocation)["output"])
            assert response.status_code == 200, action
            assert response.headers["content-type"] == "application/json"
            assert response.json() == value
            assert invocation["output"] == value


def test_output_is_409_with_the_status_until_completed() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}).app) as http:
        held = http.post("/counter/hold").json()
        failed = http.post("/counter/fail", headers=WAIT).json()

        running = http.get(links(held)["output"])
        error = http.get(links(failed)["output"])
        on_loop(http, counter.gate.set)

    assert running.status_code == 409
    assert running.headers["content-type"] == "application/problem+json"
    assert "running" in running.json()["detail"]
    assert error.status_code == 409
    assert "error" in error.json()["detail"]


def test_delete_cancels_a_running_threaded_invocation() -> None:
    counter = Counter()
    server = ThingServer({"counter": counter})
    with in_process(server.app) as http:
        invocation = http.post("/counter/sleep").json()
        assert counter.started.wait(10)

        response = http.delete(invocation["href"])

        assert response.status_code == 200
        assert response.json()["id"] == invocation["id"]
        assert response.json()["status"] in ("running", "cancelled")
        finish(http, server, invocation["id"])
        cancelled = http.get(invocation["href"]).json()
        assert cancelled["status"] == "cancelled"
        assert cancelled["error"]["title"] == "InvocationCancelledError"

        again = http.delete(invocation["href"])
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "cancelled" in again.json()["detail"]


def test_delete_cancels_a_pending_invocation_at_once() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}, max_threads=1).app) as http:
        running = http.post("/counter/sleep").json()
        assert counter.started.wait(10)
        queued = http.post("/counter/add", json={"a": 1}).json()
        assert queued["status"] == "pending"

        response = http.delete(queued["href"])

        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        assert response.json()["timeStarted"] is None
        assert http.delete(running["href"]).status_code == 200


def test_delete_cancels_an_async_invocation() -> None:
    server = ThingServer({"counter": Counter()})
    with in_process(server.app) as http:
        invocation = http.post("/counter/hold").json()

        response = http.delete(invocation["href"])

        assert response.status_code == 200
        assert response.json()["id"] == invocation["id"]
        finish(http, server, invocation["id"])
        assert http.get(invocation["href"]).json()["status"] == "cancelled"


def test_delete_of_a_finished_invocation_is_409() -> None:
    with in_process(ThingServer({"counter": Counter()}).app) as http:
        invocation = http.post("/counter/ping", headers=WAIT).json()

        response = http.delete(invocation["href"])

        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert "completed" in response.json()["detail"]
        assert http.get(invocation["href"]).json()["status"] == "completed"


def test_properties_are_read_and_written() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}).app) as http:
        assert http.get("/counter/count").json() == 0
        written = http.put("/counter/count", json=7)
        assert written.status_code == 204
        assert written.content == b""
        assert http.get("/counter/count").json() == 7
        assert counter.count == 7

        assert http.put("/counter/origin", json={"x": 1, "y": 2.5}).status_code == 204
        assert http.get("/counter/origin").json() == {"x": 1.0, "y": 2.5}
        assert counter.origin == Point(1.0, 2.5)

        assert http.put("/counter/scale", json=3).status_code == 204
        assert http.get("/counter/scale").json() == 3
        assert http.get("/counter/label").json() == "a counter"


def test_property_write_is_validated_with_the_failing_path() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}).app) as http:
        too_big = http.put("/counter/count", json=5000)
        wrong_field = http.put("/counter/origin", json={"x": 1, "y": "north"})

    assert too_big.status_code == 422
    assert too_big.headers["content-type"] == "application/problem+json"
    assert too_big.json()["errors"] == [{"path": "$", "message": "Expected `int` <= 1000"}]
    assert wrong_field.status_code == 422
    assert wrong_field.json()["errors"][0]["path"] == "$.y"
    assert "str" in wrong_field.json()["detail"]
    assert counter.count == 0
    assert counter.origin == Point(0.0, 0.0)


def test_read_only_property_write_is_405_with_allow() -> None:
    counter = Counter()
    with in_process(ThingServer({"counter": counter}).app) as http:
        response = http.put("/counter/label", json="changed")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "PUT /counter/label is not allowed; use GET, HEAD"
    assert counter.label == "a counter"


def test_index_and_thing_descriptions_are_served() -> None:
    with in_process(ThingServer({"counter": Counter(), "lamp": Lamp()}).app) as http:
        index = http.get("/things/")
        assert index.status_code == 200
        assert index.json() == {"counter": f"{BASE}/counter/", "lamp": f"{BASE}/lamp/"}
        assert http.get("/things").json() == index.json()

        descriptions = http.get("/thing_descriptions/").json()
        assert set(descriptions) == {"counter", "lamp"}
        assert http.get("/thing_descriptions").json() == descriptions

        for name in ("counter", "lamp"):
            with_slash = http.get(f"/{name}/")
            without_slash = http.get(f"/{name}")
            assert with_slash.status_code == without_slash.status_code == 200
            assert with_slash.json() == without_slash.json() == descriptions[name]

    td = descriptions["counter"]
    assert td["title"] == "Counter"
    assert td["description"] == "Counts things and does arithmetic."
    assert td["base"] == f"{BASE}/counter/"
    assert set(td["properties"]) == {"count", "origin", "label", "scale"}
    assert td["properties"]["label"]["readOnly"] is True
    assert td["properties"]["count"]["type"] == "integer"
    assert td["properties"]["count"]["maximum"] == 1000
    assert operations(td["properties"]["count"]) >= {
        ("count", "readproperty", "GET"),
        ("count", "writeproperty", "PUT"),
    }
    assert ("label", "readproperty", "GET") in operations(td["properties"]["label"])
    assert not any(op == "writeproperty" for _, op, _ in operations(td["properties"]["label"]))
    assert set(td["actions"]) == {
        "add",
        "ping",
        "hold",
        "sleep",
        "fail",
        "zero",
        "empty_string",
        "empty_list",
        "false",
        "nothing",
    }
    add = td["actions"]["add"]
    assert add["input"]["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer", "default": 1},
    }
    assert add["input"]["required"] == ["a"]
    assert add["output"] == {"type": "integer"}
    assert ("add", "invokeaction", "POST") in operations(add)


def operations(affordance: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(href, op, method) of every form of an affordance."""
    return {
        (form["href"], op, form["htv:methodName"])
        for form in affordance["forms"]
        for op in form["op"]
    }


def test_hrefs_are_absolute_behind_a_prefix() -> None:
    base = f"{BASE}/api"
    with in_process(ThingServer({"counter": Counter()}, prefix="/api").app) as http:
        assert http.get("/things/").status_code == 404
        assert http.get("/api/things/").json() == {"counter": f"{base}/counter/"}
        assert http.get("/api/counter/").json()["base"] == f"{base}/counter/"
        descriptions = http.get("/api/thing_descriptions/").json()
        assert descriptions["counter"]["base"] == f"{base}/counter/"

        response = http.post("/api/counter/add", json={"a": 1}, headers=WAIT)
        invocation = response.json()
        href = f"{base}/action_invocations/{invocation['id']}"
        assert response.headers["location"] == href
        assert invocation["href"] == href
        assert links(invocation) == {
            "self": href,
            "output": f"{href}/output",
            "events": f"{href}/events",
            "cancel": href,
        }
        assert http.get(href).json()["output"] == 2
        assert http.get(f"{href}/output").json() == 2

        http.post("/api/counter/add", json={"a": 2}, headers=WAIT)
        page = http.get("/api/action_invocations/?limit=1")
        assert page.json()[0]["href"].startswith(f"{base}/action_invocations/")
        follow = next_link(page)
        assert follow is not None and follow.startswith(f"{base}/action_invocations/?")
        assert [item["id"] for item in http.get(follow).json()] == [invocation["id"]]
        assert http.get("/api/openapi.json").json()["servers"] == [{"url": base}]


def test_a_path_with_a_trailing_slash_too_many_or_too_few_is_redirected() -> None:
    with in_process(ThingServer({"counter": Counter()}, prefix="/api").app) as http:
        for path, target in [
            ("/api/counter/count/", "/api/counter/count"),
            ("/api/action_invocations/events/", "/api/action_invocations/events"),
        ]:
            response = http.get(path)
            assert response.status_code == 307, path
            assert response.headers["location"] == f"{BASE}{target}"
        for path in ("/api/things", "/api/things/", "/api/counter", "/api/counter/"):
            assert http.get(path).status_code == 200, path


def test_invocation_ids_are_uuids_that_round_trip() -> None:
    with in_process(ThingServer({"counter": Counter()}).app) as http:
        invocation = http.post("/counter/ping", headers=WAIT).json()

        upper = str(uuid.UUID(invocation["id"])).upper()
        response = http.get(f"/action_invocations/{upper}")

    assert response.status_code == 200
    assert response.json()["id"] == invocation["id"]
