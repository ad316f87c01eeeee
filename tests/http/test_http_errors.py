"""Bad input everywhere: every error is problem+json, and none is a server error.

In-process (Starlette's TestClient) where a plain reply is enough; end to end
against a real hypercorn where the wire matters: a chunked upload, a body the
server must refuse before it arrives, what the server logs, every method on
every route including the event streams.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import msgspec
import pytest
from conftest import ServeThings
from inprocess import in_process

import labthings_async as lt
from labthings_async.server import ThingServer

PROBLEM_JSON = "application/problem+json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
JSON_TYPE = {"Content-Type": "application/json"}


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


class Opaque(lt.Thing):
    """Holds a value no JSON encoder knows: reading it fails in a way nothing expects."""

    value: Any = lt.property(default=None)


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


def test_truncated_json_is_400() -> None:
    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        action = http.post("/sensor/measure", content=b'{"samples": 1', headers=JSON_TYPE)
        prop = http.put("/sensor/level", content=b"12e", headers=JSON_TYPE)
        empty = http.put("/sensor/level", content=b"", headers=JSON_TYPE)
        for response in (action, prop, empty):
            problem = assert_problem(response, 400)
            assert problem["title"] == "Malformed JSON"
            assert "not valid JSON" in problem["detail"]
        assert http.get("/action_invocations/").json() == []


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
def test_input_that_breaks_the_schema_is_422_with_the_failing_path(
    body: Any, path: str, words: str
) -> None:
    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        response = http.post("/sensor/measure", json=body)

    problem = assert_problem(response, 422)
    assert [issue["path"] for issue in problem["errors"]] == [path]
    assert words in problem["errors"][0]["message"]
    assert words in problem["detail"]
    assert "measure" in problem["detail"]


def test_property_value_that_breaks_the_schema_is_422() -> None:
    sensor = Sensor()
    with in_process(ThingServer({"sensor": sensor}).app) as http:
        wrong_type = http.put("/sensor/level", json="high")
        negative = http.put("/sensor/level", json=-1)

    assert assert_problem(wrong_type, 422)["errors"][0]["path"] == "$"
    assert "Expected `int`, got `str`" in wrong_type.json()["detail"]
    assert ">= 0" in assert_problem(negative, 422)["detail"]
    assert sensor.level == 0


def test_value_a_setter_refuses_is_422() -> None:
    with in_process(ThingServer({"amplifier": Amplifier()}).app) as http:
        refused = http.put("/amplifier/gain", json=3)
        accepted = http.put("/amplifier/gain", json=4)
        assert http.get("/amplifier/gain").json() == 4

    assert "gain must be a power of two, not 3" in assert_problem(refused, 422)["detail"]
    assert accepted.status_code == 204


def test_body_that_is_not_json_is_415() -> None:
    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        responses = [
            http.post("/sensor/measure", content=b"samples=3", headers={"Content-Type": ct})
            for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml")
        ]
        responses.append(
            http.put("/sensor/level", content=b"3", headers={"Content-Type": "text/plain"})
        )

        for response in responses:
            assert "application/json" in assert_problem(response, 415)["detail"]
        assert http.get("/action_invocations/").json() == []
        accepted = http.post(
            "/sensor/measure",
            content=b'{"samples": 3}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert accepted.status_code == 201
        # An empty form is what another site's page sends to run an action
        # with no arguments: refused too. No body and no type is no input.
        empty = http.post("/sensor/ping", content=b"", headers={"Content-Type": "text/plain"})
        assert "application/json" in assert_problem(empty, 415)["detail"]
        bare = http.post("/sensor/ping")
        assert bare.status_code == 201, bare.text


@pytest.mark.parametrize(
    ("content_type", "length", "status"),
    [("text/plain", 1024 * 1024, 415), ("application/json", 1024 * 1024 + 1, 413)],
)
async def test_a_body_the_headers_rule_out_is_refused_before_a_byte_of_it_arrives(
    serve_things: ServeThings, content_type: str, length: int, status: int
) -> None:
    root = await serve_things(ThingServer({"sensor": Sensor()}))
    reader, writer = await asyncio.open_connection("127.0.0.1", urlsplit(root).port)
    try:
        writer.write(
            b"POST /sensor/measure HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (content_type.encode(), length)
        )
        await writer.drain()
        # Not a byte of the body is sent: a server that read it first would wait for good.
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 %d " % status), head


def test_a_declared_body_over_the_limit_is_413() -> None:
    limit = 64
    padded = b'{"samples": 1' + b" " * 100 + b"}"
    with in_process(ThingServer({"sensor": Sensor()}, body_limit=limit).app) as http:
        action = http.post("/sensor/measure", content=padded, headers=JSON_TYPE)
        prop = http.put("/sensor/level", content=b"1" + b" " * 100, headers=JSON_TYPE)
        for response in (action, prop):
            assert "content-length" in response.request.headers
            assert str(limit) in assert_problem(response, 413)["detail"]
        assert http.get("/action_invocations/").json() == []

        exactly = b'{"samples": 2}'.ljust(limit)
        assert len(exactly) == limit
        accepted = http.post("/sensor/measure", content=exactly, headers=JSON_TYPE)
        assert accepted.status_code == 201


async def test_a_chunked_body_over_the_limit_is_413(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    limit = 64
    base = await serve_things(ThingServer({"sensor": Sensor()}, body_limit=limit))
    padded = b'{"samples": 1' + b" " * 100 + b"}"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(padded), 20):
            yield padded[start : start + 20]

    chunked = await client.post(f"{base}/sensor/measure", content=chunks(), headers=JSON_TYPE)

    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert str(limit) in assert_problem(chunked, 413)["detail"]
    assert (await client.get(f"{base}/action_invocations/")).json() == []


def test_unknown_things_affordances_and_invocations_are_404() -> None:
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

    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        for method, path in requests:
            response = http.request(method, path, json=1)
            problem = assert_problem(response, 404)
            assert problem["instance"] in (path, path.replace("%20", " "))

        thing = assert_problem(http.get("/nope/"), 404)
        affordance = assert_problem(http.get("/sensor/nope"), 404)
        invocation = assert_problem(http.get(f"/action_invocations/{unknown_id}"), 404)
        not_an_id = assert_problem(http.get("/action_invocations/12345"), 404)
        below = assert_problem(http.get("/sensor/ping/deeper/still"), 404)

    assert thing["title"] == "Thing not found"
    assert thing["detail"] == "no Thing called 'nope'; the Things here are ['sensor']"
    assert affordance["title"] == "Affordance not found"
    assert "'nope'" in affordance["detail"] and "level" in affordance["detail"]
    assert invocation["title"] == "Invocation not found"
    assert str(unknown_id) in invocation["detail"]
    assert "'12345' is not an invocation ID" in not_an_id["detail"]
    assert below["detail"] == "nothing is served at GET /sensor/ping/deeper/still"


def test_route_words_are_never_taken_for_a_thing_affordance_or_invocation() -> None:
    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        for method, path in [
            ("POST", "/sensor/events"),
            ("PUT", "/sensor/properties"),
            ("DELETE", "/action_invocations/events"),
            ("POST", "/things/"),
            ("DELETE", "/openapi.json"),
        ]:
            response = http.request(method, path)
            problem = assert_problem(response, 405)
            assert response.headers["allow"] == "GET, HEAD", path
            assert problem["title"] == "Method Not Allowed"
            assert problem["detail"] == f"{method} {path} is not allowed; use GET, HEAD"
        post_to_property = http.post("/sensor/level")
        assert post_to_property.headers["allow"] == "GET, HEAD, PUT"
        delete_an_action = http.delete("/sensor/ping")
        assert delete_an_action.headers["allow"] == "GET, HEAD, POST"


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
def test_bad_list_queries_are_422(query: str) -> None:
    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        for path in ("/action_invocations/", "/sensor/ping"):
            problem = assert_problem(http.get(f"{path}?{query}"), 422)
            name = query.partition("=")[0]
            assert problem["errors"][0]["path"] == f"$.query.{name}"
            assert len(problem["detail"]) < 300


def test_a_bad_query_parameter_is_named_with_what_it_takes() -> None:
    with in_process(ThingServer({"sensor": Sensor()}).app) as http:
        limit = assert_problem(http.get("/action_invocations/?limit=20000"), 422)
        status = assert_problem(http.get("/sensor/ping?status=done"), 422)
        reply = assert_problem(http.post("/sensor/ping?reply=invocation"), 422)
        assert http.get("/action_invocations/").json() == []

    assert limit["errors"] == [{"path": "$.query.limit", "message": "Expected `int` <= 10000"}]
    assert limit["detail"] == "query parameter 'limit' is '20000': Expected `int` <= 10000"
    assert status["errors"][0]["path"] == "$.query.status"
    assert status["detail"] == (
        "query parameter 'status' is 'done': Invalid enum value 'done'; "
        "expected one of pending, running, completed, cancelled, error"
    )
    assert reply["errors"][0]["path"] == "$.query.reply"
    assert reply["detail"].endswith("expected one of output")


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


def test_full_queue_is_503_with_retry_after() -> None:
    sensor = Sensor()
    with in_process(ThingServer({"sensor": sensor}, max_threads=1, max_pending=1).app) as http:
        try:
            running = http.post("/sensor/block")
            assert running.status_code == 201
            assert sensor.started.wait(10)
            queued = http.post("/sensor/block")
            assert queued.status_code == 201
            assert queued.json()["status"] == "pending"

            refused = http.post("/sensor/block")
            also_refused = http.post("/sensor/measure", json={"samples": 1})
            async_refused = http.post("/sensor/ping", headers={"Prefer": "wait=10"})
        finally:
            sensor.release.set()
        listed = http.get("/action_invocations/?action=block").json()

    for response in (refused, also_refused, async_refused):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    assert len(listed) == 2


def test_unexpected_getter_error_is_a_logged_500_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.ERROR),
        in_process(ThingServer({"sensor": FaultySensor()}).app) as http,
    ):
        runtime = http.get("/sensor/temperature")
        value = http.get("/sensor/humidity")

    for response in (runtime, value):
        problem = assert_problem(response, 500)
        assert 'File "' not in problem["detail"]
    assert "temperature" in runtime.json()["detail"]
    logged = [record for record in caplog.records if record.exc_info is not None]
    assert [record.name for record in logged] == ["labthings_async.server"] * 2
    assert "the sensor is unplugged" in caplog.text
    assert "Traceback" in caplog.text


def test_unexpected_getter_error_shows_its_traceback_in_debug_mode() -> None:
    with in_process(ThingServer({"sensor": FaultySensor()}, debug=True).app) as http:
        response = http.get("/sensor/temperature")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    detail = response.json()["detail"]
    assert "Traceback" in detail
    assert "the sensor is unplugged" in detail
    assert "def temperature" in detail or "in temperature" in detail


def test_an_exception_nothing_expects_is_answered_500_and_does_not_escape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    opaque = Opaque()
    opaque.value = object()
    # The TestClient re-raises any exception that escapes the app.
    with caplog.at_level(logging.ERROR), in_process(ThingServer({"opaque": opaque}).app) as http:
        response = http.get("/opaque/value")
        debugged = ThingServer({"opaque": opaque}, debug=True)
        with in_process(debugged.app) as debug_http:
            debug_response = debug_http.get("/opaque/value")

    problem = assert_problem(response, 500)
    assert problem == {
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the server failed unexpectedly; the error is in the server log",
        "instance": "/opaque/value",
    }
    assert "Encoding objects of type object is unsupported" in debug_response.json()["detail"]
    logged = [record for record in caplog.records if record.exc_info is not None]
    assert [record.getMessage() for record in logged] == ["error in GET /opaque/value"] * 2


async def test_a_server_fault_is_logged_once_and_never_reaches_hypercorn(
    serve_things: ServeThings, client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    opaque = Opaque()
    opaque.value = object()
    base = await serve_things(ThingServer({"opaque": opaque, "sensor": FaultySensor()}))

    with caplog.at_level(logging.ERROR):
        unexpected = await client.get(f"{base}/opaque/value")
        getter = await client.get(f"{base}/sensor/temperature")
        after = await client.get(f"{base}/sensor/level")

    assert_problem(unexpected, 500)
    assert_problem(getter, 500)
    assert after.json() == 0
    logged = [(record.name, record.getMessage()) for record in caplog.records]
    assert logged == [
        ("labthings_async.server", "error in GET /opaque/value"),
        ("labthings_async.server", "error in GET /sensor/temperature"),
    ]


def test_truncated_json_is_malformed_even_when_its_start_has_the_wrong_type() -> None:
    class Dial(lt.Thing):
        level: int = lt.property(default=0)

    with in_process(lt.ThingServer({"dial": Dial()}).app) as http:
        reply = http.put("/dial/level", content=b"[1, ", headers=JSON_TYPE)
    assert reply.status_code == 400
    assert reply.json()["title"] == "Malformed JSON"


def test_all_properties_names_the_getter_that_failed() -> None:
    class Faulty(lt.Thing):
        @lt.property
        def temperature(self) -> float:
            raise OSError("sensor unplugged")

    with in_process(lt.ThingServer({"faulty": Faulty()}).app) as http:
        reply = http.get("/faulty/properties")
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == (
        "reading property 'temperature' failed: OSError: sensor unplugged"
    )
