"""Tests for labthings_async.manager: running, bounding, cancelling and forgetting invocations."""

import asyncio
import contextlib
import gc
import logging
import math
import re
import threading
import time
import tracemalloc
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from things import TIMEOUT, FakeClock, Signal, collect, names

import labthings_async as lt
from labthings_async.events import LOST
from labthings_async.invocation import CANCELLED_PROBLEM_TYPE

Status = lt.InvocationStatus


async def finish(*invocations: lt.Invocation, seconds: float = TIMEOUT) -> None:
    """Wait until every invocation has finished (fails the test after ``seconds``)."""
    with anyio.fail_after(seconds):
        for invocation in invocations:
            await invocation.wait()


def drain(subscription: lt.Subscription) -> list[lt.Event]:
    """Every event a subscription can give without waiting."""
    events = []
    while (event := subscription.next_nowait()) is not None:
        events.append(event)
    return events


class Counter(lt.Thing):
    """Counts, slowly or quickly, in threads or on the loop."""

    count: int = lt.property(default=0)

    @lt.action
    def increment(self, by: int = 1) -> int:
        self.logger.info("incrementing by %d", by)
        lt.report_progress(50, "half way")
        self.count += by
        return self.count

    @lt.action
    async def add(self, by: int = 1) -> int:
        self.count += by
        return self.count

    @lt.action
    def noop(self) -> None:
        pass

    @lt.action
    async def anoop(self) -> None:
        pass


# -- invoking -----------------------------------------------------------------------


async def test_invoke_returns_pending_at_once_then_completes() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}) as manager:
        threaded = manager.invoke_action(counter, "increment", {"by": 2})
        assert threaded.status is Status.PENDING
        await finish(threaded)
        on_loop = manager.invoke_action("counter", "add", b'{"by": 3}')
        assert on_loop.status is Status.PENDING
        await finish(on_loop)
    assert threaded.result() == 2
    assert on_loop.result() == 5
    assert counter.count == 5
    assert threaded.input == {"by": 2}
    assert [entry.message for entry in threaded.log] == ["incrementing by 2"]
    assert threaded.progress == lt.Progress(percent=50, message="half way")


async def test_invalid_input_creates_no_invocation() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}) as manager:
        with pytest.raises(lt.InvalidInputError) as caught:
            manager.invoke_action(counter, "increment", {"by": "two"})
        assert caught.value.issues[0].path == "$.by"
        with pytest.raises(lt.InvalidInputError) as caught:
            manager.invoke_action(counter, "increment", b"{not json")
        assert caught.value.malformed
        assert len(manager) == 0
        assert manager.list_invocations() == []
        assert len(manager.hub.invocations) == 0


async def test_unknown_thing_or_action_is_a_clear_error() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}) as manager:
        with pytest.raises(lt.ThingNotFoundError, match="no Thing called 'clock'"):
            manager.invoke_action("clock", "tick")
        with pytest.raises(lt.AffordanceNotFoundError, match="no action 'decrement'"):
            manager.invoke_action(counter, "decrement")
        with pytest.raises(lt.ThingNotFoundError, match="not managed"):
            manager.invoke_action(Counter(), "noop")
        assert len(manager) == 0


async def test_invoking_a_stopped_manager_is_refused() -> None:
    counter = Counter()
    manager = lt.ActionManager({"counter": counter})
    with pytest.raises(lt.ManagerNotRunningError):
        manager.invoke_action(counter, "noop")
    async with manager:
        pass
    with pytest.raises(lt.ManagerNotRunningError):
        manager.invoke_action(counter, "noop")


async def test_thing_names_must_be_url_segments_and_unique() -> None:
    with pytest.raises(ValueError, match="URL path segment"):
        lt.ActionManager({"my counter": Counter()})
    manager = lt.ActionManager({"counter": Counter()})
    with pytest.raises(ValueError, match="already managed"):
        manager.add_thing("counter", Counter())
    with pytest.raises(TypeError, match="not a Thing instance"):
        manager.add_thing("other", object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "option", ["max_threads", "history_len", "event_buffer", "subscriber_queue"]
)
def test_buffers_and_pools_must_hold_something(option: str) -> None:
    options: dict[str, Any] = {option: 0}
    with pytest.raises(ValueError, match=f"{option} must be at least 1"):
        lt.ActionManager(None, **options)


async def test_get_and_list_invocations() -> None:
    first, second = Counter(), Counter()
    async with lt.ActionManager({"first": first, "second": second}) as manager:
        a = manager.invoke_action(first, "noop")
        b = manager.invoke_action(second, "anoop")
        c = manager.invoke_action(first, "anoop")
        await finish(a, b, c)
        assert manager.get_invocation(a.id) is a
        assert manager.get_invocation(str(b.id)) is b
        with pytest.raises(lt.InvocationNotFoundError, match="not an invocation ID"):
            manager.get_invocation("nope")
        listed = manager.list_invocations()
        assert [summary.id for summary in listed] == [str(c.id), str(b.id), str(a.id)]
        assert [s.id for s in manager.list_invocations(thing="first")] == [str(c.id), str(a.id)]
        assert [s.id for s in manager.list_invocations(action="anoop")] == [str(c.id), str(b.id)]
        assert manager.list_invocations(status="running") == []
        assert len(manager.list_invocations(status=Status.COMPLETED, limit=2)) == 2
        assert listed[0].href == f"/action_invocations/{c.id}"


async def test_output_that_json_cannot_carry_is_an_error() -> None:
    class Leaky(lt.Thing):
        @lt.action
        def handle(self) -> Any:
            return threading.Lock()

    async with lt.ActionManager({"leaky": Leaky()}) as manager:
        invocation = manager.invoke_action("leaky", "handle")
        await finish(invocation)
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert "cannot be sent as JSON" in invocation.error.detail


# -- many at once -------------------------------------------------------------------


async def test_concurrent_threaded_invocations_keep_separate_logs() -> None:
    class Logger(lt.Thing):
        def __init__(self) -> None:
            self.barrier = threading.Barrier(50, timeout=TIMEOUT)

        @lt.action
        def mark(self, marker: int) -> int:
            self.logger.info("before %d", marker)
            self.barrier.wait()  # all 50 are running at once from here
            self.logger.info("after %d", marker)
            return marker

    async with lt.ActionManager({"logger": Logger()}, max_threads=50) as manager:
        invocations = [manager.invoke_action("logger", "mark", {"marker": n}) for n in range(50)]
        await finish(*invocations)
    for n, invocation in enumerate(invocations):
        assert invocation.result() == n
        assert [entry.message for entry in invocation.log] == [f"before {n}", f"after {n}"]


