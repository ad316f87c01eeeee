"""LabThings-FastAPI 0.3.0's own ThingClient, driving our server over real HTTP.

The client is synchronous, so it runs in a worker thread while the server runs
on the test's event loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx2
import pytest
from conftest import ServeThings
from labthings_fastapi.client import ThingClient
from labthings_fastapi.exceptions import (
    ClientPropertyError,
    FailedToInvokeActionError,
    InvocationCancelledError,
    ServerActionError,
)

import labthings_async as lt
from labthings_async.server import ThingServer


class Stage(lt.Thing):
    """A motorised stage."""

    position: int = lt.property(default=0, ge=-1000, le=1000)
    model: str = lt.property(default="XY-1", readonly=True)

    def __init__(self) -> None:
        self.started = threading.Event()

    @lt.action
    def move(self, distance: int, speed: float = 1.0) -> int:
        """Move by `distance`; returns the new position."""
        self.position += distance
        return self.position

    @lt.action
    def home(self) -> str:
        self.position = 0
        return "homed"

    @lt.action
    async def settle(self) -> None:
        return None

    @lt.action
    def zero(self) -> int:
        return 0

    @lt.action
    def jam(self) -> None:
        self.logger.info("about to jam")
        raise RuntimeError("the stage is jammed")

    @lt.action
    def wait(self) -> None:
        self.started.set()
        lt.cancellable_sleep(30)


async def connect(serve_things: ServeThings, stage: Stage) -> tuple[str, str]:
    """Serve the stage; return the server root and the Thing's URL (with its slash)."""
    root = await serve_things(ThingServer({"stage": stage}))
    return root, f"{root}/stage/"


async def test_thing_client_reads_and_writes_properties(serve_things: ServeThings) -> None:
    stage = Stage()
    root, url = await connect(serve_things, stage)

    def use() -> tuple[Any, Any, Any]:
        with httpx2.Client(base_url=root, timeout=10) as http:
            client: Any = ThingClient.from_url(url, client=http)
            before = client.position
            client.position = 42
            return before, client.position, client.model

    assert await asyncio.to_thread(use) == (0, 42, "XY-1")
    assert stage.position == 42


async def test_thing_client_sees_property_errors(serve_things: ServeThings) -> None:
    stage = Stage()
    root, url = await connect(serve_things, stage)

    def use() -> list[str]:
        messages = []
        with httpx2.Client(base_url=root, timeout=10) as http:
            client: Any = ThingClient.from_url(url, client=http)
            for value in (5000, "far"):
                with pytest.raises(ClientPropertyError) as raised:
                    client.position = value
                messages.append(str(raised.value))
            with pytest.raises(ClientPropertyError, match="may not be set"):
                client.model = "XY-2"
        return messages

    too_far, wrong_type = await asyncio.to_thread(use)

    assert "<= 1000" in too_far
    assert "Expected `int`, got `str`" in wrong_type
    assert stage.position == 0


async def test_thing_client_invokes_actions_and_gets_their_output(
    serve_things: ServeThings,
) -> None:
    stage = Stage()
    root, url = await connect(serve_things, stage)

    def use() -> list[Any]:
        with httpx2.Client(base_url=root, timeout=10) as http:
            client: Any = ThingClient.from_url(url, client=http)
            return [
                client.move(distance=5),
                client.move(distance=-2, speed=3.5),
                client.home(),
                client.settle(),
                client.zero(),
            ]

    assert await asyncio.to_thread(use) == [5, 3, "homed", None, 0]
    assert stage.position == 0


async def test_thing_client_raises_for_bad_arguments(serve_things: ServeThings) -> None:
    root, url = await connect(serve_things, Stage())

    def use() -> str:
        with httpx2.Client(base_url=root, timeout=10) as http:
            client: Any = ThingClient.from_url(url, client=http)
            with pytest.raises(FailedToInvokeActionError) as raised:
                client.move(distance="far")
            return str(raised.value)

    message = await asyncio.to_thread(use)

    assert "Expected `int`, got `str`" in message
    assert "$.distance" in message


async def test_thing_client_raises_when_an_action_fails(serve_things: ServeThings) -> None:
    root, url = await connect(serve_things, Stage())

    def use() -> str:
        with httpx2.Client(base_url=root, timeout=10) as http:
            client: Any = ThingClient.from_url(url, client=http)
            with pytest.raises(ServerActionError) as raised:
                client.jam()
            return str(raised.value)

    message = await asyncio.to_thread(use)

    assert "Action jam" in message
    assert "[RuntimeError]: the stage is jammed" in message


async def test_thing_client_raises_when_an_action_is_cancelled(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    stage = Stage()
    root, url = await connect(serve_things, stage)

    def use() -> None:
        with httpx2.Client(base_url=root, timeout=10) as http:
            thing: Any = ThingClient.from_url(url, client=http)
            thing.wait()

    waiting = asyncio.ensure_future(asyncio.to_thread(use))
    assert await asyncio.to_thread(stage.started.wait, 10)
    [invocation] = (await client.get(f"{url}wait")).json()
    assert (await client.delete(invocation["href"])).status_code == 200

    with pytest.raises(InvocationCancelledError):
        await waiting
