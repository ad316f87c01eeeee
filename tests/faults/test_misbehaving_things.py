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
import logging
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


def opening_thing(hook: str, kind: str) -> type[lt.Thing]:
    """A Thing whose ``hook`` (``setup``, ``__enter__``, or an async one) raises ``kind``."""

    def raising(self: lt.Thing, *arguments: object) -> None:
        raise EVERY_ENDING[kind]()

    async def raising_async(self: lt.Thing, *arguments: object) -> None:
        raise EVERY_ENDING[kind]()

    async def nothing(self: lt.Thing, *arguments: object) -> None:
        pass

    name = hook.removeprefix("async ")
    chosen = raising_async if hook.startswith("async ") else raising
    chosen.__name__ = name  # As a method defined in the class would be called.
    body: dict[str, object] = {name: chosen}
    if name == "__enter__":
        body["__exit__"] = lambda self, *exc_info: None
    if name == "__aenter__":
        body["__aexit__"] = nothing
    return type("Broken", (lt.Thing,), body)


@pytest.mark.parametrize("kind", EVERY_ENDING)
@pytest.mark.parametrize("hook", ["setup", "async setup", "__enter__", "async __aenter__"])
async def test_an_opening_hook_ending_in_any_exception_stops_the_start_with_a_setup_error(
    hook: str, kind: str
) -> None:
    server = lt.ThingServer({"broken": opening_thing(hook, kind)()})
    with pytest.raises(lt.ThingSetupError) as raised:
        await asyncio.wait_for(server.serve("127.0.0.1:0"), TIMEOUT)
    name = hook.removeprefix("async ")
    assert str(raised.value).startswith(f"{name} of Thing 'broken' (Broken) failed: {kind}")


class Closing(lt.Thing):
    """Closing hooks that misbehave, each as the test says."""

    def __init__(self, teardown: str, exit_: str) -> None:
        self.how = {"teardown": teardown, "__exit__": exit_}
        self.release = threading.Event()

    def __enter__(self) -> Closing:
        return self

    def _close(self, hook: str) -> None:
        how = self.how[hook]
        if how == "block":
            self.release.wait(3600)
        elif how:
            raise EVERY_ENDING[how]()

    def teardown(self) -> None:
        self._close("teardown")

    def __exit__(self, *exc_info: object) -> None:
        self._close("__exit__")


@pytest.mark.parametrize(
    ("teardown", "exit_"),
    [("block", "SystemExit"), ("KeyboardInterrupt", "block"), ("Halt", "GeneratorExit")],
)
async def test_closing_hooks_that_raise_or_never_return_end_within_the_limit(
    teardown: str, exit_: str, caplog: pytest.LogCaptureFixture
) -> None:
    closing = Closing(teardown, exit_)
    after = Closing("", "")
    server = lt.ThingServer({"after": after, "closing": closing}, teardown_timeout=0.5)
    stop, opened = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(
        server.serve(
            "127.0.0.1:0", shutdown_trigger=stop.wait, ready=lambda addresses: opened.set()
        )
    )
    await asyncio.wait_for(opened.wait(), TIMEOUT)
    with caplog.at_level(logging.WARNING, logger="labthings_async.manager"):
        stop.set()
        await asyncio.wait_for(serving, TIMEOUT)
    closing.release.set()
    messages = [record.getMessage() for record in caplog.records]
    for hook, how in (("teardown", teardown), ("__exit__", exit_)):
        what = f"{hook} of Thing 'closing' (Closing)"
        if how == "block":
            expected = (
                f"{what} was still running after 0.5 s; abandoned it (its thread may still run)"
            )
        else:
            expected = f"{what} failed: {how}"
        assert any(message.startswith(expected) for message in messages), messages
    assert not any("'after'" in message for message in messages)  # Closed as usual, after.


class Endpoints(lt.Thing):
    """A custom endpoint (LabThings' @endpoint) that raises what it is told."""

    @lt.endpoint("get", path="fail/{kind}")
    def fail(self, kind: str) -> None:
        raise EVERY_ENDING[kind]()

    @lt.endpoint("get", path="fail_async/{kind}")
    async def fail_async(self, kind: str) -> None:
        raise EVERY_ENDING[kind]()

    @lt.endpoint("get")
    def hello(self) -> str:
        return "hello"


@pytest.mark.parametrize("kind", ENDINGS)
@pytest.mark.parametrize("path", ["fail", "fail_async"])
async def test_a_custom_endpoint_ending_in_any_exception_is_a_500(
    serve_things: ServeThings, client: httpx2.AsyncClient, path: str, kind: str
) -> None:
    url = await serve_things(lt.ThingServer({"endpoints": Endpoints()}))
    reply = await client.get(f"{url}/endpoints/{path}/{kind}")
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{url}/endpoints/hello")).json() == "hello"