async def test_concurrent_async_invocations_keep_separate_logs() -> None:
    class Logger(lt.Thing):
        def __init__(self) -> None:
            self.entered = 0
            self.all_in = anyio.Event()
            self.release = anyio.Event()

        @lt.action
        async def mark(self, marker: int, logger: lt.InvocationLogger) -> int:
            self.logger.info("before %d", marker)
            self.entered += 1
            if self.entered == 50:
                self.all_in.set()
            await self.release.wait()
            logger.info("after %d", marker)
            return marker

    thing = Logger()
    async with lt.ActionManager({"logger": thing}) as manager:
        invocations = [manager.invoke_action("logger", "mark", {"marker": n}) for n in range(50)]
        with anyio.fail_after(TIMEOUT):
            await thing.all_in.wait()  # all 50 are running at once from here
        thing.release.set()
        await finish(*invocations)
    for n, invocation in enumerate(invocations):
        assert [entry.message for entry in invocation.log] == [f"before {n}", f"after {n}"]


class Gated(lt.Thing):
    """Holds every invocation of ``work`` until the test opens the gate."""

    def __init__(self, full_at: int = 1) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.full_at = full_at
        self.full: Signal | None = None
        self.calls: list[str] = []

    @lt.action
    def work(self, label: str = "") -> str:
        with self.lock:
            self.calls.append(label)
            self.active += 1
            self.peak = max(self.peak, self.active)
            if self.active == self.full_at and self.full is not None:
                self.full.set()
        try:
            if not self.gate.wait(TIMEOUT):
                raise TimeoutError("the test never opened the gate")
        finally:
            with self.lock:
                self.active -= 1
        return label

    @lt.action
    def record(self, label: str = "") -> str:
        self.calls.append(label)
        return label


async def test_pool_bound_holds_under_a_burst_of_200() -> None:
    gated = Gated(full_at=4)
    gated.full = Signal()
    async with lt.ActionManager({"gated": gated}, max_threads=4) as manager:
        invocations = [manager.invoke_action(gated, "work") for _ in range(200)]
        await gated.full.wait()
        assert len(manager.list_invocations(status="running")) == 4
        assert len(manager.list_invocations(status="pending")) == 196
        # The manager's threads come from its own limiter, never anyio's default.
        assert anyio.to_thread.current_default_thread_limiter().borrowed_tokens == 0
        gated.gate.set()
        await finish(*invocations, seconds=20)
    assert gated.peak == 4
    assert all(invocation.status is Status.COMPLETED for invocation in invocations)


async def test_max_pending_refuses_without_creating_an_invocation() -> None:
    gated = Gated()
    gated.full = Signal()
    async with lt.ActionManager({"gated": gated}, max_threads=1, max_pending=2) as manager:
        first = manager.invoke_action(gated, "work")
        second = manager.invoke_action(gated, "work")
        with pytest.raises(lt.QueueFullError, match="already waiting") as caught:
            manager.invoke_action(gated, "work")
        assert caught.value.http_status == 503
        assert caught.value.retry_after >= 1
        assert len(manager) == 2
        await gated.full.wait()  # the first now runs, so one place is free
        third = manager.invoke_action(gated, "work")
        with pytest.raises(lt.QueueFullError):
            manager.invoke_action(gated, "record")
        assert len(manager) == 3
        gated.gate.set()
        await finish(first, second, third)
        # Every pending place was given back.
        again = [manager.invoke_action(gated, "record") for _ in range(2)]
        await finish(*again)


async def test_max_pending_counts_unfinished_async_invocations_too() -> None:
    gated = Gated()
    gated.full = Signal()
    counter = Counter()
    async with lt.ActionManager(
        {"gated": gated, "counter": counter}, max_threads=1, max_pending=2
    ) as manager:
        first = manager.invoke_action(gated, "work")
        await gated.full.wait()  # Running in the thread now, so not waiting.
        on_loop = [manager.invoke_action(counter, "anoop") for _ in range(2)]
        with pytest.raises(lt.QueueFullError, match="2 async ones unfinished"):
            manager.invoke_action(counter, "anoop")
        await finish(*on_loop)
        again = manager.invoke_action(counter, "anoop")  # Their places were given back.
        gated.gate.set()
        await finish(first, again)


# -- nesting ------------------------------------------------------------------------


class Inner(lt.Thing):
    @lt.action
    def measure(self, n: int, logger: lt.InvocationLogger) -> int:
        invocation = lt.current_invocation()
        assert invocation is not None
        logger.info("inner %d in %s", n, invocation.action_name)
        self.logger.info("measured %d", n)
        return n * 2


class Outer(lt.Thing):
    @lt.action
    def run(self, inner: Inner) -> int:
        self.logger.info("outer start")
        total: int = inner.measure(1) + inner.measure(n=2)  # type: ignore[call-arg]
        self.logger.info("outer end")
        return total


async def test_nested_actions_run_inline_with_a_pool_of_one() -> None:
    things = {"outer": Outer(), "inner": Inner()}
    async with lt.ActionManager(things, max_threads=1) as manager:
        invocations = [manager.invoke_action("outer", "run") for _ in range(3)]
        await finish(*invocations)
        assert len(manager) == 3  # the nested calls made no invocations of their own
    for invocation in invocations:
        assert invocation.result() == 6
        assert [entry.message for entry in invocation.log] == [
            "outer start",
            "inner 1 in run",
            "measured 1",
            "inner 2 in run",
            "measured 2",
            "outer end",
        ]


# -- cancelling ---------------------------------------------------------------------


async def test_cancel_pending_waiting_for_a_thread_never_runs() -> None:
    gated = Gated()
    gated.full = Signal()
    async with lt.ActionManager({"gated": gated}, max_threads=1) as manager:
        running = manager.invoke_action(gated, "work", {"label": "running"})
        await gated.full.wait()
        queued = manager.invoke_action(gated, "work", {"label": "queued"})
        await anyio.lowlevel.checkpoint()  # let it start waiting for the thread
        # The one thread is busy: it waits.
        assert [summary.id for summary in manager.list_invocations(status="pending")] == [
            queued.id_text
        ]
        queued.cancel()
        assert queued.status is Status.CANCELLED
        gated.gate.set()
        after = manager.invoke_action(gated, "record", {"label": "after"})
        await finish(running, queued, after)
    assert gated.calls == ["running", "after"]
    assert queued.time_started is None
    assert queued.error is not None
    assert queued.error.type == CANCELLED_PROBLEM_TYPE


async def test_cancel_pending_before_its_task_starts_never_runs() -> None:
    gated = Gated()
    async with lt.ActionManager({"gated": gated}) as manager:
        cancelled = [manager.invoke_action(gated, "record", {"label": "sync"})]
        cancelled.append(manager.invoke_action(gated, "record", {"label": "sync2"}))
        for invocation in cancelled:
            invocation.cancel()
        after = manager.invoke_action(gated, "record", {"label": "after"})
        await finish(after, *cancelled)
    assert gated.calls == ["after"]
    assert [invocation.status for invocation in cancelled] == [Status.CANCELLED] * 2
    with pytest.raises(lt.ActionCancelledError, match="before it started"):
        cancelled[0].result()


async def test_cancel_async_before_it_starts_never_runs() -> None:
    class Once(lt.Thing):
        ran = False

        @lt.action
        async def go(self) -> None:
            self.ran = True

    thing = Once()
    async with lt.ActionManager({"once": thing}) as manager:
        invocation = manager.invoke_action(thing, "go")
        invocation.cancel()
        await finish(invocation)
        await anyio.lowlevel.checkpoint()
    assert invocation.status is Status.CANCELLED
    assert not thing.ran


