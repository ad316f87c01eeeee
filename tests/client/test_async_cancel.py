"""An asyncio caller that gives up on an action call cancels the invocation on the server.

``asyncio.timeout``, ``wait_for`` or a task group cancel the task awaiting
``await client.slow()``: the call owns the invocation, so the server stops it
too, as the sync client does on Ctrl-C. A handle's wait does not own it.
Against a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import httpx2
import pytest
from conftest import ServeThings

import labthings_async as lt

TIMEOUT = 20.0


class Stage(lt.Thing):
    """A stage whose moves the test can watch begin."""

    def __init__(self) -> None:
        self.moving = threading.Event()

    @lt.action
    def slow(self, cancel: lt.CancelHook) -> str:
        """Move until cancelled."""
        self.moving.set()
        cancel.sleep(60)
        return "arrived"

    @lt.action
    def stubborn(self, cancel: lt.CancelHook) -> str:
        """Finish as soon as the cancel comes, as if it had not."""
        self.moving.set()
        with contextlib.suppress(lt.InvocationCancelledError):
            cancel.sleep(60)
        return "arrived anyway"


Served = tuple[Stage, str]
"""A Stage on a real server, and the server's root URL."""


@pytest.fixture
async def served(serve_things: ServeThings) -> Served:
    stage = Stage()
    return stage, await serve_things(lt.ThingServer({"stage": stage}))


async def statuses(root: str) -> list[str]:
    """The status of every invocation the server has."""
    async with httpx2.AsyncClient(timeout=TIMEOUT) as http:
        reply = await http.get(f"{root}/action_invocations/")
    return [summary["status"] for summary in reply.json()]


async def give_up_once_moving(stage: Stage, call: asyncio.Task[object]) -> None:
    """Cancel ``call`` once the action runs on the server, as a caller's timeout would."""
    async with asyncio.timeout(TIMEOUT):
        await asyncio.to_thread(stage.moving.wait)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the client warned about the invocation."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "labthings_async.client" and record.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize("invoke_wait", [0.0, 10.0], ids=["followed", "request in flight"])
async def test_a_cancelled_call_cancels_its_invocation_on_the_server(
    served: Served, caplog: pytest.LogCaptureFixture, invoke_wait: float
) -> None:
    stage, root = served
    async with await lt.AsyncThingClient.from_url(
        f"{root}/stage/", invoke_wait=invoke_wait
    ) as client:
        # With invoke_wait the server holds the invoking request: the caller
        # gives up before it knows the invocation's ID.
        await give_up_once_moving(stage, asyncio.create_task(client.slow()))

    assert await statuses(root) == ["cancelled"]
    [line] = said(caplog)
    assert "cancelled invocation" in line
    assert "on the server" in line


async def test_a_timeout_around_the_call_cancels_it_too(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    _, root = served
    async with await lt.AsyncThingClient.from_url(f"{root}/stage/") as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await client.slow()
    assert await statuses(root) == ["cancelled"]
    assert len(said(caplog)) == 1


async def test_an_action_that_ignores_the_cancel_is_reported_as_such(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    stage, root = served
    async with await lt.AsyncThingClient.from_url(f"{root}/stage/") as client:
        await give_up_once_moving(stage, asyncio.create_task(client.stubborn()))

    assert await statuses(root) == ["completed"]
    [line] = said(caplog)
    assert "ignored the cancel and completed" in line


async def test_giving_up_on_a_handle_leaves_its_invocation_running(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    _, root = served
    async with await lt.AsyncThingClient.from_url(f"{root}/stage/") as client:
        handle = await client.start_action("slow")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(handle.result(), 0.5)
        assert await statuses(root) == ["running"]
        await handle.cancel_and_wait(TIMEOUT)
    assert await statuses(root) == ["cancelled"]
    assert said(caplog) == []


async def test_a_call_cancelled_twice_before_its_invocation_is_named_still_cancels_it(
    served: Served,
) -> None:
    _, root = served
    answered = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_reply(response: httpx2.Response) -> None:
        if response.request.method == "POST":  # The invocation exists; its name is not read yet.
            answered.set()
            await release.wait()

    hooks = {"response": [hold_the_reply]}
    async with (
        httpx2.AsyncClient(timeout=TIMEOUT, event_hooks=hooks) as http,
        await lt.AsyncThingClient.from_url(f"{root}/stage/", http=http, invoke_wait=0) as client,
    ):
        call = asyncio.create_task(client.slow())
        async with asyncio.timeout(TIMEOUT):
            await answered.wait()
        call.cancel()
        for _ in range(3):
            await asyncio.sleep(0)  # The first cancel is taken: the call waits for the name.
        call.cancel()  # A second one (a task group, then a timeout) ends the wait...
        with pytest.raises(asyncio.CancelledError):
            await call
        release.set()
    # ...and the invocation is still cancelled on the server, once it is
    # named: closing the client waits for that.
    assert await statuses(root) == ["cancelled"]
