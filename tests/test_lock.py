"""Tests for the locks: the server-wide lock, a Thing's own, refusing or waiting, re-entrant."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from things import TIMEOUT, wait_for_status

import labthings_async as lt
from labthings_async.lock import InvocationLock
from labthings_async.property_access import PropertyAccess

Status = lt.InvocationStatus


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds; fail after TIMEOUT."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {TIMEOUT} s for {what}")
        await asyncio.sleep(0.001)


# -- the lock itself ---------------------------------------------------------------------


def test_a_lock_is_re_entrant_for_its_owner_and_refuses_others() -> None:
    lock = InvocationLock("the lock of Thing 'stage'")
    first, second = object(), "a client's write of property 'x'"
    lock.acquire_nowait(first, "one")
    lock.acquire_nowait(first, "one, nested")
    with pytest.raises(lt.LockBusyError) as refused:
        lock.acquire_nowait(second, "action 'move' of Thing 'stage'")
    assert str(refused.value).startswith(
        "action 'move' of Thing 'stage' needs the lock of Thing 'stage', which "
    )
    assert refused.value.http_status == 409
    lock.release(second)  # Not the holder: nothing happens.
    lock.release(first)
    assert lock.owner is first  # One hold is left.
    lock.release(first)
    lock.acquire_nowait(second, "write")
    assert lock.owner is second


async def test_waiters_get_the_lock_in_turn_and_a_cancelled_one_leaves_the_queue() -> None:
    lock = InvocationLock("the global lock")
    holder, early, cancelled, late = object(), object(), object(), object()
    lock.acquire_nowait(holder, "hold")
    order: list[object] = []

    async def take(owner: object) -> None:
        await lock.acquire(owner)
        order.append(owner)
        lock.release(owner)

    tasks = [asyncio.create_task(take(owner)) for owner in (early, cancelled, late)]
    await until(lambda: lock.waiting == 3, "three waiters")
    tasks[1].cancel()
    await until(lambda: lock.waiting == 2, "the cancelled waiter to leave")
    lock.release(holder)
    with anyio.fail_after(TIMEOUT):
        await asyncio.gather(tasks[0], tasks[2])
    assert order == [early, late]
    assert tasks[1].cancelled() and lock.owner is None and lock.waiting == 0


async def test_a_release_from_a_worker_thread_wakes_a_waiter_on_the_loop() -> None:
    lock = InvocationLock("the global lock")
    worker, waiter = object(), object()
    lock.acquire_nowait(worker, "hold")
    waiting = asyncio.create_task(lock.acquire(waiter))
    await asyncio.sleep(0)
    await anyio.to_thread.run_sync(lock.release, worker)
    with anyio.fail_after(TIMEOUT):
        await waiting
    assert lock.owner is waiter


async def test_a_waiter_cancelled_as_the_lock_reaches_it_passes_it_on() -> None:
    lock = InvocationLock("the global lock")
    holder, unlucky, next_one = object(), object(), object()
    lock.acquire_nowait(holder, "hold")
    first = asyncio.create_task(lock.acquire(unlucky))
    second = asyncio.create_task(lock.acquire(next_one))
    await asyncio.sleep(0)
    lock.release(holder)  # Hands it to `unlucky`, whose task has not run yet...
    first.cancel()  # ...and is cancelled before it does.
    with anyio.fail_after(TIMEOUT):
        await second
    assert first.cancelled() and lock.owner is next_one


# -- Things that hold their locks ----------------------------------------------------------


class Stage(lt.Thing):
    thing_lock = True

    position: int = lt.property(default=0)
    speed: int = lt.property(default=1, use_thing_lock=False)

    def __init__(self) -> None:
        self.hold: threading.Event = threading.Event()
        self.holding: threading.Event = threading.Event()
        self.ran: list[str] = []
        self._mode = "fast"

    @lt.property
    def mode(self) -> str:
        return self._mode

    @mode.setter  # type: ignore[no-redef]
    def mode(self, value: str) -> None:
        self.holding.set()
        self.hold.wait(TIMEOUT)
        self._mode = value

    @lt.action
    def move(self, to: int) -> int:
        self.ran.append(f"move {to}")
        self.holding.set()
        self.hold.wait(TIMEOUT)
        self.position = to
        return to

    @lt.action(wait_for_lock=True)
    def queue_move(self, to: int) -> int:
        self.ran.append(f"queued {to}")
        return self.move(to)  # Nested, needing the lock it holds: re-entrant.

    @lt.action(use_thing_lock=False)
    def stop(self) -> str:
        self.hold.set()
        return "stopped"

    @lt.action
    async def settle(self) -> int:
        await asyncio.sleep(0)
        return int(await self.settle_more())

    @lt.action
    async def settle_more(self) -> int:
        return self.position


class Camera(lt.Thing):
    @lt.action
    def snap(self) -> str:
        return "frame"


class Scanner(lt.Thing):
    stage: Stage = lt.thing_slot()

    @lt.action
    def scan(self) -> int:
        return int(self.stage.move(5))


async def queued(stage: Stage, count: int) -> None:
    """Return once ``count`` invocations wait in the queue of the stage's lock."""
    assert stage._locks is not None and stage._locks.thing_lock is not None
    lock = stage._locks.thing_lock
    await until(lambda: lock.waiting == count, f"{count} invocations to wait for the lock")