class Stoppable(lt.Thing):
    """Actions that stop, or not, when cancelled."""

    def __init__(self) -> None:
        self.started: Signal | None = None
        self.proceed = threading.Event()
        self.reached_end = False
        self.saw_cancellation = False
        self.ended: Signal | None = None

    def _started(self) -> None:
        assert self.started is not None
        self.started.set()

    @lt.action
    def sleep(self) -> None:
        self._started()
        lt.cancellable_sleep(30)
        self.reached_end = True

    @lt.action
    def check(self) -> None:
        self._started()
        if not self.proceed.wait(TIMEOUT):
            raise TimeoutError("the test never let the action proceed")
        lt.raise_if_cancelled()
        self.reached_end = True

    @lt.action
    def shrug(self) -> str:
        self._started()
        try:
            lt.cancellable_sleep(30)
        except lt.InvocationCancelledError:
            return "stopped early"
        return "slept"

    @lt.action
    def hooked(self, cancel: lt.CancelHook) -> None:
        self._started()
        cancel.sleep(30)
        self.reached_end = True

    @lt.action
    def stubborn(self) -> str:
        self._started()
        if not self.proceed.wait(TIMEOUT):
            raise TimeoutError("the test never let the action proceed")
        self.reached_end = True
        assert self.ended is not None
        self.ended.set()
        return "done anyway"

    @lt.action
    async def wait_on_loop(self) -> None:
        self._started()
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            self.saw_cancellation = True
            raise
        self.reached_end = True


async def start(manager: lt.ActionManager, thing: Stoppable, action: str) -> lt.Invocation:
    """Invoke an action of ``thing`` and wait until its body is running."""
    thing.started = Signal()
    invocation = manager.invoke_action(thing, action)
    await thing.started.wait()
    assert invocation.status is Status.RUNNING
    return invocation


@pytest.mark.parametrize("action", ["sleep", "hooked"])
async def test_cancel_running_threaded_action_that_sleeps(action: str) -> None:
    thing = Stoppable()
    async with lt.ActionManager({"thing": thing}) as manager:
        invocation = await start(manager, thing, action)
        invocation.cancel()
        await finish(invocation)
    assert invocation.status is Status.CANCELLED
    assert not thing.reached_end
    assert invocation.error is not None
    assert invocation.error.type == CANCELLED_PROBLEM_TYPE
    with pytest.raises(lt.ActionCancelledError):
        invocation.result()


async def test_cancel_running_threaded_action_is_cooperative() -> None:
    thing = Stoppable()
    async with lt.ActionManager({"thing": thing}) as manager:
        invocation = await start(manager, thing, "check")
        invocation.cancel()
        assert not invocation.finished  # only asked, until it checks
        thing.proceed.set()
        await finish(invocation)
    assert invocation.status is Status.CANCELLED
    assert not thing.reached_end


async def test_threaded_action_that_catches_cancellation_completes() -> None:
    thing = Stoppable()
    async with lt.ActionManager({"thing": thing}) as manager:
        invocation = await start(manager, thing, "shrug")
        invocation.cancel()
        await finish(invocation)
    assert invocation.status is Status.COMPLETED
    assert invocation.result() == "stopped early"
    assert invocation.error is None


async def test_cancel_running_async_action_for_real() -> None:
    thing = Stoppable()
    async with lt.ActionManager({"thing": thing}) as manager:
        invocation = await start(manager, thing, "wait_on_loop")
        invocation.cancel()
        await finish(invocation)
        assert thing.saw_cancellation
        assert not thing.reached_end
        assert invocation.status is Status.CANCELLED
        # The manager carries on.
        later = manager.invoke_action(thing, "check")
        thing.proceed.set()
        thing.started = Signal()
        await finish(later)
    assert later.status is Status.COMPLETED


async def test_cancel_finished_invocation_raises() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}) as manager:
        invocation = manager.invoke_action(counter, "noop")
        await finish(invocation)
        with pytest.raises(lt.InvocationFinishedError, match="already finished"):
            invocation.cancel()
    assert invocation.status is Status.COMPLETED


async def test_cancellable_sleep_in_an_async_action_is_an_error() -> None:
    class Wrong(lt.Thing):
        @lt.action
        async def nap(self) -> None:
            lt.cancellable_sleep(1)

    async with lt.ActionManager({"wrong": Wrong()}) as manager:
        invocation = manager.invoke_action("wrong", "nap")
        await finish(invocation)
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert "await anyio.sleep" in invocation.error.detail


# -- errors -------------------------------------------------------------------------


class Faulty(lt.Thing):
    @lt.action
    def fail(self) -> None:
        raise ValueError("boom")

    @lt.action
    async def afail(self) -> None:
        raise KeyError("missing")


@pytest.mark.parametrize(
    ("action", "exception", "detail"),
    [("fail", ValueError, "boom"), ("afail", KeyError, "'missing'")],
)
async def test_error_ends_the_invocation_and_others_carry_on(
    action: str, exception: type[Exception], detail: str
) -> None:
    gated = Gated()
    gated.full = Signal()
    things = {"faulty": Faulty(), "gated": gated}
    async with lt.ActionManager(things, debug=True) as manager:
        bystander = manager.invoke_action(gated, "work", {"label": "bystander"})
        await gated.full.wait()
        failed = manager.invoke_action("faulty", action)
        await finish(failed)
        assert bystander.status is Status.RUNNING
        gated.gate.set()
        after = manager.invoke_action(gated, "record", {"label": "after"})
        await finish(bystander, after)
    assert failed.status is Status.ERROR
    assert failed.error is not None
    assert (failed.error.title, failed.error.detail, failed.error.status) == (
        exception.__name__,
        detail,
        500,
    )
    with pytest.raises(exception):
        failed.result()
    [entry] = failed.log
    assert entry.levelname == "ERROR"
    assert entry.exception_type == exception.__name__
    assert entry.traceback is not None
    assert entry.traceback.startswith("Traceback")
    assert f"{action}\n" in entry.traceback or f"in {action}" in entry.traceback
    assert bystander.result() == "bystander"
    assert after.result() == "after"


# -- subscribing to one invocation ----------------------------------------------------


class Chatty(lt.Thing):
    def __init__(self) -> None:
        self.gate = threading.Event()

    @lt.action
    def talk(self, lines: int = 1, wait: bool = False) -> int:
        if wait and not self.gate.wait(TIMEOUT):
            raise TimeoutError("the test never opened the gate")
        for n in range(lines):
            self.logger.info("line %d", n)
        lt.report_progress(100, "done")
        return lines


