"""Our app inside other programs: Starlette and FastAPI hosts, and plain asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from conftest import running_app
from fastapi import FastAPI
from serving import bound_socket, quiet_config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import labthings_async as lt
from labthings_async.server import ThingServer

WAIT = {"Prefer": "wait=10"}


class Lamp(lt.Thing):
    on: bool = lt.property(default=False)

    def __init__(self) -> None:
        self.set_up = False
        self.torn_down = False
        self.holding = asyncio.Event()

    async def setup(self) -> None:
        self.set_up = True

    def teardown(self) -> None:
        self.torn_down = True

    @lt.action
    async def toggle(self) -> bool:
        self.on = not self.on
        return self.on

    @lt.action
    async def hold(self) -> None:
        self.holding.set()
        await asyncio.Event().wait()


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from the host")


def starlette_host(server: ThingServer, mount: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Starlette runs no lifespan of a mounted app: the host runs ours.
        async with server.lifespan():
            yield

    return Starlette(routes=[Route("/", hello), Mount(mount, app=server.app)], lifespan=lifespan)


async def check_mounted_api(http: httpx2.AsyncClient, base: str) -> None:
    """The API works under ``base`` and every URL it hands out includes it."""
    assert (await http.get(f"{base}/things/")).json() == {"lamp": f"{base}/lamp/"}
    assert (await http.get(f"{base}/lamp/")).json()["base"] == f"{base}/lamp/"
    response = await http.post(f"{base}/lamp/toggle", headers=WAIT)
    assert response.status_code == 201
    invocation = response.json()
    href = f"{base}/action_invocations/{invocation['id']}"
    assert response.headers["location"] == href
    assert invocation["href"] == href
    assert {link["href"] for link in invocation["links"]} >= {href, f"{href}/output"}
    assert (await http.get(f"{href}/output")).json() is True
    assert (await http.get(f"{base}/lamp/on")).json() is True
    page = await http.get(f"{base}/lamp/toggle?limit=1")
    assert page.json()[0]["href"] == href
    missing = await http.get(f"{base}/nowhere/")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_starlette_host_mounts_the_app_under_a_prefix(
    client: httpx2.AsyncClient,
) -> None:
    lamp = Lamp()
    server = ThingServer({"lamp": lamp})

    async with running_app(starlette_host(server, "/lab")) as root:
        assert lamp.set_up
        await check_mounted_api(client, f"{root}/lab")
        assert (await client.get(f"{root}/")).text == "hello from the host"
        assert (await client.get(f"{root}/things/")).status_code == 404

    assert lamp.torn_down


async def test_starlette_host_mount_and_server_prefix_combine(
    client: httpx2.AsyncClient,
) -> None:
    server = ThingServer({"lamp": Lamp()}, prefix="/api")

    async with running_app(starlette_host(server, "/lab")) as root:
        await check_mounted_api(client, f"{root}/lab/api")
        assert (await client.get(f"{root}/lab/things/")).status_code == 404


async def test_fastapi_host_mounts_the_app(client: httpx2.AsyncClient) -> None:
    lamp = Lamp()
    server = ThingServer({"lamp": lamp})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with server.lifespan():
            yield

    host = FastAPI(lifespan=lifespan)

    @host.get("/status")
    async def status() -> dict[str, Any]:
        return {"lamp_on": lamp.on}

    host.mount("/instruments", server.app)

    async with running_app(host) as root:
        assert lamp.set_up
        await check_mounted_api(client, f"{root}/instruments")
        assert (await client.get(f"{root}/status")).json() == {"lamp_on": True}
        assert (await client.get(f"{root}/openapi.json")).json()["paths"].keys() == {"/status"}

    assert lamp.torn_down


async def test_serve_runs_beside_other_tasks_and_stops_on_its_trigger() -> None:
    lamp = Lamp()
    server = ThingServer({"lamp": lamp})
    bind, port = bound_socket()
    url = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()

    async def program() -> tuple[httpx2.Response, httpx2.Response]:
        async with httpx2.AsyncClient(timeout=10) as http:
            toggled = await http.post(f"{url}/lamp/toggle", headers=WAIT)
            held = asyncio.create_task(http.post(f"{url}/lamp/hold", headers={"Prefer": "wait=30"}))
            await lamp.holding.wait()
            # The trigger answers the held request at once, long before its 30 s.
            stop.set()
            return toggled, await held

    async with asyncio.timeout(10), asyncio.TaskGroup() as tasks:
        tasks.create_task(server.serve(bind, shutdown_trigger=stop.wait, config=quiet_config()))
        client_side = tasks.create_task(program())

    toggled, held = client_side.result()
    assert toggled.json()["output"] is True
    assert held.status_code == 201
    assert held.json()["status"] == "running"
    assert server.manager.get_invocation(held.json()["id"]).status == lt.InvocationStatus.CANCELLED
    assert lamp.set_up and lamp.torn_down
    async with httpx2.AsyncClient(timeout=10) as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get(f"{url}/things/")
