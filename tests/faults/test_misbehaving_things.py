"""Misbehaving Things against a real server: each ends its own request, and the server serves on.

Every way user code can end is tried where user code runs: threaded and
async actions, functional property getters and setters, setup. Each case
checks the status the client is given (an invocation's, or a request's
problem+json), then that the server still answers a plain request and still
runs an action. Teardowns and shutdown are in ``test_shutdown.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from conftest import ServeThings
from eventsource import read_events

import labthings_async as lt
from labthings_async.invocation import CANCELLED_PROBLEM_TYPE

pytestmark = pytest.mark.faults

WAIT = {"Prefer": "wait=20"}
TIMEOUT = 20.0


class Halt(BaseException):
    """A BaseException of the Thing's own, as some driver libraries define."""


ENDINGS: dict[str, Callable[[], BaseException]] = {
    "SystemExit": lambda: SystemExit(3),
    "KeyboardInterrupt": KeyboardInterrupt,
    "GeneratorExit": GeneratorExit,
    "Halt": lambda: Halt("the pump overheated"),
    "RuntimeError": lambda: RuntimeError("the driver crashed"),
}
"""Exceptions that end an invocation in ``error``: every kind of BaseException."""

CANCELLATIONS: dict[str, Callable[[], BaseException]] = {
    "InvocationCancelledError": lambda: lt.InvocationCancelledError("the stage stopped itself"),
    "CancelledError": asyncio.CancelledError,
}
"""Exceptions that end an invocation ``cancelled``, though nobody asked."""

EVERY_ENDING = {**ENDINGS, **CANCELLATIONS}


class Misbehaving(lt.Thing):
    """Raises whatever it is told to, wherever user code runs; or blocks."""

    def __init__(self) -> None:
        self.fault = ""
        self.release = threading.Event()
        self.blocked = threading.Event()
        self.waiting = asyncio.Event()  # Made on the server's loop: the fixture's.

    def _raise(self, kind: str) -> None:
        raise EVERY_ENDING[kind]()

    @lt.action
    def threaded(self, kind: str) -> None:
        self._raise(kind)

    @lt.action
    async def on_loop(self, kind: str) -> None:
        self._raise(kind)

    @lt.action
    def block(self) -> str:
        """Ignores the cancel hook; returns only when the test releases it."""
        self.blocked.set()
        self.release.wait(3600)
        return "released"

    @lt.action
    async def swallow(self) -> str:
        """Swallows its cancellation and carries on to the end."""
        self.waiting.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        return "carried on"

    @lt.action
    def echo(self, text: str) -> str:
        return text

    @lt.property
    def reading(self) -> int:
        if self.fault == "block":
            self.blocked.set()
            self.release.wait(3600)
        elif self.fault:
            self._raise(self.fault)
        return 7

    @reading.setter  # type: ignore[no-redef]
    def reading(self, value: int) -> None:
        if self.fault:
            self._raise(self.fault)


Lab = tuple[httpx2.AsyncClient, str, Misbehaving]


@pytest.fixture
async def lab(serve_things: ServeThings, client: httpx2.AsyncClient) -> AsyncIterator[Lab]:
    thing = Misbehaving()
    server = lt.ThingServer({"lab": thing}, property_timeout=1.0, shutdown_grace=0.2)
    url = await serve_things(server)
    yield client, f"{url}/lab", thing
    thing.release.set()


async def ended(http: httpx2.AsyncClient, invocation: dict[str, Any]) -> dict[str, Any]:
    """The invocation once it has finished: its event stream ends with it."""
    await read_events(http, f"{invocation['href']}/events", timeout=TIMEOUT)
    reply: dict[str, Any] = (await http.get(invocation["href"])).json()
    return reply


async def still_serving(http: httpx2.AsyncClient, root: str) -> None:
    """A plain request and a plain action still work."""
    assert (await http.get(f"{root}/")).status_code == 200
    echoed = await http.post(f"{root}/echo", json={"text": "still here"}, headers=WAIT)
    assert echoed.json()["status"] == "completed"
    assert echoed.json()["output"] == "still here"