async def held(stage: Stage, manager: lt.ActionManager, to: int = 1) -> lt.Invocation:
    """Start a move and return once it holds the Thing's lock (and runs)."""
    stage.hold.clear()
    stage.holding.clear()
    invocation = manager.invoke_action(stage, "move", {"to": to})
    await anyio.to_thread.run_sync(stage.holding.wait, TIMEOUT)
    return invocation


async def test_a_things_lock_refuses_its_other_actions_and_lets_other_things_run() -> None:
    stage, camera = Stage(), Camera()
    async with lt.ActionManager({"stage": stage, "camera": camera}) as manager:
        moving = await held(stage, manager)
        with pytest.raises(lt.LockBusyError) as refused:
            manager.invoke_action(stage, "move", {"to": 2})
        assert str(refused.value) == (
            "action 'move' of Thing 'stage' needs the lock of Thing 'stage', which invocation "
            f"{moving.id_text} of /stage/move holds; try again once it is released"
        )
        assert len(manager) == 1  # The refused one made no invocation.
        snapped = manager.invoke_action(camera, "snap")
        stopped = manager.invoke_action(stage, "stop")  # use_thing_lock=False: runs anyway.
        with anyio.fail_after(TIMEOUT):
            await stopped.wait()
            await snapped.wait()
            await moving.wait()
        # Freed before `completed` was announced: a client may go again at once.
        again = manager.invoke_action(stage, "move", {"to": 3})
        stage.hold.set()
        with anyio.fail_after(TIMEOUT):
            await again.wait()
        assert again.result() == 3


async def test_the_global_lock_covers_every_thing_unless_an_action_opts_out() -> None:
    stage, camera = Stage(), Camera()

    class Meter(lt.Thing):
        @lt.action(use_global_lock=False)
        def read(self) -> float:
            return 1.5

    async with lt.ActionManager(
        {"stage": stage, "camera": camera, "meter": Meter()}, enable_global_lock=True
    ) as manager:
        moving = await held(stage, manager)
        with pytest.raises(lt.LockBusyError, match=r"needs the global lock, which invocation"):
            manager.invoke_action(camera, "snap")
        reading = manager.invoke_action("meter", "read")
        with anyio.fail_after(TIMEOUT):
            await reading.wait()
        stage.hold.set()
        await moving.wait()
        snapped = manager.invoke_action(camera, "snap")
        with anyio.fail_after(TIMEOUT):
            await snapped.wait()
        assert (reading.result(), snapped.result()) == (1.5, "frame")


async def test_a_refusal_is_logged_at_the_configured_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stage = Stage()
    with caplog.at_level(logging.DEBUG, logger="labthings_async.things.stage"):
        async with lt.ActionManager({"stage": stage}, global_lock_log_level="WARNING") as manager:
            moving = await held(stage, manager)
            with pytest.raises(lt.LockBusyError):
                manager.invoke_action(stage, "move", {"to": 2})
            stage.hold.set()
            await moving.wait()
    (record,) = [r for r in caplog.records if r.getMessage().startswith("did not run")]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("did not run /stage/move: action 'move' of Thing")
    with pytest.raises(ValueError, match="global_lock_log_level must be one of DEBUG, INFO"):
        lt.ActionManager({}, global_lock_log_level="LOUD")


async def test_wait_for_lock_queues_as_pending_in_order() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        moving = await held(stage, manager)
        waiting = [manager.invoke_action(stage, "queue_move", {"to": to}) for to in (2, 3)]
        await queued(stage, 2)
        assert [invocation.status for invocation in waiting] == [Status.PENDING] * 2
        stage.hold.set()
        with anyio.fail_after(TIMEOUT):
            for invocation in [moving, *waiting]:
                await invocation.wait()
        assert [invocation.result() for invocation in waiting] == [2, 3]
    assert stage.ran == ["move 1", "queued 2", "move 2", "queued 3", "move 3"]


async def test_a_cancelled_pending_invocation_leaves_the_lock_queue() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        moving = await held(stage, manager)
        first = manager.invoke_action(stage, "queue_move", {"to": 2})
        second = manager.invoke_action(stage, "queue_move", {"to": 3})
        await queued(stage, 2)
        first.cancel()
        assert first.status is Status.CANCELLED
        await queued(stage, 1)
        stage.hold.set()
        with anyio.fail_after(TIMEOUT):
            await moving.wait()
            await second.wait()
        assert second.result() == 3
    assert stage.ran == ["move 1", "queued 3", "move 3"]


