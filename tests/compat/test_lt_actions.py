"""LabThings-FastAPI's behaviours around actions, ported from its test suite: cancelling,
logging, the action manager and helper threads.

Each Thing here is written as LabThings-FastAPI 0.3.0 code would be (``lt.exceptions``,
``lt.cancellable_sleep``, ``self.logger``...) and driven over HTTP through
``server.test_client()``, as LabThings' own tests drive it. Where we differ on
purpose (409 for a late cancel), the test asserts our behaviour and
docs/porting.md says why.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from things import TIMEOUT, Signal

import labthings_async as lt
from labthings_async.http import action_router


def finished(http: TestClient, invocation: dict[str, Any]) -> dict[str, Any]:
    """Poll an invocation, as LabThings' ``poll_task`` does, until it has finished."""
    deadline = time.monotonic() + TIMEOUT
    while invocation["status"] in ("pending", "running"):
        assert time.monotonic() < deadline, f"still {invocation['status']}"
        time.sleep(0.01)
        invocation = http.get(invocation["href"]).json()
    return invocation


def running(http: TestClient, response: Any) -> dict[str, Any]:
    """The invocation a POST started, once its action is running."""
    invocation: dict[str, Any] = response.json()
    deadline = time.monotonic() + TIMEOUT
    while invocation["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.01)
        invocation = http.get(invocation["href"]).json()
    return invocation


# -- cancelling (LabThings' test_action_cancel) -------------------------------------------------


class CancellableCountingThing(lt.Thing):
    counter: int = lt.property(default=0)
    check: bool = lt.property(default=False)
    """Whether the count saw the cancel, and reacted to it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counting = threading.Event()
        self.first_cancel_seen = threading.Event()

    @lt.action
    def count_slowly(self, n: int = 10) -> None:
        for _i in range(n):
            self.counting.set()
            try:
                lt.cancellable_sleep(0.1)
            except lt.exceptions.InvocationCancelledError:
                self.check = True
                raise
            self.counter += 1

    @lt.action
    def count_slowly_but_ignore_cancel(self, n: int = 10) -> None:
        increment = 1
        for _i in range(n):
            self.counting.set()
            try:
                lt.cancellable_sleep(0.1)
            except lt.exceptions.InvocationCancelledError:
                increment = 3  # Rather than stop, this disobedient action counts faster.
            self.counter += increment

    @lt.action
    def count_and_only_cancel_if_asked_twice(self, n: int = 10) -> None:
        cancelled_once = False
        increment = 1
        for _i in range(n):
            self.counting.set()
            try:
                lt.cancellable_sleep(0.1)
            except lt.exceptions.InvocationCancelledError:
                if cancelled_once:
                    raise
                cancelled_once = True
                increment = -1  # Count backwards instead.
                self.first_cancel_seen.set()
            self.counter += increment


@pytest.fixture
def counting() -> Iterator[tuple[CancellableCountingThing, TestClient]]:
    server = lt.ThingServer.from_things({"counting_thing": CancellableCountingThing})
    thing = server.manager.things["counting_thing"]
    assert isinstance(thing, CancellableCountingThing)
    with server.test_client() as http:
        yield thing, http


def test_an_invocation_is_cancelled_and_its_handler_runs(
    counting: tuple[CancellableCountingThing, TestClient],
) -> None:
    thing, http = counting
    invocation = running(http, http.post("/counting_thing/count_slowly", json={}))
    assert thing.counting.wait(TIMEOUT)
    assert http.delete(invocation["href"]).status_code == 200
    invocation = finished(http, invocation)
    assert invocation["status"] == "cancelled"
    assert thing.counter < 9
    assert thing.check


def test_an_invocation_may_refuse_to_be_cancelled(
    counting: tuple[CancellableCountingThing, TestClient],
) -> None:
    thing, http = counting
    invocation = running(
        http, http.post("/counting_thing/count_slowly_but_ignore_cancel", json={"n": 5})
    )
    assert thing.counting.wait(TIMEOUT)
    assert http.delete(invocation["href"]).status_code == 200
    assert finished(http, invocation)["status"] == "completed"
    assert thing.counter > 5  # It counted faster once asked to stop.


def test_an_invocation_may_need_two_cancels(
    counting: tuple[CancellableCountingThing, TestClient],
) -> None:
    thing, http = counting
    once = running(
        http, http.post("/counting_thing/count_and_only_cancel_if_asked_twice", json={"n": 5})
    )
    assert thing.counting.wait(TIMEOUT)
    http.delete(once["href"]).raise_for_status()
    assert finished(http, once)["status"] == "completed"
    assert thing.counter < 5

    thing.counter = 0
    thing.first_cancel_seen.clear()
    twice = running(
        http, http.post("/counting_thing/count_and_only_cancel_if_asked_twice", json={"n": 50})
    )
    http.delete(twice["href"]).raise_for_status()
    # The second request must come after the first was raised, or the two are one.
    assert thing.first_cancel_seen.wait(TIMEOUT)
    http.delete(twice["href"]).raise_for_status()
    assert finished(http, twice)["status"] == "cancelled"
    assert thing.counter < 0


def test_a_late_cancel_is_a_409_problem_and_changes_nothing(
    counting: tuple[CancellableCountingThing, TestClient],
) -> None:
    thing, http = counting
    invocation = finished(
        http,
        http.post(
            "/counting_thing/count_slowly", json={"n": 1}, headers={"Prefer": "wait=5"}
        ).json(),
    )
    late = http.delete(invocation["href"])
    # LabThings-FastAPI answers 503; a conflict with the invocation's state is a 409.
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"
    assert "already finished (completed)" in late.json()["detail"]
    assert thing.counter == 1
    assert not thing.check


def test_cancelling_an_unknown_invocation_is_404(
    counting: tuple[CancellableCountingThing, TestClient],
) -> None:
    _, http = counting
    assert http.delete(f"/action_invocations/{uuid.uuid4()}").status_code == 404


# -- logging (LabThings' test_action_logging) ---------------------------------------------------


class ThingThatLogsAndErrors(lt.Thing):
    LOG_MESSAGES = ("message 1", "message 2")

    @lt.action
    def action_that_logs(self) -> list[str]:
        for message in self.LOG_MESSAGES:
            self.logger.info(message)
        lt.get_thing_logger().info("from the Things' logger")
        return [entry.message for entry in self.get_current_invocation_logs()]

    @lt.action
    def action_with_unhandled_error(self) -> None:
        raise RuntimeError("I was asked to raise this error.")

    @lt.action
    def action_with_invocation_error(self) -> None:
        raise lt.exceptions.InvocationError("This is an error, but I handled it!")


@pytest.fixture
def logging_client() -> Iterator[TestClient]:
    server = lt.ThingServer.from_things({"log_and_error_thing": ThingThatLogsAndErrors})
    with server.test_client() as http:
        yield http


def test_the_invocation_log_holds_what_the_action_logged(logging_client: TestClient) -> None:
    done = logging_client.post(
        "/log_and_error_thing/action_that_logs", headers={"Prefer": "wait=5"}
    ).json()
    messages = ["message 1", "message 2", "from the Things' logger"]
    assert done["status"] == "completed"
    assert [entry["message"] for entry in done["log"]] == messages
    assert {entry["levelname"] for entry in done["log"]} == {"INFO"}
    assert done["output"] == messages  # get_current_invocation_logs() saw them, in order.


@pytest.mark.parametrize(
    ("action", "kind", "detail"),
    [
        ("action_with_unhandled_error", "RuntimeError", "I was asked to raise this error."),
        ("action_with_invocation_error", "InvocationError", "This is an error, but I handled it!"),
    ],
)
def test_a_failing_action_ends_in_error_with_its_message_logged(
    logging_client: TestClient, action: str, kind: str, detail: str
) -> None:
    done = logging_client.post(
        f"/log_and_error_thing/{action}", headers={"Prefer": "wait=5"}
    ).json()
    assert done["status"] == "error"
    assert (done["error"]["title"], done["error"]["detail"]) == (kind, detail)
    assert done["log"][-1]["levelname"] == "ERROR"
    assert done["log"][-1]["exception_type"] == kind


def test_current_invocation_logs_outside_an_action_is_an_error() -> None:
    with pytest.raises(lt.NoInvocationContextError, match="outside any action"):
        ThingThatLogsAndErrors().get_current_invocation_logs()


# -- the action manager (LabThings' test_action_manager) ----------------------------------------


class Counter(lt.Thing):
    count: int = lt.property(default=0)

    @lt.action
    def increment(self) -> int:
        self.count += 1
        return self.count

    @lt.action
    def reset(self) -> None:
        self.count = 0


def test_invocations_are_listed_by_action_and_thing() -> None:
    server = lt.ThingServer.from_things({"a": Counter, "b": Counter})
    with server.test_client() as http:
        for path in ("/a/increment", "/a/increment", "/b/increment", "/a/reset"):
            http.post(path, headers={"Prefer": "wait=5"})
        manager = server.manager
        assert len(http.get("/action_invocations").json()) == 4
        assert len(http.get("/a/increment").json()) == 2
        increment = Counter.get_action("increment")
        a = manager.things["a"]
        assert len(manager.list_invocations(increment)) == 3  # On either Thing, as LabThings.
        assert len(manager.list_invocations(increment, a)) == 2
        assert len(manager.list_invocations(thing=a)) == 3
        assert len(manager.list_invocations("increment", "b")) == 1
        assert [invocation.action_name for invocation in manager.invocations] == [
            "increment",
            "increment",
            "increment",
            "reset",
        ]


async def test_append_invocation_tracks_an_invocation_once() -> None:
    counter = Counter()
    async with lt.ActionManager({"counter": counter}) as manager:
        invocation = manager.invoke_action(counter, "increment")
        assert manager.invocations == [invocation]
        with pytest.raises(ValueError, match="tracked already"):
            manager.append_invocation(invocation)
        await invocation.wait()


def test_router_names_the_function_that_builds_it() -> None:
    with pytest.raises(lt.UnsupportedFeatureError, match=r"labthings_async\.http\.action_router"):
        lt.ActionManager().router()


def test_the_action_router_serves_a_managers_actions_in_a_host_app() -> None:
    manager = lt.ActionManager({"counter": Counter()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        async with manager:
            yield

    host = Starlette(routes=[Mount("/lab", app=action_router(manager))], lifespan=lifespan)
    with TestClient(host) as http:
        done = http.post("/lab/counter/increment", headers={"Prefer": "wait=5"})
        assert done.status_code == 201
        invocation = done.json()
        assert invocation["href"] == f"http://testserver/lab/action_invocations/{invocation['id']}"
        assert http.get(f"/lab/action_invocations/{invocation['id']}/output").json() == 1
        assert len(http.get("/lab/counter/increment").json()) == 1
        assert http.get("/lab/counter/count").status_code == 404  # Actions only.


# -- helper threads (LabThings' ThreadWithInvocationID) -----------------------------------------


class Spawner(lt.Thing):
    helper_started: Signal

    def work(self, duration: float) -> str:
        self.logger.info("helper working")
        self.helper_started.set()
        lt.cancellable_sleep(duration)
        return "helper done"

    @lt.action
    def run_helper(self, duration: float = 0.0) -> str:
        helper = lt.ThreadWithInvocationID(self.work, args=[duration])
        helper.start()
        helper.join_and_propagate_cancel(poll_interval=0.01)
        if helper.exception is not None:
            raise helper.exception
        return str(helper.result)


async def run_spawner(duration: float, cancel: bool) -> tuple[Spawner, lt.Invocation]:
    spawner = Spawner()
    spawner.helper_started = Signal()
    async with lt.ActionManager({"spawner": spawner}) as manager:
        invocation = manager.invoke_action(spawner, "run_helper", {"duration": duration})
        if cancel:
            await spawner.helper_started.wait()
            invocation.cancel()
        with anyio.fail_after(TIMEOUT):
            await invocation.wait()
    return spawner, invocation


async def test_a_helper_threads_result_and_log_reach_its_invocation() -> None:
    _, invocation = await run_spawner(0.0, cancel=False)
    assert invocation.result() == "helper done"
    assert [entry.message for entry in invocation.log] == ["helper working"]


async def test_cancelling_the_invocation_cancels_its_helper_thread() -> None:
    _, invocation = await run_spawner(TIMEOUT * 6, cancel=True)
    assert invocation.status is lt.InvocationStatus.CANCELLED


def test_a_helper_thread_outside_an_action_has_a_cancel_of_its_own() -> None:
    started = threading.Event()

    def wait() -> None:
        started.set()
        lt.cancellable_sleep(TIMEOUT * 6)

    helper = lt.ThreadWithInvocationID(wait)
    helper.start()
    assert started.wait(TIMEOUT)
    helper.cancel()
    helper.join(TIMEOUT)
    assert not helper.is_alive()
    assert isinstance(helper.exception, lt.InvocationCancelledError)
    assert isinstance(helper.invocation_id, uuid.UUID)
