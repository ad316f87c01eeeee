"""Bad input everywhere: every error is problem+json, and none is a server error."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import msgspec
import pytest
from conftest import ServeThings

import labthings_async as lt
from labthings_async.server import ThingServer

PROBLEM_JSON = "application/problem+json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class Point(msgspec.Struct):
    x: float
    y: float


class Sensor(lt.Thing):
    level: int = lt.property(default=0, ge=0)
    serial: str = lt.property(default="SN-1", readonly=True)

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    @lt.action
    def measure(self, samples: int, where: Point | None = None) -> float:
        return float(samples)

    @lt.action
    async def ping(self) -> str:
        return "pong"

    @lt.action
    def block(self) -> None:
        self.started.set()
        self.release.wait(10)


class Amplifier(lt.Thing):
    def __init__(self) -> None:
        self._gain = 1

    @lt.property
    def gain(self) -> int:
        return self._gain

    @gain.setter  # type: ignore[no-redef]
    def gain(self, value: int) -> None:
        if value & (value - 1):
            raise ValueError(f"gain must be a power of two, not {value}")
        self._gain = value


class FaultySensor(Sensor):
    @lt.property
    def temperature(self) -> float:
        raise RuntimeError("the sensor is unplugged")

    @lt.property
    def humidity(self) -> float:
        raise ValueError("reading out of range")


def assert_problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert "Traceback" not in response.text
    return problem


async def test_truncated_json_is_400(serve_things: ServeThings, client: httpx2.AsyncClient) -> None:
    base = await serve_things(ThingServer({"sensor": Sensor()}))
    json_type = {"Content-Type": "application/json"}

    action = await client.post(
        f"{base}/sensor/measure", content=b'{"samples": 1', headers=json_type
    )
    prop = await client.put(f"{base}/sensor/level", content=b"12e", headers=json_type)
    empty = await client.put(f"{base}/sensor/level", content=b"", headers=json_type)

    for response in (action, prop, empty):
        problem = assert_problem(response, 400)
        assert problem["title"] == "Malformed JSON"
        assert "not valid JSON" in problem["detail"]
    assert (await client.get(f"{base}/action_invocations/")).json() == []


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({"samples": "many"}, "$.samples", "Expected `int`, got `str`"),
        ({}, "$", "missing required field `samples`"),
        ({"samples": 1, "colour": "red"}, "$", "unknown field `colour`"),
        ({"samples": 1, "where": {"x": "left", "y": 1}}, "$.where.x", "Expected `float`"),
        ({"samples": 1, "where": {"x": 1}}, "$.where", "missing required field `y`"),
        ([1, 2], "$", "Expected `object`, got `array`"),
        (None, "$", "missing required field `samples`"),
    ],
)
async def test_input_that_breaks_the_schema_is_422_with_the_failing_path(
    serve_things: ServeThings, client: httpx2.AsyncClient, body: Any, path: str, words: str
) -> None:
    base = await serve_things(ThingServer({"sensor": Sensor()}))

    response = await client.post(f"{base}/sensor/measure", json=body)

    problem = assert_problem(response, 422)
    assert [issue["path"] for issue in problem["errors"]] == [path]
    assert words in problem["errors"][0]["message"]
    assert words in problem["detail"]
    assert "measure" in problem["detail"]


async def test_property_value_that_breaks_the_schema_is_422(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    sensor = Sensor()
    base = await serve_things(ThingServer({"sensor": sensor}))

    wrong_type = await client.put(f"{base}/sensor/level", json="high")
    negative = await client.put(f"{base}/sensor/level", json=-1)

    assert assert_problem(wrong_type, 422)["errors"][0]["path"] == "$"
    assert "Expected `int`, got `str`" in wrong_type.json()["detail"]
    assert ">= 0" in assert_problem(negative, 422)["detail"]
    assert sensor.level == 0


async def test_value_a_setter_refuses_is_422(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    base = await serve_things(ThingServer({"amplifier": Amplifier()}))

    refused = await client.put(f"{base}/amplifier/gain", json=3)
    accepted = await client.put(f"{base}/amplifier/gain", json=4)

    assert "gain must be a power of two, not 3" in assert_problem(refused, 422)["detail"]
    assert accepted.status_code == 204
    assert (await client.get(f"{base}/amplifier/gain")).json() == 4


async def test_body_that_is_not_json_is_415(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    base = await serve_things(ThingServer({"sensor": Sensor()}))

    responses = [
        await client.post(
            f"{base}/sensor/measure", content=b"samples=3", headers={"Content-Type": ct}
        )
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml")
    ]
    responses.append(
        await client.put(
            f"{base}/sensor/level", content=b"3", headers={"Content-Type": "text/plain"}
        )
    )

    for response in responses:
        assert "application/json" in assert_problem(response, 415)["detail"]
    assert (await client.get(f"{base}/action_invocations/")).json() == []
    accepted = await client.post(
        f"{base}/sensor/measure",
        content=b'{"samples": 3}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert accepted.status_code == 201


async def test_bodies_over_the_limit_are_413_declared_or_chunked(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    limit = 64
    base = await serve_things(ThingServer({"sensor": Sensor()}, body_limit=limit))
    json_type = {"Content-Type": "application/json"}
    padded = b'{"samples": 1' + b" " * 100 + b"}"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(padded), 20):
            yield padded[start : start + 20]

    declared = await client.post(f"{base}/sensor/measure", content=padded, headers=json_type)
    chunked = await client.post(f"{base}/sensor/measure", content=chunks(), headers=json_type)
    prop = await client.put(f"{base}/sensor/level", content=b"1" + b" " * 100, headers=json_type)

    assert "content-length" in declared.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    for response in (declared, chunked, prop):
        assert str(limit) in assert_problem(response, 413)["detail"]
    assert (await client.get(f"{base}/action_invocations/")).json() == []

    exactly = b'{"samples": 2}'.ljust(limit)
    assert len(exactly) == limit
    accepted = await client.post(f"{base}/sensor/measure", content=exactly, headers=json_type)
    assert accepted.status_code == 201


async def test_unknown_things_affordances_and_invocations_are_404(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    base = await serve_things(ThingServer({"sensor": Sensor()}))
    unknown_id = uuid.uuid4()
    requests = [
        ("GET", "/nope/"),
        ("GET", "/nope"),
        ("GET", "/nope/level"),
        ("PUT", "/nope/level"),
        ("POST", "/nope/ping"),
        ("GET", "/sensor/nope"),
        ("PUT", "/sensor/nope"),
        ("POST", "/sensor/nope"),
        ("GET", "/sensor/level/nope"),
        ("GET", "/sensor/ping/deeper/still"),
    ]
    for invocation_id in (str(unknown_id), "not-a-uuid", "12345", "%20"):
        requests += [
            ("GET", f"/action_invocations/{invocation_id}"),
            ("DELETE", f"/action_invocations/{invocation_id}"),
            ("GET", f"/action_invocations/{invocation_id}/output"),
        ]

    for method, path in requests:
        response = await client.request(method, f"{base}{path}", json=1)
        problem = assert_problem(response, 404)
        assert problem["instance"] == path.replace("%20", " ") or problem["instance"] == path

    thing = assert_problem(await client.get(f"{base}/nope/"), 404)
    assert "'nope'" in thing["detail"] and "sensor" in thing["detail"]
    affordance = assert_problem(await client.get(f"{base}/sensor/nope"), 404)
    assert "'nope'" in affordance["detail"] and "level" in affordance["detail"]
    invocation = assert_problem(await client.get(f"{base}/action_invocations/{unknown_id}"), 404)
    assert str(unknown_id) in invocation["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=ten",
        "limit=1.5",
        "limit=%C2%B2",
        "limit=99999999999999999999999999",
        "limit=" + "9" * 5000,
        "before=-3",
        "before=%D9%A3",
        "offset=x",
        "status=done",
        "status=",
    ],
)
async def test_bad_list_queries_are_422(
    serve_things: ServeThings, client: httpx2.AsyncClient, query: str
) -> None:
    base = await serve_things(ThingServer({"sensor": Sensor()}))

    for path in ("/action_invocations/", "/sensor/ping"):
        problem = assert_problem(await client.get(f"{base}{path}?{query}"), 422)
        name = query.partition("=")[0]
        assert problem["errors"][0]["path"] == f"$.query.{name}"
        assert len(problem["detail"]) < 300


async def test_every_method_on_every_route_is_answered_without_a_server_error(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"sensor": Sensor()})
    base = await serve_things(server)
    finished = (await client.post(f"{base}/sensor/ping", headers={"Prefer": "wait=10"})).json()
    assert finished["status"] == "completed"
    invocation = f"/action_invocations/{finished['id']}"
    read = {"GET", "HEAD"}
    routes: dict[str, set[str]] = {
        "/things/": read,
        "/things": read,
        "/thing_descriptions/": read,
        "/thing_descriptions": read,
        "/openapi.json": read,
        "/sensor/": read,
        "/sensor": read,
        "/sensor/properties": read,
        "/sensor/events": read,
        "/sensor/level": read | {"PUT"},
        "/sensor/serial": read,
        "/sensor/level/events": read,
        "/sensor/level/values": read,
        "/sensor/ping": read | {"POST"},
        "/sensor/measure": read | {"POST"},
        "/action_invocations/": read,
        "/action_invocations": read,
        "/action_invocations/events": read,
        invocation: read | {"DELETE"},
        f"{invocation}/output": read,
        f"{invocation}/events": read,
    }
    unknown = ["/nope/level/deep/er", "/sensor/level/nope", f"{invocation}/nope"]

    async def answer(method: str, path: str) -> httpx2.Response:
        request = client.build_request(method, f"{base}{path}", json={"samples": 1})
        response = await client.send(request, stream=True)
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                await response.aread()
        finally:
            await response.aclose()
        return response

    for path, allowed in routes.items():
        for method in METHODS:
            response = await answer(method, path)
            where = f"{method} {path} -> {response.status_code}"
            assert response.status_code < 500, where
            if method not in allowed:
                assert response.status_code == 405, where
                allow = set(response.headers["allow"].split(", "))
                assert allow - {"HEAD"} == allowed - {"HEAD"}, where
            if response.status_code >= 400:
                assert response.headers["content-type"] == PROBLEM_JSON, where
                if method != "HEAD":
                    assert_problem(response, response.status_code)
    for path in unknown:
        for method in METHODS:
            response = await answer(method, path)
            assert response.status_code == 404, f"{method} {path}"
            if method != "HEAD":
                assert_problem(response, 404)


async def test_full_queue_is_503_with_retry_after(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    sensor = Sensor()
    base = await serve_things(ThingServer({"sensor": sensor}, max_threads=1, max_pending=1))
    try:
        running = await client.post(f"{base}/sensor/block")
        assert running.status_code == 201
        assert await asyncio.to_thread(sensor.started.wait, 10)
        queued = await client.post(f"{base}/sensor/block")
        assert queued.status_code == 201
        assert queued.json()["status"] == "pending"

        refused = await client.post(f"{base}/sensor/block")
        also_refused = await client.post(f"{base}/sensor/measure", json={"samples": 1})
        async_accepted = await client.post(f"{base}/sensor/ping", headers={"Prefer": "wait=10"})
    finally:
        sensor.release.set()

    for response in (refused, also_refused):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    assert async_accepted.json()["status"] == "completed"
    listed = (await client.get(f"{base}/action_invocations/?action=block")).json()
    assert len(listed) == 2


async def test_unexpected_getter_error_is_a_logged_500_without_a_traceback(
    serve_things: ServeThings, client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    base = await serve_things(ThingServer({"sensor": FaultySensor()}))

    with caplog.at_level(logging.ERROR, logger="labthings_async"):
        runtime = await client.get(f"{base}/sensor/temperature")
        value = await client.get(f"{base}/sensor/humidity")

    for response in (runtime, value):
        problem = assert_problem(response, 500)
        assert 'File "' not in problem["detail"]
    assert "temperature" in runtime.json()["detail"]
    logged = [record for record in caplog.records if record.exc_info is not None]
    assert len(logged) == 2
    assert "the sensor is unplugged" in caplog.text
    assert "Traceback" in caplog.text


async def test_unexpected_getter_error_shows_its_traceback_in_debug_mode(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    base = await serve_things(ThingServer({"sensor": FaultySensor()}, debug=True))

    response = await client.get(f"{base}/sensor/temperature")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    detail = response.json()["detail"]
    assert "Traceback" in detail
    assert "the sensor is unplugged" in detail
    assert "def temperature" in detail or "in temperature" in detail


async def test_truncated_json_is_malformed_even_when_its_start_has_the_wrong_type(
    serve_things: ServeThings,
) -> None:
    class Dial(lt.Thing):
        level: int = lt.property(default=0)

    root = await serve_things(lt.ThingServer({"dial": Dial()}))
    async with httpx2.AsyncClient() as http:
        reply = await http.put(
            f"{root}/dial/level", content=b"[1, ", headers={"content-type": "application/json"}
        )
    assert reply.status_code == 400
    assert reply.json()["title"] == "Malformed JSON"


async def test_all_properties_names_the_getter_that_failed(serve_things: ServeThings) -> None:
    class Faulty(lt.Thing):
        @lt.property
        def temperature(self) -> float:
            raise OSError("sensor unplugged")

    root = await serve_things(lt.ThingServer({"faulty": Faulty()}))
    async with httpx2.AsyncClient() as http:
        reply = await http.get(f"{root}/faulty/properties")
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == (
        "reading property 'temperature' failed: OSError: sensor unplugged"
    )