async def test_subscribe_replays_a_finished_invocation() -> None:
    async with lt.ActionManager({"chatty": Chatty()}) as manager:
        invocation = manager.invoke_action("chatty", "talk", {"lines": 2})
        await finish(invocation)
        events = await collect(manager.subscribe(invocation))
    assert names(events) == [
        "status:pending",
        "status:running",
        "log",
        "log",
        "progress",
        "status:completed",
    ]
    assert events[-1].terminal
    assert events[-1].json()["output"] == 2
    assert events[2].json()["message"] == "line 0"
    ids = [event.id for event in events]
    assert ids == sorted(set(ids))


async def test_subscribe_live_sees_the_same_events_as_a_replay() -> None:
    chatty = Chatty()
    async with lt.ActionManager({"chatty": chatty}) as manager:
        invocation = manager.invoke_action(chatty, "talk", {"lines": 3, "wait": True})
        subscription = manager.subscribe(str(invocation.id))
        first = await anext(subscription)
        chatty.gate.set()
        live = [first, *await collect(subscription)]
        replay = await collect(manager.subscribe(invocation.id))
    assert [event.id for event in live] == [event.id for event in replay]
    assert names(live)[-1] == "status:completed"


async def test_subscribe_resumes_after_any_event_without_gaps() -> None:
    async with lt.ActionManager({"chatty": Chatty()}) as manager:
        invocation = manager.invoke_action("chatty", "talk", {"lines": 4})
        await finish(invocation)
        full = await collect(manager.subscribe(invocation))
        for index, event in enumerate(full):
            resumed = await collect(manager.subscribe(invocation, after=event.id))
            assert [e.id for e in resumed] == [e.id for e in full[index + 1 :]]


async def test_slow_subscriber_blocks_nothing_and_loses_nothing() -> None:
    chatty = Chatty()
    async with lt.ActionManager({"chatty": chatty}, subscriber_queue=2) as manager:
        invocation = manager.invoke_action(chatty, "talk", {"lines": 200, "wait": True})
        slow = manager.subscribe(invocation)
        chatty.gate.set()
        await finish(invocation)  # finished while the subscriber read nothing
        events = await collect(slow)
        replay = await collect(manager.subscribe(invocation))
    assert [event.id for event in events] == [event.id for event in replay]
    assert names(events).count("log") == 200
    assert LOST not in names(events)
    assert events[-1].terminal


async def test_subscriber_is_told_when_events_are_lost() -> None:
    chatty = Chatty()
    async with lt.ActionManager({"chatty": chatty}, subscriber_queue=2, history_len=10) as manager:
        invocation = manager.invoke_action(chatty, "talk", {"lines": 50, "wait": True})
        subscription = manager.subscribe(invocation)
        early = [await anext(subscription)]
        chatty.gate.set()
        await finish(invocation)
        events = early + await collect(subscription)
    assert names(events)[0] == "status:pending"
    assert LOST in names(events)
    where = names(events).index(LOST)
    lost = events[where]
    assert lost.json()["lastEventId"] == events[where - 1].id
    after_lost = events[where + 1 :]
    assert [event.id for event in after_lost] == sorted(event.id for event in after_lost)
    assert after_lost[-1].terminal
    assert after_lost[0].id > lost.id


async def test_every_subscriber_sees_the_terminal_event() -> None:
    chatty = Chatty()
    async with lt.ActionManager({"chatty": chatty}, subscriber_queue=3) as manager:
        invocation = manager.invoke_action(chatty, "talk", {"lines": 30, "wait": True})
        subscriptions = [manager.subscribe(invocation) for _ in range(5)]
        chatty.gate.set()
        await finish(invocation)
        for subscription in subscriptions:
            events = await collect(subscription)
            assert events[-1].terminal
            assert events[-1].json()["status"] == "completed"
        assert invocation.events.subscriber_count == 0


class Bursty(lt.Thing):
    """Runs a burst of reports in a worker thread while the test keeps the loop busy."""

    def __init__(self, burst: Callable[[lt.Thing], None]) -> None:
        self.burst = burst
        self.started = Signal()
        self.go = threading.Event()
        self.burst_done = threading.Event()

    @lt.action
    def work(self) -> None:
        self.started.set()
        self.go.wait(TIMEOUT)
        self.burst(self)
        self.burst_done.set()


async def events_of_a_burst(burst: Callable[[lt.Thing], None]) -> list[lt.Event]:
    """Every event of an invocation whose burst ran while the loop could not."""
    bursty = Bursty(burst)
    async with lt.ActionManager({"bursty": bursty}) as manager:
        invocation = manager.invoke_action(bursty, "work")
        await bursty.started.wait()
        bursty.go.set()
        # Block the loop on purpose: every event waits in the bridge's outbox.
        assert bursty.burst_done.wait(TIMEOUT)
        await finish(invocation)
        return await collect(manager.subscribe(invocation))


async def test_progress_bursts_are_coalesced() -> None:
    def burst(thing: lt.Thing) -> None:
        for percent in range(1000):
            lt.report_progress(percent / 10, f"step {percent}")

    events = await events_of_a_burst(burst)
    progress = [event.json() for event in events if event.name == "progress"]
    assert progress == [{"percent": 99.9, "message": "step 999"}]


async def test_log_and_progress_from_a_thread_never_overtake_each_other() -> None:
    def burst(thing: lt.Thing) -> None:
        lt.report_progress(10)
        lt.report_progress(20)
        thing.logger.info("a")
        lt.report_progress(30)
        lt.report_progress(40)
        thing.logger.info("b")
        lt.report_progress(50)

    events = await events_of_a_burst(burst)
    told = [
        event.json()["percent"] if event.name == "progress" else event.json()["message"]
        for event in events
        if event.name in ("log", "progress")
    ]
    assert told == [20, "a", 40, "b", 50]
    assert names(events)[-1] == "status:completed"


async def test_nothing_follows_the_terminal_event() -> None:
    class Leaky(lt.Thing):
        """Leaves a helper thread behind that keeps talking after the action returns."""

        def __init__(self) -> None:
            self.returned = threading.Event()
            self.helper: threading.Thread | None = None

        @lt.action
        def start_helper(self, logger: lt.InvocationLogger) -> None:
            invocation = lt.current_invocation()
            assert invocation is not None

            def keep_talking() -> None:
                self.returned.wait(TIMEOUT)
                for n in range(100):
                    logger.info("late %d", n)
                    invocation.set_progress(n)

            self.helper = threading.Thread(target=keep_talking)
            self.helper.start()
            logger.info("returning")

    leaky = Leaky()
    async with lt.ActionManager({"leaky": leaky}) as manager:
        invocation = manager.invoke_action(leaky, "start_helper")
        await finish(invocation)
        leaky.returned.set()
        assert leaky.helper is not None
        await anyio.to_thread.run_sync(leaky.helper.join, TIMEOUT)
        await anyio.lowlevel.checkpoint()  # any flush the helper scheduled has run
        events = invocation.events.events_after(0)
    assert names(events) == ["status:pending", "status:running", "log", "status:completed"]


# -- the firehose -------------------------------------------------------------------


class Axis(lt.Thing):
    @lt.action
    async def move(self) -> str:
        return "moved"

    @lt.action
    async def home(self) -> str:
        return "homed"


