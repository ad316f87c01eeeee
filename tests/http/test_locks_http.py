"""Locks over HTTP: a busy lock answers 409 problem+json, to invocations and property writes."""

from __future__ import annotations

import threading

import anyio
import httpx2
import pytest
from conftest import ServeThings
from inprocess import in_process, on_loop

import labthings_async as lt
from labthings_async.server import ThingServer

TIMEOUT = 10.0


class Stage(lt.Thing):
    """A stage one person drives at a time."""

    thing_lock = True
    position: int = lt.property(default=0)

    def __init__(self) -> None:
        self.release = threading.Event()
        self.moving = threading.Event()

    @lt.action
    def move(self, to: int) -> int:
        self.moving.set()
        self.release.wait(TIMEOUT)
        self.position = to
        return to

    @lt.action(wait_for_lock=True)
    def move_later(self, to: int) -> int:
        return self.move(to)


def test_a_busy_lock_answers_409_to_an_invocation_and_a_write() -> None:
    stage = Stage()
    server = ThingServer({"stage": stage})
    with in_process(server.app) as http:
        moving = http.post("/stage/move", json={"to": 1})
        assert moving.status_code == 201
        assert stage.moving.wait(TIMEOUT)
        holder = f"invocation {moving.json()['id']} of /stage/move"

        refused = http.post("/stage/move", json={"to": 2})
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json() == {
            "title": "Lock busy",
            "status": 409,
            "detail": f"action 'move' of Thing 'stage' needs the lock of Thing 'stage', which "
            f"{holder} holds; try again once it is released",
            "instance": "/stage/move",
        }
        written = http.put("/stage/position", json=5)
        assert written.status_code == 409
        assert written.json()["detail"].startswith(
            "a client's write of property 'position' of Thing 'stage' needs the lock of Thing "
        )
        assert len(http.get("/stage/move").json()) == 1  # Refused: no invocation made.

        queued = http.post("/stage/move_later", json={"to": 3})
        assert (queued.status_code, queued.json()["status"]) == (201, "pending")
        stage.release.set()
        finished = on_loop(http, server.manager.get_invocation(queued.json()["id"]).wait)
        assert finished.status is lt.InvocationStatus.COMPLETED
        assert http.get("/stage/position").json() == 3
        assert http.put("/stage/position", json=5).status_code == 204


async def test_our_client_raises_lock_busy_error(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    stage = Stage()
    url = await serve_things(ThingServer({"stage": stage}, enable_global_lock=True))
    moving = await client.post(f"{url}/stage/move", json={"to": 1})
    assert moving.status_code == 201
    await anyio.to_thread.run_sync(stage.moving.wait, TIMEOUT)
    try:
        async with await lt.AsyncThingClient.from_url(f"{url}/stage/") as thing:
            with pytest.raises(lt.LockBusyError) as refused:
                await thing.invoke_action("move", to=2)
            with pytest.raises(lt.LockBusyError):
                await thing.write_property("position", 5)
    finally:
        stage.release.set()
    assert "needs the global lock, which invocation" in str(refused.value)
    assert refused.value.problem is not None and refused.value.problem.status == 409
