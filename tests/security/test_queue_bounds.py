"""Every kind of invocation is bounded, and a refusal says honestly when to come back.

Guards issue 14, points 6 and 9: ``max_pending`` bounded threaded
invocations only (20,000 async ones were accepted at once), and
``Retry-After`` was always 1 s, even when the queue would take minutes.
"""

from __future__ import annotations

import asyncio

from inprocess import in_process, on_loop

import labthings_async as lt
from labthings_async.server import ThingServer
from labthings_async.throughput import Throughput


class Waiter(lt.Thing):
    """Async actions that wait until the test lets them go."""

    def __init__(self) -> None:
        self.release: asyncio.Event | None = None

    @lt.action
    async def wait(self) -> None:
        if self.release is None:
            self.release = asyncio.Event()
        await self.release.wait()

    @lt.action
    async def quick(self) -> int:
        return 1


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_async_invocations_are_bounded_like_threaded_ones() -> None:
    waiter = Waiter()
    server = ThingServer({"waiter": waiter}, max_pending=50)
    with in_process(server.app) as http:
        replies = [http.post("/waiter/wait") for _ in range(60)]
        statuses = [reply.status_code for reply in replies]
        assert statuses == [201] * 50 + [503] * 10
        refused = replies[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert "50 async ones unfinished" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        assert len(http.get("/action_invocations/?limit=1000").json()) == 50

        def let_go() -> None:
            assert waiter.release is not None
            waiter.release.set()

        on_loop(http, let_go)
        done = http.post("/waiter/quick", headers={"Prefer": "wait=10"})
        assert done.json()["status"] == "completed"  # Room again once they finished.


def test_retry_after_is_the_time_the_queue_takes_at_the_recent_rate() -> None:
    clock = FakeMonotonic()
    throughput = Throughput(window=60.0, now=clock)
    for _ in range(120):  # Two a second over the last minute.
        clock.now += 0.5
        throughput.record()
    assert throughput.per_second() == 2.0
    assert throughput.retry_after(1000) == 500
    assert throughput.retry_after(1) == 1
    clock.now += 61.0  # Nothing finished for a minute: no rate to go by.
    assert throughput.retry_after(1000) == 60


def test_a_refused_invocation_is_told_how_long_the_queue_takes() -> None:
    waiter = Waiter()
    clock = FakeMonotonic()
    server = ThingServer({"waiter": waiter}, max_pending=30)
    server.manager.throughput = Throughput(window=60.0, now=clock)
    with in_process(server.app) as http:
        for _ in range(20):  # Twenty finished over the last 40 s: half a second each.
            assert http.post("/waiter/quick", headers={"Prefer": "wait=10"}).status_code == 201
            clock.now += 2.0
        for _ in range(30):
            assert http.post("/waiter/wait").status_code == 201
        refused = http.post("/waiter/wait")
        assert refused.status_code == 503
        # 30 ahead at 20 per 60 s window: 90 s, not a constant 1.
        assert refused.headers["retry-after"] == "90"
        assert "about 90 s of work" in refused.json()["detail"]