async def test_firehose_carries_status_changes_filtered() -> None:
    async with lt.ActionManager({"x": Axis(), "y": Axis()}) as manager:
        everything = manager.subscribe()
        only_x = manager.subscribe(thing="x")
        only_home = manager.subscribe(action="home")
        y_home = manager.subscribe(thing="y", action="home")
        invocations = [
            manager.invoke_action(thing, action) for thing in "xy" for action in ("move", "home")
        ]
        await finish(*invocations)

        def seen(subscription: lt.Subscription) -> set[tuple[str, str]]:
            return {(event.thing, event.affordance) for event in drain(subscription)}

        all_events = drain(everything)
        assert len(all_events) == 12  # pending, running, completed for each
        assert {event.name for event in all_events} == {"status"}
        assert seen(only_x) == {("x", "move"), ("x", "home")}
        assert seen(only_home) == {("x", "home"), ("y", "home")}
        assert seen(y_home) == {("y", "home")}
        final = [event for event in all_events if event.terminal]
        assert len(final) == 4
        assert "output" not in final[0].json()
        replay = drain(manager.subscribe(after=all_events[5].id))
        assert [event.id for event in replay] == [event.id for event in all_events[6:]]
    assert await collect(everything) == []


# -- retention ----------------------------------------------------------------------


async def test_expiry_by_time_with_an_explicit_clock() -> None:
    gated = Gated()
    async with lt.ActionManager({"gated": gated}, retention=60) as manager:
        done = manager.invoke_action(gated, "record")
        running = manager.invoke_action(gated, "work")
        await finish(done)
        expiry = done.expiry_time
        assert expiry is not None
        assert done.time_completed is not None
        assert expiry - done.time_completed == timedelta(seconds=60)
        assert manager.expire_invocations(now=expiry - timedelta(microseconds=1)) == 0
        assert manager.get_invocation(done.id) is done
        assert manager.expire_invocations(now=expiry) == 1
        with pytest.raises(lt.InvocationNotFoundError, match="expired"):
            manager.get_invocation(done.id)
        # Unfinished invocations never expire.
        assert manager.expire_invocations(now=expiry + timedelta(days=1)) == 0
        assert manager.get_invocation(running.id) is running
        gated.gate.set()
        await finish(running)


async def test_expiry_runs_on_a_timer() -> None:
    counter = Counter()
    clock = FakeClock()
    async with lt.ActionManager(
        {"counter": counter}, retention=60, expiry_interval=1, clock=clock
    ) as manager:
        invocation = manager.invoke_action(counter, "anoop")
        await finish(invocation)
        assert invocation.time_completed == clock.now()
        assert await clock.advance(59) == 1  # the timer ran once, too early to expire it
        assert manager.get_invocation(invocation.id) is invocation
        assert await clock.advance(1) == 1
        assert len(manager) == 0
    with pytest.raises(lt.InvocationNotFoundError):
        manager.get_invocation(invocation.id)


async def test_an_expired_invocation_is_freed_even_while_someone_follows_it() -> None:
    counter = Counter()
    clock = FakeClock()
    async with lt.ActionManager(
        {"counter": counter}, retention=10, expiry_interval=1, clock=clock
    ) as manager:
        invocation = manager.invoke_action(counter, "add", {"by": 1})
        following = manager.subscribe(invocation)  # an event stream still open, unread
        firehose = manager.subscribe(after=0)
        await finish(invocation)
        gone = weakref.ref(invocation)
        del invocation
        await clock.advance(10)
        gc.collect()
        assert gone() is None, "an expired invocation is still referenced"
        events = await collect(following)
        assert names(events)[-1] == "status:completed"
        assert events[-1].json()["output"] == 1
        assert names(drain(firehose)) == ["status:pending", "status:running", "status:completed"]


async def test_max_retained_forgets_the_soonest_to_expire() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}, max_retained=3) as manager:
        invocations = []
        for _ in range(5):
            invocation = manager.invoke_action(counter, "anoop")
            await finish(invocation)
            invocations.append(invocation)
        assert len(manager) == 3
        kept = {summary.id for summary in manager.list_invocations()}
        assert kept == {str(invocation.id) for invocation in invocations[2:]}


async def test_max_retained_forgets_the_soonest_to_expire_across_retention_times() -> None:
    class Mixed(lt.Thing):
        @lt.action(retention=5)
        async def brief(self) -> None:
            pass

        @lt.action
        async def lasting(self) -> None:
            pass

    async with lt.ActionManager({"mixed": Mixed()}, retention=300, max_retained=2) as manager:
        lasting = manager.invoke_action("mixed", "lasting")
        await finish(lasting)
        brief = manager.invoke_action("mixed", "brief")
        await finish(brief)
        newest = manager.invoke_action("mixed", "lasting")
        await finish(newest)
        # The brief one finished later than the first lasting one, but expires sooner.
        assert {summary.id for summary in manager.list_invocations()} == {
            str(lasting.id),
            str(newest.id),
        }


async def test_max_retained_never_forgets_unfinished_invocations() -> None:
    gated = Gated()
    async with lt.ActionManager({"gated": gated}, max_retained=1) as manager:
        running = [manager.invoke_action(gated, "work") for _ in range(3)]
        done = [manager.invoke_action(gated, "record") for _ in range(3)]
        await finish(*done)
        assert len(manager) == 4
        gated.gate.set()
        await finish(*running)
        assert len(manager) == 1


async def test_per_action_retention() -> None:
    class Brief(lt.Thing):
        @lt.action(retention=0.5)
        async def blink(self) -> None:
            pass

        @lt.action
        async def stare(self) -> None:
            pass

    async with lt.ActionManager({"brief": Brief()}, retention=300) as manager:
        blink = manager.invoke_action("brief", "blink")
        stare = manager.invoke_action("brief", "stare")
        await finish(blink, stare)
        assert blink.retention_time == 0.5
        assert stare.retention_time == 300
        assert blink.time_completed is not None
        assert manager.expire_invocations(now=blink.time_completed + timedelta(seconds=1)) == 1
        assert [summary.id for summary in manager.list_invocations()] == [str(stare.id)]


async def test_infinite_retention_keeps_invocations() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}, retention=math.inf) as manager:
        invocation = manager.invoke_action(counter, "anoop")
        await finish(invocation)
        assert invocation.status is Status.COMPLETED
        assert invocation.expiry_time is not None
        assert invocation.expiry_time.year == 9999
        assert invocation.time_completed is not None
        later = invocation.time_completed + timedelta(days=365 * 1000)
        assert manager.expire_invocations(now=later) == 0
        assert manager.get_invocation(invocation.id) is invocation