async def test_a_nested_call_needing_a_lock_held_elsewhere_fails_at_once() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage, "scanner": Scanner()}) as manager:
        moving = await held(stage, manager)
        scanning = manager.invoke_action("scanner", "scan")
        with anyio.fail_after(TIMEOUT):
            await scanning.wait()
        stage.hold.set()
        await moving.wait()
    assert scanning.status is Status.ERROR
    assert scanning.error is not None
    assert (scanning.error.title, scanning.error.status) == ("LockBusyError", 409)
    assert scanning.error.detail == (
        "action 'move' of Thing 'stage' needs the lock of Thing 'stage', which invocation "
        f"{moving.id_text} of /stage/move holds; try again once it is released"
    )


async def test_nested_calls_re_enter_the_locks_their_invocation_holds() -> None:
    stage = Stage()
    stage.hold.set()
    async with lt.ActionManager(
        {"stage": stage, "scanner": Scanner()}, enable_global_lock=True
    ) as manager:
        # scan holds the global lock; stage.move, nested, takes it again and the stage's.
        scanning = manager.invoke_action("scanner", "scan")
        settling = None
        with anyio.fail_after(TIMEOUT):
            await scanning.wait()
            settling = manager.invoke_action(stage, "settle")  # Async, nested async.
            await settling.wait()
    assert scanning.result() == 5
    assert settling.result() == 5


async def test_a_client_property_write_is_refused_while_an_action_holds_the_lock() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        properties = PropertyAccess(manager.threads, max_threads=2)
        moving = await held(stage, manager)
        with pytest.raises(lt.LockBusyError, match=r"^a client's write of property 'position'"):
            await properties.write(Stage.properties["position"], stage, 9)
        await properties.write(Stage.properties["speed"], stage, 5)  # Opted out.
        stage.hold.set()
        await moving.wait()
        await properties.write(Stage.properties["position"], stage, 9)
    assert (stage.position, stage.speed) == (9, 5)


async def test_a_property_write_holds_the_lock_while_its_setter_runs() -> None:
    stage = Stage()
    stage.hold.clear()
    async with lt.ActionManager({"stage": stage}) as manager:
        properties = PropertyAccess(manager.threads, max_threads=1)
        writing = asyncio.create_task(properties.write(Stage.properties["mode"], stage, "slow"))
        await anyio.to_thread.run_sync(stage.holding.wait, TIMEOUT)
        with pytest.raises(lt.LockBusyError, match=r"which a client's write of property 'mode'"):
            manager.invoke_action(stage, "move", {"to": 1})
        stage.hold.set()
        with anyio.fail_after(TIMEOUT):
            await writing
    assert stage.mode == "slow"


async def test_a_failed_or_cancelled_invocation_frees_its_locks() -> None:
    class Flaky(lt.Thing):
        thing_lock = True

        @lt.action
        def fail(self) -> None:
            raise RuntimeError("jammed")

        @lt.action
        async def wait(self) -> None:
            await asyncio.sleep(TIMEOUT * 10)

    async with lt.ActionManager({"flaky": Flaky()}) as manager:
        failed = manager.invoke_action("flaky", "fail")
        with anyio.fail_after(TIMEOUT):
            await failed.wait()
        waiting = manager.invoke_action("flaky", "wait")
        await wait_for_status(waiting, Status.RUNNING)
        waiting.cancel()
        with anyio.fail_after(TIMEOUT):
            await waiting.wait()
        again = manager.invoke_action("flaky", "fail")
        await again.wait()
    assert (failed.status, waiting.status, again.status) == (
        Status.ERROR,
        Status.CANCELLED,
        Status.ERROR,
    )


async def test_shutdown_with_a_holder_and_a_queue_ends_promptly() -> None:
    stage = Stage()
    manager = lt.ActionManager({"stage": stage}, shutdown_grace=0.2)
    invocations: list[lt.Invocation] = []
    with anyio.fail_after(TIMEOUT):
        async with manager:
            invocations.append(await held(stage, manager))
            invocations += [manager.invoke_action(stage, "queue_move", {"to": 2})]
            await queued(stage, 1)
    stage.hold.set()  # Let the abandoned thread finish.
    statuses: list[Any] = [invocation.status for invocation in invocations]
    assert statuses == [Status.CANCELLED, Status.CANCELLED]


def test_thing_lock_is_true_or_false() -> None:
    with pytest.raises(lt.ActionDefinitionError, match=r"thing_lock is 'yes'; set it to True"):
        type("Door", (lt.Thing,), {"thing_lock": "yes"})