@pytest.mark.parametrize("kind", ENDINGS)
@pytest.mark.parametrize("action", ["threaded", "on_loop"])
async def test_an_action_ending_in_any_exception_ends_in_error(
    lab: Lab, action: str, kind: str
) -> None:
    http, root, _ = lab
    reply = await http.post(f"{root}/{action}", json={"kind": kind}, headers=WAIT)
    assert reply.status_code == 201
    invocation = reply.json()
    assert invocation["status"] == "error"
    assert invocation["error"]["title"] == kind
    assert invocation["error"]["status"] == 500
    assert kind in invocation["log"][-1]["message"]

    direct = await http.post(f"{root}/{action}?reply=output", json={"kind": kind})
    assert direct.status_code == 500
    assert direct.headers["content-type"] == "application/problem+json"
    assert direct.json()["title"] == kind
    await still_serving(http, root)


@pytest.mark.parametrize("kind", CANCELLATIONS)
@pytest.mark.parametrize("action", ["threaded", "on_loop"])
async def test_an_action_cancelling_itself_ends_cancelled(lab: Lab, action: str, kind: str) -> None:
    http, root, _ = lab
    reply = await http.post(f"{root}/{action}", json={"kind": kind}, headers=WAIT)
    invocation = reply.json()
    assert invocation["status"] == "cancelled"
    assert invocation["error"]["type"] == CANCELLED_PROBLEM_TYPE

    direct = await http.post(f"{root}/{action}?reply=output", json={"kind": kind})
    assert direct.status_code == 409
    assert direct.headers["content-type"] == "application/problem+json"
    await still_serving(http, root)


async def test_a_thread_that_ignores_its_cancel_blocks_only_itself(
    lab: Lab,
) -> None:
    http, root, thing = lab
    invocation = (await http.post(f"{root}/block", json={})).json()
    assert await asyncio.to_thread(thing.blocked.wait, TIMEOUT)
    cancelled = await http.delete(invocation["href"])
    assert cancelled.status_code in (200, 202)
    await still_serving(http, root)
    assert (await http.get(invocation["href"])).json()["status"] == "running"
    thing.release.set()
    finished = await ended(http, invocation)
    assert finished["status"] == "completed"  # It ignored the cancel, and finished.
    assert finished["output"] == "released"


async def test_an_async_action_that_swallows_its_cancel_carries_on_alone(
    lab: Lab,
) -> None:
    http, root, thing = lab
    invocation = (await http.post(f"{root}/swallow", json={})).json()
    async with asyncio.timeout(TIMEOUT):
        await thing.waiting.wait()
    assert (await http.delete(invocation["href"])).status_code in (200, 202)
    finished = await ended(http, invocation)
    assert finished["status"] == "completed"
    assert finished["output"] == "carried on"
    await still_serving(http, root)


@pytest.mark.parametrize("kind", [*ENDINGS, "CancelledError"])
async def test_a_getter_or_setter_ending_in_any_exception_is_a_500_naming_the_property(
    lab: Lab, kind: str
) -> None:
    http, root, thing = lab
    thing.fault = kind
    for reply, verb in (
        (await http.get(f"{root}/reading"), "reading"),
        (await http.put(f"{root}/reading", json=1), "setting"),
    ):
        assert reply.status_code == 500
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["title"] == "Property access failed"
        assert problem["detail"].startswith(f"{verb} property 'reading' failed: {kind}")
    thing.fault = ""
    assert (await http.get(f"{root}/reading")).json() == 7
    await still_serving(http, root)


async def test_a_getter_that_never_returns_is_a_504_and_the_server_serves_on(
    lab: Lab,
) -> None:
    http, root, thing = lab
    thing.fault = "block"
    reply = await http.get(f"{root}/reading")
    assert reply.status_code == 504
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"].startswith(
        "reading property 'reading' took longer than 1 s, so the server stopped waiting"
    )
    assert (await http.get(f"{root}/properties")).status_code == 504
    await still_serving(http, root)


@pytest.mark.parametrize("kind", EVERY_ENDING)
async def test_a_setup_ending_in_any_exception_stops_the_start_with_a_setup_error(
    kind: str,
) -> None:
    class BrokenSetup(lt.Thing):
        def setup(self) -> None:
            raise EVERY_ENDING[kind]()

    server = lt.ThingServer({"broken": BrokenSetup()})
    with pytest.raises(lt.ThingSetupError) as raised:
        await asyncio.wait_for(server.serve("127.0.0.1:0"), TIMEOUT)
    assert str(raised.value).startswith(f"setup of Thing 'broken' (BrokenSetup) failed: {kind}")
