"""Tokens and roles: only the right people watch the hardware, and fewer still drive it.

Guards issue 14, point 12: there was no authentication at all, so anyone who
could reach an exposed server could drive the hardware. With tokens (off by
default) an ``observe`` token reads and watches, an ``operate`` token also
invokes, writes and cancels; the Thing Description declares the bearer
scheme, so W3C consumers see it; a browser's ``EventSource``, which cannot
send a header, uses a short-lived read-only stream token in the URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import ServeThings
from inprocess import in_process
from serving import bound_socket, quiet_config

import labthings_async as lt
from labthings_async.client import AsyncThingClient, ThingClient
from labthings_async.server import ThingServer
from labthings_async.tokens import Role, StreamTokens, TokenStore, hashed_entry

COMMAND = str(Path(sys.executable).with_name("labthings-async"))
OPERATOR = "operator-token-7f3a9c"
OBSERVER = "observer-token-51d2e0"


class Stage(lt.Thing):
    position: int = lt.property(default=0)

    @lt.action
    def move(self, to: int = 1) -> int:
        self.position = to
        return to

    @lt.action
    async def hold(self) -> None:
        await asyncio.sleep(30)


def secured(**options: Any) -> ThingServer:
    tokens = {"operate": [OPERATOR], "observe": [hashed_entry(OBSERVER)]}
    return ThingServer({"stage": Stage()}, tokens=tokens, **options)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_tokens_the_td_says_nosec_and_anyone_may_use_it() -> None:
    with in_process(ThingServer({"stage": Stage()}).app) as http:
        description = http.get("/stage/").json()
        assert description["security"] == ["nosec_sc"]
        assert http.post("/stage/move", json={"to": 2}).status_code == 201


def test_the_td_declares_the_bearer_scheme_and_stays_readable_to_all() -> None:
    with in_process(secured().app) as http:
        description = http.get("/stage/").json()
        assert description["security"] == ["bearer_sc"]
        scheme = description["securityDefinitions"]["bearer_sc"]
        assert (scheme["scheme"], scheme["in"], scheme["name"]) == (
            "bearer",
            "header",
            "Authorization",
        )
        assert http.get("/things/").status_code == 200
        assert http.get("/openapi.json").status_code == 200
        # The TD anyone reads has no stream token in its hrefs.
        assert "access_token" not in json.dumps(description)


def test_no_token_is_401_with_a_bearer_challenge() -> None:
    with in_process(secured().app) as http:
        for method, path in [
            ("GET", "/stage/position"),
            ("GET", "/action_invocations/"),
            ("GET", "/stage/events"),
            ("POST", "/stage/move"),
        ]:
            reply = http.request(method, path)
            assert reply.status_code == 401, (method, path)
            assert reply.headers["www-authenticate"].startswith("Bearer ")
            assert reply.headers["content-type"] == "application/problem+json"
            assert "Authorization: Bearer TOKEN" in reply.json()["detail"]
        wrong = http.get("/stage/position", headers=bearer("guessed"))
        assert wrong.status_code == 401
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        assert (
            http.get("/stage/position", headers={"Authorization": "Basic eDp5"}).status_code == 401
        )
        assert http.get("/action_invocations/").status_code == 401


def test_an_observer_reads_and_watches_but_changes_nothing() -> None:
    with in_process(secured().app) as http:
        operated = http.post(
            "/stage/move", json={"to": 5}, headers={**bearer(OPERATOR), "Prefer": "wait=10"}
        )
        assert operated.status_code == 201
        invocation = operated.json()
        watcher = bearer(OBSERVER)  # Its file entry is the token's SHA-256 digest.
        assert http.get("/stage/position", headers=watcher).json() == 5
        assert (
            http.get(f"/action_invocations/{invocation['id']}", headers=watcher).status_code == 200
        )
        with http.stream(
            "GET", f"/action_invocations/{invocation['id']}/events", headers=watcher
        ) as stream:
            assert stream.status_code == 200
            assert "completed" in "".join(stream.iter_text())
        for method, path, body in [
            ("POST", "/stage/move", {"to": 9}),
            ("PUT", "/stage/position", 9),
            ("DELETE", f"/action_invocations/{invocation['id']}", None),
        ]:
            refused = http.request(method, path, json=body, headers=watcher)
            assert refused.status_code == 403, (method, path)
            assert "operate token" in refused.json()["detail"]
            assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert http.get("/stage/position", headers=watcher).json() == 5


def test_an_operator_invokes_writes_and_cancels() -> None:
    with in_process(secured().app) as http:
        operator = bearer(OPERATOR)
        assert http.put("/stage/position", json=3, headers=operator).status_code == 204
        held = http.post("/stage/hold", headers=operator).json()
        cancelled = http.delete(f"/action_invocations/{held['id']}", headers=operator)
        assert cancelled.status_code == 200


def test_a_stream_token_opens_event_streams_for_reading_only() -> None:
    with in_process(secured().app) as http:
        assert http.post("/auth/stream-token").status_code == 401
        issued = http.post("/auth/stream-token", headers=bearer(OBSERVER))
        assert issued.status_code == 200
        assert issued.headers["cache-control"] == "no-store"
        token = issued.json()["token"]
        assert issued.json()["parameter"] == "access_token"
        done = http.post(
            "/stage/move", json={"to": 4}, headers={**bearer(OPERATOR), "Prefer": "wait=10"}
        ).json()
        # What an EventSource does: the token in the URL, no header.
        with http.stream(
            "GET", f"/action_invocations/{done['id']}/events?access_token={token}"
        ) as stream:
            assert stream.status_code == 200
            assert "completed" in "".join(stream.iter_text())
        assert http.get(f"/stage/position?access_token={token}").json() == 4
        # Reading only: it changes nothing, and no other server's token works.
        refused = http.post(f"/stage/move?access_token={token}", json={"to": 8})
        assert refused.status_code == 401
        forged = StreamTokens().issue()[0]
        assert http.get(f"/stage/position?access_token={forged}").status_code == 401


def test_a_stream_token_expires() -> None:
    server = secured()
    now = [1_000_000.0]
    server.state.stream_tokens = StreamTokens(lifetime=60, now=lambda: now[0])
    with in_process(server.app) as http:
        token = http.post("/auth/stream-token", headers=bearer(OPERATOR)).json()["token"]
        assert http.get(f"/stage/position?access_token={token}").status_code == 200
        now[0] += 61
        expired = http.get(f"/stage/position?access_token={token}")
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]


def test_a_td_fetched_with_a_token_carries_a_stream_token_in_its_stream_hrefs() -> None:
    with in_process(secured().app) as http:
        description = http.get("/stage/", headers=bearer(OBSERVER)).json()
        forms = [
            form
            for affordance in description["properties"].values()
            for form in affordance["forms"]
        ] + description["forms"]
        streams = [form["href"] for form in forms if form.get("subprotocol") == "sse"]
        assert streams and all("access_token=st1." in href for href in streams)
        others = [form["href"] for form in forms if form.get("subprotocol") != "sse"]
        assert not any("access_token" in href for href in others)


async def test_the_stream_token_reaches_no_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = secured()
    bind, port = bound_socket()
    config = quiet_config()
    access = logging.getLogger("hypercorn.access")
    access.setLevel(logging.INFO)
    config.accesslog = access
    config.access_log_format = '%(h)s "%(r)s" query=%(q)s %(s)s'  # The query too, as uvicorn's.
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(bind, shutdown_trigger=stop.wait, config=config))
    try:
        async with httpx2.AsyncClient(timeout=10, base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    issued = await http.post("/auth/stream-token", headers=bearer(OBSERVER))
                    break
                except httpx2.ConnectError:
                    await asyncio.sleep(0.05)
            token = issued.json()["token"]
            with caplog.at_level(logging.INFO, logger="hypercorn.access"):
                read = await http.get(f"/stage/position?access_token={token}&x=1")
                assert read.status_code == 200
                await asyncio.sleep(0)  # hypercorn logs after the response is sent.
                for _ in range(50):
                    if any("/stage/position" in r.getMessage() for r in caplog.records):
                        break
                    await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    lines = [r.getMessage() for r in caplog.records if "/stage/position" in r.getMessage()]
    assert lines, "the access log has the request"
    assert all(token not in line and "access_token" not in line for line in lines), lines
    assert any("x=1" in line for line in lines)  # Only the token was taken out.


async def test_our_clients_take_a_token(serve_things: ServeThings) -> None:
    root = await serve_things(secured())
    async with await AsyncThingClient.from_url(f"{root}/stage/", token=OPERATOR) as stage:
        assert await stage.invoke_action("move", to=7) == 7
        assert await stage.read_property("position") == 7
    async with await AsyncThingClient.from_url(f"{root}/stage/", token=OBSERVER) as stage:
        assert await stage.read_property("position") == 7
        with pytest.raises(lt.PermissionDeniedError, match="operate token"):
            await stage.invoke_action("move", to=1)
    async with await AsyncThingClient.from_url(f"{root}/stage/") as stage:
        with pytest.raises(lt.AuthenticationError, match="--token or LABTHINGS_TOKEN"):
            await stage.read_property("position")

    def blocking() -> int:
        with ThingClient.from_url(f"{root}/stage/", token=OPERATOR) as thing:
            result: int = thing.invoke_action("move", to=2)
            return result

    assert await asyncio.to_thread(blocking) == 2


async def test_the_command_line_takes_a_token_by_flag_or_environment(
    serve_things: ServeThings,
) -> None:
    root = await serve_things(secured())
    url = f"{root}/stage/"

    async def run(*args: str, token: str | None = None) -> tuple[int, str, str]:
        env = {key: value for key, value in os.environ.items() if key != "LABTHINGS_TOKEN"}
        if token is not None:
            env["LABTHINGS_TOKEN"] = token
        process = await asyncio.create_subprocess_exec(
            COMMAND, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    status, out, _ = await run("call", url, "move", "to=6", "--token", OPERATOR)
    assert (status, out.strip()) == (0, "6")
    status, out, _ = await run("get", url, "position", token=OBSERVER)
    assert (status, out.strip()) == (0, "6")
    status, _, err = await run("call", url, "move", "to=1", token=OBSERVER)
    assert status != 0
    assert "operate token" in err
    status, _, err = await run("get", url, "position")
    assert status != 0
    assert "LABTHINGS_TOKEN" in err


async def test_labthings_thing_client_is_given_the_token_through_its_httpx_client(
    serve_things: ServeThings,
) -> None:
    from labthings_fastapi.client import ThingClient as LabThingsClient

    root = await serve_things(secured())

    def drive() -> Any:
        with httpx2.Client(base_url=root, headers=bearer(OPERATOR), timeout=10) as http:
            stage: Any = LabThingsClient.from_url(f"{root}/stage/", client=http)
            stage.position = 11
            return stage.move(to=12), stage.position

    assert await asyncio.to_thread(drive) == (12, 12)


def test_a_token_file_with_an_unknown_role_or_a_bad_digest_is_refused(tmp_path: Path) -> None:
    cases = {
        '{"admin": ["x"]}': "'admin' is not a role",
        '{"operate": "x"}': "must be a list",
        '{"operate": ["sha256:abc"]}': "64 hex digits",
        '{"operate": []}': "no token",
        "[1]": "JSON object",
    }
    for text, words in cases.items():
        path = tmp_path / "tokens.json"
        path.write_text(text)
        with pytest.raises(lt.ConfigError, match=words):
            TokenStore.from_file(path)


def test_a_token_file_gives_each_token_its_role(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"operate": [OPERATOR], "observe": [hashed_entry(OBSERVER)]}))
    store = TokenStore.from_file(path)
    assert store.role_of(OPERATOR) is Role.OPERATE
    assert store.role_of(OBSERVER) is Role.OBSERVE
    assert store.role_of("nobody") is None
    assert store.role_of(hashed_entry(OBSERVER)) is None  # The digest is not itself a token.