async def test_max_retained_bounds_the_invocations_alive_whatever_the_firehose_holds() -> None:
    things = {"counter": Counter(), "faulty": Faulty()}
    async with lt.ActionManager(things, max_retained=10) as manager:
        firehose = manager.subscribe(after=0)  # subscribed, never read: it lags
        alive = []
        for batch in range(10):
            # Threaded and async, completing and failing: every way out is bounded.
            thing, action = [
                ("counter", "noop"),
                ("counter", "anoop"),
                ("faulty", "fail"),
                ("faulty", "afail"),
                ("counter", "increment"),
            ][batch % 5]
            invocations = [manager.invoke_action(thing, action) for _ in range(100)]
            await finish(*invocations)
            alive += [weakref.ref(invocation) for invocation in invocations]
            del invocations
        gc.collect()
        assert len(manager) == 10
        assert len(manager.hub.invocations) == 3000  # every status change is still buffered
        assert sum(ref() is not None for ref in alive) == 10
        assert firehose.lagged
        firehose.close()


async def test_max_retained_is_a_hard_bound_freed_by_reference_counting_alone() -> None:
    things = {"counter": Counter(), "faulty": Faulty()}
    gc.collect()
    gc.disable()  # Nothing waits for a collection: no invocation may sit in a cycle.
    try:
        async with lt.ActionManager(things, max_retained=10) as manager:
            for thing, action in [
                ("counter", "noop"),
                ("counter", "anoop"),
                ("faulty", "fail"),
                ("faulty", "afail"),
                ("counter", "increment"),
            ]:
                invocations = [manager.invoke_action(thing, action) for _ in range(50)]
                await finish(*invocations)
                alive = [weakref.ref(invocation) for invocation in invocations]
                del invocations
                assert sum(ref() is not None for ref in alive) == 10, action
    finally:
        gc.enable()


async def test_large_outputs_are_freed_with_their_invocations() -> None:
    class Camera(lt.Thing):
        @lt.action
        def snap(self) -> str:
            return "x" * 2**20  # 1 MiB

    async with lt.ActionManager({"camera": Camera()}, max_retained=5) as manager:
        firehose = manager.subscribe(after=0)
        first = manager.invoke_action("camera", "snap")
        following = manager.subscribe(first)  # holds its topic, so its output, not it
        alive = [weakref.ref(first)]
        await finish(first)
        del first
        tracemalloc.start()
        try:
            for _ in range(299):
                invocation = manager.invoke_action("camera", "snap")
                await finish(invocation)
                alive.append(weakref.ref(invocation))
            del invocation
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sum(ref() is not None for ref in alive) == 5
        # Five retained outputs (and the followed one); 300 MiB went through.
        assert held < 12 * 2**20, f"{held / 2**20:.0f} MiB still held"
        assert len((await collect(following))[-1].data) > 2**20
        firehose.close()


@pytest.mark.stress
@pytest.mark.timeout(900)
async def test_stress_100_000_invocations_stay_bounded_and_all_end() -> None:
    class Mixed(lt.Thing):
        @lt.action
        def threaded(self, fail: bool = False) -> int:
            if fail:
                raise ValueError("asked to fail")
            return 1

        @lt.action
        async def on_loop(self, fail: bool = False) -> int:
            if fail:
                raise ValueError("asked to fail")
            return 2

    outcomes: dict[Status, int] = dict.fromkeys(Status, 0)
    alive: list[weakref.ref[lt.Invocation]] = []
    async with lt.ActionManager({"mixed": Mixed()}, max_retained=1000) as manager:
        firehose = manager.subscribe()  # never read
        for _ in range(100):
            invocations = []
            for n in range(1000):
                action = "threaded" if n % 2 else "on_loop"
                invocations.append(manager.invoke_action("mixed", action, {"fail": n % 7 == 0}))
                if n % 10 == 0:
                    invocations[-1].cancel()
            await finish(*invocations, seconds=120)
            for invocation in invocations:
                outcomes[invocation.status] += 1
            alive += [weakref.ref(invocation) for invocation in invocations]
            del invocations, invocation
            assert len(manager) <= 1000

        # A worker thread drops its call's arguments just after it hands the
        # outcome back, so on a busy machine the last threaded invocation can
        # still be referenced for a moment after it finished: wait for the
        # count, which must come down to what the manager retains.
        def still_alive() -> int:
            gc.collect()
            return sum(ref() is not None for ref in alive)

        async with asyncio.timeout(TIMEOUT):
            while still_alive() > 1000:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert still_alive() == 1000
        assert len(manager) == 1000
        assert manager.hub.invocations.subscriber_count == 1
        firehose.close()
    cancelled = 100 * 100  # every tenth, cancelled while pending
    failed = 100 * sum(1 for n in range(1000) if n % 7 == 0 and n % 10)
    assert outcomes == {
        Status.PENDING: 0,
        Status.RUNNING: 0,
        Status.CANCELLED: cancelled,
        Status.ERROR: failed,
        Status.COMPLETED: 100_000 - cancelled - failed,
    }


async def test_soak_keeps_memory_flat() -> None:
    counter = Counter()
    async with lt.ActionManager(
        {"counter": counter}, max_retained=1000, event_buffer=5000
    ) as manager:
        first = manager.invoke_action(counter, "anoop")
        await finish(first)
        first_ref = weakref.ref(first)
        del first
        for batch in range(20):
            action = "noop" if batch % 10 == 0 else "anoop"
            invocations = [manager.invoke_action(counter, action) for _ in range(1000)]
            await finish(*invocations, seconds=20)
            del invocations
            assert len(manager) <= 1000
        gc.collect()
        assert first_ref() is None, "a forgotten invocation is still referenced"
        assert len(manager) == 1000
        # The buffer trims an eighth at a time: between 7/8 of its bound and the bound.
        assert 5000 * 7 // 8 <= len(manager.hub.invocations) <= 5000
        assert manager.hub.invocations.subscriber_count == 0


# -- shutdown -----------------------------------------------------------------------


async def test_shutdown_cancels_pending_and_running_and_ends_streams() -> None:
    thing = Stoppable()
    async with lt.ActionManager({"thing": thing}, max_threads=1) as manager:
        threaded = await start(manager, thing, "sleep")
        on_loop = await start(manager, thing, "wait_on_loop")
        pending = manager.invoke_action(thing, "check")
        firehose = manager.subscribe()
        own = manager.subscribe(threaded)
    assert threaded.status is Status.CANCELLED
    assert on_loop.status is Status.CANCELLED
    assert pending.status is Status.CANCELLED
    assert pending.time_started is None
    assert thing.saw_cancellation
    assert not thing.reached_end
    assert names(await collect(firehose))[-3:] == ["status:cancelled"] * 3
    assert (await collect(own))[-1].terminal


async def test_shutdown_abandons_a_thread_that_will_not_stop() -> None:
    thing = Stoppable()
    thing.ended = Signal()
    with anyio.fail_after(TIMEOUT):
        async with lt.ActionManager({"thing": thing}, shutdown_grace=0.1) as manager:
            invocation = await start(manager, thing, "stubborn")
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    detail = invocation.error.detail
    assert detail.startswith("the server shut down and the action was still running ")
    assert detail.endswith("so it was abandoned (its thread may still run)")
    waited = re.search(r"running (\d+\.\d\d) s after it was asked to stop", detail)
    assert waited is not None
    assert float(waited.group(1)) >= 0.1  # the grace it was given
    thing.proceed.set()  # let the abandoned thread finish
    assert thing.ended is not None
    await thing.ended.wait()
    assert thing.reached_end
    assert invocation.status is Status.CANCELLED  # a late return changes nothing


