"""Cancelling a threaded action, as LabThings-FastAPI documents it.

``InvocationCancelledError`` is a ``BaseException``: an ``except Exception``
does not swallow it. One request to cancel raises it once (raising consumes
the request), so an action may catch it and clean up, sleeping included; a
second request raises it again; let it escape and the invocation ends
``cancelled``. Whoever waits for the result meets ``ActionCancelledError``,
an ordinary exception.
"""

import threading

import anyio
import pytest
from things import TIMEOUT, Signal

import labthings_async as lt

Status = lt.InvocationStatus


async def finish(invocation: lt.Invocation) -> None:
    with anyio.fail_after(TIMEOUT):
        await invocation.wait()


class Stage(lt.Thing):
    """A stage whose moves show what a cancel does to typical action code."""

    def __init__(self) -> None:
        self.moving: Signal | None = None
        self.parking: Signal | None = None
        self.attempts = 0
        self.parked = False
        self.second_cancel_seen = False

    def _moving(self) -> None:
        assert self.moving is not None
        self.moving.set()

    @lt.action
    def retry_forever(self) -> str:
        """A retry loop whose `except Exception` is meant for driver errors."""
        self._moving()
        for _attempt in range(10_000):
            self.attempts += 1
            try:
                lt.cancellable_sleep(TIMEOUT)
                raise ConnectionError("the stage did not answer")
            except Exception:
                continue
        return "gave up"

    @lt.action
    def move_and_park(self) -> str:
        """Stop when cancelled, but park the stage first (which takes a while)."""
        self._moving()
        try:
            lt.cancellable_sleep(TIMEOUT * 6)
        except lt.InvocationCancelledError:
            lt.cancellable_sleep(0.3)  # Parking: the request was consumed, so this sleeps.
            lt.raise_if_cancelled()
            self.parked = True
            raise
        return "arrived"

    @lt.action
    def park_until_told_twice(self) -> str:
        """Park when cancelled once; give up parking when cancelled again."""
        self._moving()
        try:
            lt.cancellable_sleep(TIMEOUT * 6)
        except lt.InvocationCancelledError:
            assert self.parking is not None
            self.parking.set()
            try:
                lt.cancellable_sleep(TIMEOUT * 6)
            except lt.InvocationCancelledError:
                self.second_cancel_seen = True
                raise
            self.parked = True
        return "parked"

    @lt.action
    def refuse(self, cancel: lt.CancelHook) -> str:
        """Treat a cancel as "finish early", and report what was done."""
        self._moving()
        try:
            cancel.sleep(TIMEOUT * 6)
        except lt.InvocationCancelledError:
            cancel.raise_if_set()  # Consumed: no second raise.
            return "stopped early, on purpose"
        return "finished"


async def start(manager: lt.ActionManager, stage: Stage, action: str) -> lt.Invocation:
    stage.moving = Signal()
    stage.parking = Signal()
    invocation = manager.invoke_action(stage, action)
    await stage.moving.wait()
    return invocation


async def test_an_except_exception_retry_loop_does_not_swallow_the_cancel() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        invocation = await start(manager, stage, "retry_forever")
        invocation.cancel()
        await finish(invocation)
    assert invocation.status is Status.CANCELLED
    assert stage.attempts == 1
    with pytest.raises(lt.ActionCancelledError):
        invocation.result()


async def test_one_cancel_raises_once_so_clean_up_may_sleep() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        invocation = await start(manager, stage, "move_and_park")
        invocation.cancel()
        await finish(invocation)
    assert stage.parked, "the clean-up's sleep was cut short by the same cancel"
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    assert "stopped" in invocation.error.detail


async def test_a_second_cancel_raises_again() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        invocation = await start(manager, stage, "park_until_told_twice")
        invocation.cancel()
        assert stage.parking is not None
        await stage.parking.wait()
        assert not invocation.finished  # Parking, after the first cancel.
        invocation.cancel()
        await finish(invocation)
    assert stage.second_cancel_seen
    assert not stage.parked
    assert invocation.status is Status.CANCELLED


async def test_an_action_that_handles_the_cancel_completes_with_its_output() -> None:
    stage = Stage()
    async with lt.ActionManager({"stage": stage}) as manager:
        invocation = await start(manager, stage, "refuse")
        invocation.cancel()
        await finish(invocation)
    assert invocation.status is Status.COMPLETED
    assert invocation.result() == "stopped early, on purpose"


def test_the_cancel_signal_is_not_an_exception() -> None:
    assert issubclass(lt.InvocationCancelledError, BaseException)
    assert not issubclass(lt.InvocationCancelledError, Exception)
    assert issubclass(lt.ActionCancelledError, Exception)


def test_a_cancel_hook_raises_once_per_request() -> None:
    hook = lt.CancelHook()
    hook.raise_if_set()  # Nothing asked yet.
    hook.set()
    with pytest.raises(lt.InvocationCancelledError):
        hook.raise_if_set()
    hook.raise_if_set()  # Consumed.
    hook.sleep(0)
    hook.set()
    with pytest.raises(lt.InvocationCancelledError):
        hook.sleep(TIMEOUT)
    assert not hook.is_set()


def test_a_request_made_while_sleeping_wakes_the_sleeper() -> None:
    hook = lt.CancelHook()
    asleep = threading.Event()
    raised: list[BaseException] = []

    def sleeper() -> None:
        asleep.set()
        try:
            hook.sleep(TIMEOUT * 6)
        except lt.InvocationCancelledError as error:
            raised.append(error)

    thread = threading.Thread(target=sleeper)
    thread.start()
    assert asleep.wait(TIMEOUT)
    hook.set()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert len(raised) == 1
