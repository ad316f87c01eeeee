"""Tests for labthings_async.invocation: the state machine and wire representations."""

import asyncio
import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from things import TIMEOUT

import labthings_async as lt
from labthings_async.events import EventHub
from labthings_async.invocation import CANCELLED_PROBLEM_TYPE, Invocation, problem_from_exception
from labthings_async.models import LogEntry

Status = lt.InvocationStatus


class Pump(lt.Thing):
    @lt.action
    def run(self, rate: float = 1.0) -> float:
        return rate

    @lt.action
    async def prime(self) -> None:
        pass


class Host:
    """Stands in for the ActionManager: records what the invocation tells it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop_thread_id = threading.get_ident()
        self.hub = EventHub(buffer_len=100)
        self.changes: list[tuple[Status, Status]] = []

    def status_changed(self, invocation: Invocation, old: Status) -> None:
        self.changes.append((old, invocation.status))

    def find_thing(self, cls: type[Any], name: str | None) -> lt.Thing:
        raise lt.ThingNotFoundError("no other Things here")


def make_invocation(
    host: Host, action: str = "run", *, retention_time: float = 60.0, log_len: int = 10
) -> Invocation:
    thing = Pump()
    thing.name = "pump"
    invocation = Invocation(
        host,
        thing,
        Pump.get_action(action),
        {"rate": 2.0},
        retention_time=retention_time,
        log_len=log_len,
        history_len=100,
    )
    invocation.publish_created()
    return invocation


def log_entry(message: str) -> LogEntry:
    return LogEntry(
        message=message,
        levelname="INFO",
        levelno=20,
        name="test",
        filename="test.py",
        lineno=1,
        created=datetime.now(UTC),
    )


# -- the state machine --------------------------------------------------------------


async def test_new_invocation_is_pending_with_a_uuid4() -> None:
    invocation = make_invocation(Host())
    assert invocation.status is Status.PENDING
    assert isinstance(invocation.id, uuid.UUID)
    assert invocation.id.version == 4
    assert (invocation.thing_name, invocation.action_name) == ("pump", "run")
    assert invocation.action_path == "/pump/run"
    assert invocation.input == {"rate": 2.0}
    assert invocation.time_started is None
    assert invocation.time_completed is None
    assert invocation.expiry_time is None
    assert not invocation.finished


LEGAL = {
    (Status.PENDING, Status.RUNNING),
    (Status.PENDING, Status.CANCELLED),
    (Status.RUNNING, Status.COMPLETED),
    (Status.RUNNING, Status.ERROR),
    (Status.RUNNING, Status.CANCELLED),
}

PATHS = {
    Status.PENDING: [],
    Status.RUNNING: [Status.RUNNING],
    Status.COMPLETED: [Status.RUNNING, Status.COMPLETED],
    Status.ERROR: [Status.RUNNING, Status.ERROR],
    Status.CANCELLED: [Status.CANCELLED],
}


@pytest.mark.parametrize(("start", "target"), sorted(itertools.product(Status, Status), key=str))
async def test_transitions_follow_the_state_machine(start: Status, target: Status) -> None:
    host = Host()
    invocation = make_invocation(host)
    for step in PATHS[start]:
        invocation.transition(step)
    assert invocation.status is start
    if (start, target) in LEGAL:
        invocation.transition(target)
        assert invocation.status is target
    else:
        with pytest.raises(lt.IllegalTransitionError, match=f"from {start} to {target}"):
            invocation.transition(target)
        assert invocation.status is start


async def test_the_host_hears_of_every_transition() -> None:
    host = Host()
    invocation = make_invocation(host)
    invocation.transition(Status.RUNNING)
    invocation.transition(Status.COMPLETED, output=2.0)
    assert host.changes == [
        (Status.PENDING, Status.RUNNING),
        (Status.RUNNING, Status.COMPLETED),
    ]


async def test_times_are_utc_aware_and_ordered() -> None:
    invocation = make_invocation(Host(), retention_time=30.0)
    invocation.transition(Status.RUNNING)
    invocation.transition(Status.COMPLETED, output=1.0)
    requested = invocation.time_requested
    started = invocation.time_started
    completed = invocation.time_completed
    assert started is not None
    assert completed is not None
    for moment in (requested, started, completed):
        assert moment.utcoffset() == timedelta(0)
    assert requested <= started <= completed
    assert invocation.expiry_time == completed + timedelta(seconds=30.0)
    assert invocation.retention_time == 30.0


async def test_cancelled_before_start_has_no_start_time() -> None:
    invocation = make_invocation(Host())
    invocation.cancel()
    assert invocation.status is Status.CANCELLED
    assert invocation.time_started is None
    assert invocation.time_completed is not None


async def test_each_transition_publishes_one_status_event() -> None:
    host = Host()
    invocation = make_invocation(host)
    invocation.transition(Status.RUNNING)
    invocation.transition(Status.ERROR, error=problem_from_exception(ValueError("bad")))
    events = invocation.events.events_after(0)
    assert [event.json()["status"] for event in events] == ["pending", "running", "error"]
    assert [event.terminal for event in events] == [False, False, True]
    ids = [event.id for event in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert events[-1].json()["error"]["title"] == "ValueError"
    assert invocation.events.closed
    firehose = host.hub.invocations.events_after(0)
    assert [event.id for event in firehose] == ids
    assert "error" not in firehose[-1].json()


async def test_log_and_progress_are_kept_and_published() -> None:
    invocation = make_invocation(Host(), log_len=3)
    for n in range(5):
        invocation.add_log(log_entry(f"line {n}"))
    invocation.set_progress(40, "filling")
    assert [entry.message for entry in invocation.log] == ["line 2", "line 3", "line 4"]
    assert invocation.progress == lt.Progress(percent=40, message="filling")
    names = [event.name for event in invocation.events.events_after(0)]
    assert names == ["status", "log", "log", "log", "log", "log", "progress"]


async def test_nothing_is_published_after_the_terminal_event() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.CANCELLED)
    before = len(invocation.events)
    invocation.add_log(log_entry("late"))
    invocation.set_progress(100)
    assert len(invocation.events) == before


async def test_wait_returns_once_finished() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)

    async def finish() -> None:
        await anyio.lowlevel.checkpoint()
        invocation.transition(Status.COMPLETED, output=5)

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(finish)
            assert await invocation.wait() is invocation
    assert invocation.status is Status.COMPLETED
    with anyio.fail_after(TIMEOUT):
        await invocation.wait()


# -- results ------------------------------------------------------------------------


@pytest.mark.parametrize("output", [0, "", [], False, None, {"a": 1}])
async def test_result_of_completed_is_the_output(output: Any) -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    invocation.transition(Status.COMPLETED, output=output)
    assert invocation.result() == output


async def test_result_of_error_raises_the_actions_exception() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    error = KeyError("missing")
    invocation.transition(Status.ERROR, error=problem_from_exception(error), exception=error)
    with pytest.raises(KeyError) as caught:
        invocation.result()
    assert caught.value is error


async def test_result_of_error_without_exception_raises_labthings_error() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    invocation.transition(Status.ERROR, error=lt.ProblemDetails(title="X", status=500, detail="d"))
    with pytest.raises(lt.LabThingsError, match="failed: d"):
        invocation.result()


async def test_result_of_cancelled_raises_cancelled() -> None:
    invocation = make_invocation(Host())
    invocation.cancel()
    with pytest.raises(lt.InvocationCancelledError):
        invocation.result()


@pytest.mark.parametrize("steps", [[], [Status.RUNNING]])
async def test_result_before_finishing_raises_not_finished(steps: list[Status]) -> None:
    invocation = make_invocation(Host())
    for step in steps:
        invocation.transition(step)
    with pytest.raises(lt.InvocationNotFinishedError, match="wait for it to finish"):
        invocation.result()


# -- cancelling ---------------------------------------------------------------------


async def test_cancel_pending_finishes_it_at_once() -> None:
    invocation = make_invocation(Host())
    invocation.cancel()
    assert invocation.status is Status.CANCELLED
    assert invocation.cancel_hook.is_set()
    assert invocation.error is not None
    assert invocation.error.type == CANCELLED_PROBLEM_TYPE
    assert invocation.error.title == "InvocationCancelledError"


async def test_cancel_running_threaded_only_asks() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    invocation.cancel()
    assert invocation.cancel_hook.is_set()
    assert invocation.status is Status.RUNNING


@pytest.mark.parametrize("final", [Status.COMPLETED, Status.ERROR, Status.CANCELLED])
async def test_cancel_finished_raises(final: Status) -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    invocation.transition(final)
    with pytest.raises(lt.InvocationFinishedError, match=f"already finished \\({final}\\)"):
        invocation.cancel()
    assert invocation.status is final


# -- wire representations -----------------------------------------------------------


async def test_summary_uses_labthings_field_names() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    invocation.set_progress(50)
    wire = msgspec.to_builtins(invocation.summary_model("http://lab:5000"))
    href = f"http://lab:5000/action_invocations/{invocation.id}"
    assert wire["id"] == str(invocation.id)
    assert wire["action"] == "/pump/run"
    assert wire["status"] == "running"
    assert wire["href"] == href
    assert wire["timeRequested"].endswith("Z")
    assert wire["timeStarted"].endswith("Z")
    assert wire["timeCompleted"] is None
    assert wire["progress"] == {"percent": 50}
    links = {link["rel"]: link["href"] for link in wire["links"]}
    assert links["self"] == href
    assert links["output"] == f"{href}/output"
    assert not {"input", "output", "log", "error", "time_requested"} & set(wire)


async def test_response_carries_input_output_log_and_error() -> None:
    invocation = make_invocation(Host())
    invocation.transition(Status.RUNNING)
    invocation.add_log(log_entry("pumping"))
    error = RuntimeError("clogged")
    invocation.transition(Status.ERROR, error=problem_from_exception(error), exception=error)
    wire = msgspec.json.decode(msgspec.json.encode(invocation.response()))
    assert wire["input"] == {"rate": 2.0}
    assert wire["output"] is None
    assert [entry["message"] for entry in wire["log"]] == ["pumping"]
    assert wire["error"]["title"] == "RuntimeError"
    assert wire["error"]["detail"] == "clogged"
    assert wire["error"]["status"] == 500
    assert wire["timeCompleted"].endswith("Z")
    assert wire["links"][0] == {
        "rel": "self",
        "href": f"/action_invocations/{invocation.id}",
        "method": "GET",
    }


def test_problem_for_a_builtin_exception_links_to_python_docs() -> None:
    problem = problem_from_exception(ValueError("bad value"))
    assert problem.type == "https://docs.python.org/3/library/exceptions.html#ValueError"
    assert (problem.title, problem.status, problem.detail) == ("ValueError", 500, "bad value")


def test_problem_for_a_custom_exception() -> None:
    class NozzleError(Exception):
        pass

    problem = problem_from_exception(NozzleError("blocked"))
    assert (problem.type, problem.title, problem.detail) == (
        "about:blank",
        "NozzleError",
        "blocked",
    )
    assert problem_from_exception(lt.QueueFullError("full")).status == 503