async def test_shutdown_says_how_long_a_cancelled_async_action_took_to_stop() -> None:
    thing = Stoppable()
    async with lt.ActionManager({"thing": thing}, shutdown_grace=TIMEOUT) as manager:
        invocation = await start(manager, thing, "wait_on_loop")
        asked = time.monotonic()
    took = time.monotonic() - asked
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    detail = invocation.error.detail
    assert detail.startswith("the server shut down; the action stopped ")
    stopped = re.search(r"stopped (\d+\.\d\d) s after it was asked to$", detail)
    assert stopped is not None
    assert float(stopped.group(1)) <= took + 0.01  # not the grace: it stopped at once


async def test_shutdown_with_nothing_running_is_quick() -> None:
    with anyio.fail_after(1):
        async with lt.ActionManager({"counter": Counter()}, expiry_interval=30):
            pass


async def test_a_manager_can_run_again_after_shutdown() -> None:
    counter = Counter()
    manager = lt.ActionManager({"counter": counter})
    seen: list[list[lt.Event]] = []
    for by in (1, 2):
        async with manager:
            firehose = manager.subscribe()
            properties = manager.subscribe_properties()
            invocation = manager.invoke_action(counter, "add", {"by": by})
            await finish(invocation)
            seen.append(drain(firehose) + drain(properties))
    first, second = seen
    assert names(second) == ["status:pending", "status:running", "status:completed", "count"]
    assert second[-1].json() == 3
    assert min(event.id for event in second) > max(event.id for event in first)


class Unstoppable(lt.Thing):
    """An async action that swallows every cancellation, noting what it saw."""

    def __init__(self) -> None:
        self.started: Signal | None = None
        self.cancellations = 0
        self.closed = False

    @lt.action
    async def ignore(self) -> None:
        assert self.started is not None
        self.started.set()
        try:
            while True:
                try:
                    await anyio.sleep(3600)
                except anyio.get_cancelled_exc_class():
                    self.cancellations += 1
        except GeneratorExit:
            self.closed = True
            raise


async def test_shutdown_closes_an_async_action_that_swallows_its_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    thing = Unstoppable()
    with (
        caplog.at_level(logging.WARNING, logger="labthings_async"),
        anyio.fail_after(TIMEOUT),
    ):
        async with lt.ActionManager({"thing": thing}, shutdown_grace=0.1) as manager:
            thing.started = Signal()
            invocation = manager.invoke_action(thing, "ignore")
            await thing.started.wait()
    assert thing.cancellations >= 1  # It was asked, and ignored it.
    assert thing.closed  # Then its coroutine was closed: its clean-up ran.
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    assert invocation.error.detail.endswith("so it was abandoned (its coroutine was closed)")
    assert invocation.task is None
    [warning] = [r for r in caplog.records if r.name == "labthings_async.manager"]
    assert warning.getMessage().startswith("shutdown: abandoning 1 invocation(s) still running")
    assert f"/thing/ignore {invocation.id_text} (async)" in warning.getMessage()


async def test_shutdown_names_every_abandoned_invocation_and_frees_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stoppable, unstoppable = Stoppable(), Unstoppable()
    stoppable.ended = Signal()
    things = {"stoppable": stoppable, "unstoppable": unstoppable}
    with caplog.at_level(logging.WARNING, logger="labthings_async.manager"):
        async with lt.ActionManager(things, shutdown_grace=0.1) as manager:
            threaded = await start(manager, stoppable, "stubborn")
            unstoppable.started = Signal()
            on_loop = manager.invoke_action(unstoppable, "ignore")
            await unstoppable.started.wait()
            done = manager.invoke_action(stoppable, "shrug")  # stops when asked: not abandoned
    [message] = [r.getMessage() for r in caplog.records if r.name == "labthings_async.manager"]
    assert "abandoning 2 invocation(s)" in message
    assert f"/stoppable/stubborn {threaded.id_text} (threaded)" in message
    assert f"/unstoppable/ignore {on_loop.id_text} (async)" in message
    assert done.id_text not in message
    assert done.finished
    # Nothing is left on the loop, whatever the actions did.
    assert asyncio.all_tasks() == {asyncio.current_task()}
    stoppable.proceed.set()
    await stoppable.ended.wait()


class Exiting(lt.Thing):
    """Actions that end in every way a BaseException can, threaded and async."""

    @lt.action
    def threaded(self, kind: str) -> None:
        raise_kind(kind)

    @lt.action
    async def on_loop(self, kind: str) -> None:
        raise_kind(kind)


class Halt(BaseException):
    """A BaseException of the action's own."""


def raise_kind(kind: str) -> None:
    errors: dict[str, BaseException] = {
        "SystemExit": SystemExit(3),
        "KeyboardInterrupt": KeyboardInterrupt(),
        "GeneratorExit": GeneratorExit(),
        "Halt": Halt("the pump overheated"),
    }
    raise errors[kind]


@pytest.mark.parametrize("kind", ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "Halt"])
@pytest.mark.parametrize("action", ["threaded", "on_loop"])
async def test_any_base_exception_ends_only_its_invocation(action: str, kind: str) -> None:
    thing = Exiting()
    async with lt.ActionManager({"exiting": thing}) as manager:
        invocation = manager.invoke_action(thing, action, {"kind": kind})
        await finish(invocation)
        after = manager.invoke_action(thing, action, {"kind": "Halt"})
        await finish(after)
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert invocation.error.title == kind
    assert invocation.error.status == 500
    assert invocation.error.detail.startswith(f"the action raised {kind}")
    assert invocation.error.detail.endswith(
        "it ended this invocation instead, and the server carries on"
    )
    assert isinstance(invocation.exception, BaseException)
    assert type(invocation.exception).__name__ == kind
    assert after.status is Status.ERROR  # The manager carried on.


# -- Thing lifecycle ----------------------------------------------------------------


class Recorded(lt.Thing):
    def __init__(self, journal: list[str], fail_setup: bool = False) -> None:
        self.journal = journal
        self.fail_setup = fail_setup
        self.setup_thread = 0

    def setup(self) -> None:
        self.setup_thread = threading.get_ident()
        self.journal.append(f"setup {self.name}")
        if self.fail_setup:
            raise RuntimeError("no hardware")

    def teardown(self) -> None:
        self.journal.append(f"teardown {self.name}")


class RecordedAsync(lt.Thing):
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def setup(self) -> None:
        await anyio.lowlevel.checkpoint()
        self.journal.append(f"setup {self.name}")

    async def teardown(self) -> None:
        await anyio.sleep(0.01)  # some I/O, as releasing real hardware would take
        self.journal.append(f"teardown {self.name}")


async def test_setup_in_order_and_teardown_in_reverse() -> None:
    journal: list[str] = []
    first = Recorded(journal)
    things = {"a": first, "b": RecordedAsync(journal), "c": Recorded(journal)}
    async with lt.ActionManager(things):
        assert journal == ["setup a", "setup b", "setup c"]
        assert first.setup_thread not in (0, threading.get_ident())
    assert journal[3:] == ["teardown c", "teardown b", "teardown a"]


async def test_failing_setup_raises_naming_the_thing() -> None:
    journal: list[str] = []
    things = {
        "a": Recorded(journal),
        "b": Recorded(journal, fail_setup=True),
        "c": Recorded(journal),
    }
    manager = lt.ActionManager(things)
    with pytest.raises(lt.ThingSetupError) as caught:
        async with manager:
            pytest.fail("the manager must not start")
    message = str(caught.value)
    assert "'b'" in message
    assert "Recorded" in message
    assert "no hardware" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert journal == ["setup a", "setup b", "teardown a"]
    with pytest.raises(lt.ManagerNotRunningError):
        manager.invoke_action("a", "noop")


async def test_failing_teardown_is_logged_and_the_rest_still_tear_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(lt.Thing):
        async def teardown(self) -> None:
            raise OSError("port vanished")

    journal: list[str] = []
    things = {"a": Recorded(journal), "broken": Broken()}
    with caplog.at_level(logging.ERROR, logger="labthings_async.manager"):
        async with lt.ActionManager(things):
            pass
    assert journal == ["setup a", "teardown a"]
    assert "port vanished" in caplog.text


@pytest.mark.parametrize("error", [SystemExit(2), KeyboardInterrupt(), Halt("no power")])
@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_a_setup_raising_any_base_exception_is_a_setup_error(
    kind: str, error: BaseException
) -> None:
    class Plain(lt.Thing):
        def setup(self) -> None:
            raise error

    class Async(lt.Thing):
        async def setup(self) -> None:
            raise error

    thing = Plain() if kind == "plain" else Async()
    with pytest.raises(lt.ThingSetupError) as caught:
        async with lt.ActionManager({"broken": thing}):
            pytest.fail("the manager must not start")
    assert f"setup of Thing 'broken' ({type(thing).__name__}) failed: " in str(caught.value)
    assert type(error).__name__ in str(caught.value)
    assert caught.value.__cause__ is error


async def test_a_teardown_that_never_returns_is_abandoned_and_the_rest_still_tear_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()

    class Blocking(lt.Thing):
        def teardown(self) -> None:
            release.wait(TIMEOUT)

    class Ignoring(lt.Thing):
        async def teardown(self) -> None:
            while True:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(3600)

    class Exiting(lt.Thing):
        def teardown(self) -> None:
            raise SystemExit(1)

    journal: list[str] = []
    things = {
        "a": Recorded(journal),
        "blocking": Blocking(),
        "ignoring": Ignoring(),
        "exiting": Exiting(),
    }
    with (
        caplog.at_level(logging.WARNING, logger="labthings_async.manager"),
        anyio.fail_after(TIMEOUT),
    ):
        async with lt.ActionManager(things, teardown_timeout=0.1):
            pass
    release.set()
    assert journal == ["setup a", "teardown a"]
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "teardown of Thing 'exiting' (Exiting) failed: SystemExit: 1"
    assert messages[1] == (
        "teardown of Thing 'ignoring' (Ignoring) was still running after 0.1 s; "
        "abandoned it (its coroutine is closed)"
    )
    assert messages[2] == (
        "teardown of Thing 'blocking' (Blocking) was still running after 0.1 s; "
        "abandoned it (its thread may still run)"
    )


# -- context helpers ----------------------------------------------------------------


def test_context_helpers_outside_an_invocation() -> None:
    assert lt.current_invocation() is None
    lt.raise_if_cancelled()
    lt.report_progress(50, "ignored")
    started = time.monotonic()
    lt.cancellable_sleep(0.05)
    assert time.monotonic() - started >= 0.05


async def test_current_invocation_inside_threaded_and_async_actions() -> None:
    class Introspective(lt.Thing):
        @lt.action
        def threaded(self) -> str:
            invocation = lt.current_invocation()
            return str(invocation.id) if invocation else ""

        @lt.action
        async def on_loop(self) -> str:
            invocation = lt.current_invocation()
            return str(invocation.id) if invocation else ""

    async with lt.ActionManager({"me": Introspective()}) as manager:
        invocations = [manager.invoke_action("me", name) for name in ("threaded", "on_loop")]
        await finish(*invocations)
    for invocation in invocations:
        assert invocation.result() == str(invocation.id)
    assert lt.current_invocation() is None


async def test_invocation_logger_works_from_threads_the_action_starts() -> None:
    class Spawner(lt.Thing):
        @lt.action
        def spawn(self, logger: lt.InvocationLogger) -> None:
            helpers = [
                threading.Thread(target=logger.info, args=("from helper",)),
                threading.Thread(target=self.logger.info, args=("untracked helper",)),
            ]
            for helper in helpers:
                helper.start()
                helper.join()

    async with lt.ActionManager({"spawner": Spawner()}) as manager:
        invocation = manager.invoke_action("spawner", "spawn")
        await finish(invocation)
    # A thread the action starts has no current invocation; only the bound logger knows it.
    assert [entry.message for entry in invocation.log] == ["from helper"]


async def test_logs_outside_an_invocation_are_not_captured() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}) as manager:
        counter.logger.info("not in any invocation")
        invocation = manager.invoke_action(counter, "noop")
        await finish(invocation)
    assert list(invocation.log) == []


async def test_a_cancelled_host_still_shuts_down_and_tears_down() -> None:
    journal: list[str] = []
    thing = Stoppable()
    things = {"thing": thing, "a": Recorded(journal), "b": RecordedAsync(journal)}
    with anyio.move_on_after(TIMEOUT) as outer:
        async with lt.ActionManager(things) as manager:
            running = await start(manager, thing, "sleep")
            # As a deadline or Ctrl-C would: the host is cancelled while it waits.
            outer.deadline = anyio.current_time()
            await anyio.sleep(TIMEOUT)
    assert outer.cancelled_caught
    assert running.status is Status.CANCELLED
    assert journal[2:] == ["teardown b", "teardown a"]


async def test_a_setup_cancelled_midway_tears_down_what_was_set_up() -> None:
    class Hanging(lt.Thing):
        def __init__(self) -> None:
            self.entered = anyio.Event()

        async def setup(self) -> None:
            self.entered.set()
            await anyio.sleep_forever()

    journal: list[str] = []
    hanging = Hanging()
    things = {"a": Recorded(journal), "b": RecordedAsync(journal), "hanging": hanging}

    async def cancel_when_entered(scope: anyio.CancelScope) -> None:
        await hanging.entered.wait()
        scope.cancel()

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tasks:
            with anyio.CancelScope() as host:
                tasks.start_soon(cancel_when_entered, host)
                async with lt.ActionManager(things):
                    pytest.fail("the manager must not start")
    assert host.cancelled_caught
    assert journal == ["setup a", "setup b", "teardown b", "teardown a"]
