"""Tests for labthings_async.invocation: the state machine, how it ends, and wire forms."""

import asyncio
import gc
import itertools
import logging
import re
import tracemalloc
import uuid
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from things import TIMEOUT, FakeClock

import labthings_async as lt
from labthings_async.bridge import EventBridge
from labthings_async.codec import encode_output
from labthings_async.context import bind_invocation, unbind_invocation
from labthings_async.events import EventHub
from labthings_async.invocation import (
    CANCELLED_PROBLEM_TYPE,
    Invocation,
    problem_from_exception,
)
from labthings_async.logs import install_log_capture
from labthings_async.models import LogEntry

Status = lt.InvocationStatus


class Reading(msgspec.Struct):
    value: float
    unit: str


class Pump(lt.Thing):
    @lt.action
    def run(self, rate: float = 1.0) -> float:
        return rate

    @lt.action
    async def prime(self) -> None:
        pass

    @lt.action
    def read(self) -> Reading:
        return Reading(1.0, "bar")

    @lt.action
    def anything(self) -> Any:
        return None


class Host:
    """Stands in for the ActionManager: records what the invocation tells it."""

    def __init__(self) -> None:
        self.hub = EventHub(buffer_len=100)
        self.bridge = EventBridge(self.hub)
        self.bridge.open(asyncio.get_running_loop())
        self.clock = FakeClock()
        self.debug = True
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


def running(host: Host, action: str = "run") -> Invocation:
    invocation = make_invocation(host, action)
    invocation.transition(Status.RUNNING)
    return invocation


def raised(error: Exception) -> Exception:
    """``error`` with a traceback, as an action that raised it leaves it."""
    try:
        raise error
    except Exception as caught:
        return caught


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


def final_event_json(invocation: Invocation) -> Any:
    return invocation.events.events_after(0)[-1].json()


# -- the state machine --------------------------------------------------------------


async def test_new_invocation_is_pending_with_a_uuid4() -> None:
    invocation = make_invocation(Host())
    assert invocation.status is Status.PENDING
    assert isinstance(invocation.id, uuid.UUID)
    assert invocation.id.version == 4
    assert invocation.id_text == str(invocation.id)
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
    invocation = running(host)
    invocation.finish(2.0)
    assert host.changes == [
        (Status.PENDING, Status.RUNNING),
        (Status.RUNNING, Status.COMPLETED),
    ]


async def test_times_come_from_the_hosts_clock_in_utc() -> None:
    host = Host()
    invocation = make_invocation(host, retention_time=30.0)
    start = host.clock.now()
    host.clock.move(2)
    invocation.transition(Status.RUNNING)
    host.clock.move(3)
    invocation.finish(1.0)
    assert invocation.time_requested == start
    assert invocation.time_started == start + timedelta(seconds=2)
    assert invocation.time_completed == start + timedelta(seconds=5)
    for moment in (invocation.time_requested, invocation.time_started):
        assert moment.utcoffset() == timedelta(0)
    assert invocation.expiry_time == start + timedelta(seconds=35)
    assert invocation.retention_time == 30.0


async def test_cancelled_before_start_has_no_start_time() -> None:
    invocation = make_invocation(Host())
    invocation.cancel()
    assert invocation.status is Status.CANCELLED
    assert invocation.time_started is None
    assert invocation.time_completed is not None


async def test_each_transition_publishes_one_status_event() -> None:
    host = Host()
    invocation = running(host)
    invocation.finish(error=raised(ValueError("bad")))
    events = invocation.events.events_after(0)
    statuses = [event.json()["status"] for event in events if event.name == "status"]
    assert statuses == ["pending", "running", "error"]
    assert [event.terminal for event in events] == [False] * (len(events) - 1) + [True]
    ids = [event.id for event in events]
    assert ids == sorted(set(ids))
    assert events[-1].json()["error"]["title"] == "ValueError"
    assert invocation.events.closed
    firehose = host.hub.invocations.events_after(0)
    status_ids = [event.id for event in events if event.name == "status"]
    assert [event.id for event in firehose] == status_ids
    assert "error" not in firehose[-1].json()


async def test_a_finished_invocations_story_is_the_same_whether_anyone_followed_it() -> None:
    host = Host()
    followed = running(host)
    following = followed.events.subscribe(after=0)
    alone = running(host)  # nobody subscribes while it runs
    cancelled = make_invocation(host)
    followed.finish(2.0)
    alone.finish(2.0)
    cancelled.cancel()
    live = []
    while (event := following.next_nowait()) is not None:
        live.append(event)
    firehose = {event.id: event for event in host.hub.invocations.events_after(0)}
    for invocation, statuses in [
        (followed, ["pending", "running", "completed"]),
        (alone, ["pending", "running", "completed"]),
        (cancelled, ["pending", "cancelled"]),
    ]:
        replay = invocation.events.events_after(0)
        assert [event.json()["status"] for event in replay] == statuses
        assert [event.terminal for event in replay] == [False] * (len(statuses) - 1) + [True]
        assert invocation.events.closed
        # The same IDs as the firehose's events of the same changes, the same times.
        for event in replay:
            summary = firehose[event.id].json()
            assert {key: event.json()[key] for key in summary} == summary
    assert [(event.id, event.data) for event in followed.events.events_after(0)] == [
        (event.id, event.data) for event in live
    ]
    assert alone.events.events_after(0)[-1].json()["output"] == 2.0
    assert cancelled.events.events_after(0)[-1].json()["error"]["type"] == CANCELLED_PROBLEM_TYPE
    # Resuming after the running event gives the end only.
    after = alone.events.events_after(0)[1].id
    assert [event.json()["status"] for event in alone.events.events_after(after)] == ["completed"]


async def test_a_finished_invocation_nobody_followed_keeps_no_events() -> None:
    host = Host()
    tracemalloc.start()
    try:
        invocations = [running(host) for _ in range(200)]
        before, _ = tracemalloc.get_traced_memory()
        for invocation in invocations:
            invocation.finish(1.0)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Finishing frees more than it takes: the events of each one's own
    # stream go (a few hundred bytes), its output, end time and event IDs stay.
    assert after < before, f"{(after - before) / len(invocations):.0f} bytes more each"
    assert all(
        invocation.events.events_after(0)[-1].json()["output"] == 1.0 for invocation in invocations
    )


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
    invocation.cancel()
    before = len(invocation.events)
    invocation.add_log(log_entry("late"))
    invocation.set_progress(100)
    assert len(invocation.events) == before
    assert invocation.events.events_after(0)[-1].terminal


async def test_wait_returns_once_finished() -> None:
    invocation = running(Host())

    async def finish() -> None:
        await anyio.lowlevel.checkpoint()
        invocation.finish(5)

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(finish)
            assert await invocation.wait() is invocation
    assert invocation.status is Status.COMPLETED
    with anyio.fail_after(TIMEOUT):
        await invocation.wait()


async def test_finishing_a_finished_invocation_changes_nothing() -> None:
    invocation = running(Host())
    invocation.finish(1.0)
    events = len(invocation.events)
    invocation.finish(error=raised(ValueError("late")))
    invocation.finish(error=asyncio.CancelledError())
    assert invocation.status is Status.COMPLETED
    assert invocation.result() == 1.0
    assert len(invocation.events) == events


# -- the output, encoded once -------------------------------------------------------


@pytest.mark.parametrize("output", [0, "", [], False, None, {"a": 1}])
async def test_result_of_completed_is_the_output(output: Any) -> None:
    invocation = running(Host(), "anything")
    invocation.finish(output)
    assert invocation.result() == output
    assert invocation.output == msgspec.Raw(msgspec.json.encode(output))


async def test_the_output_is_encoded_once_and_a_later_change_shows_nowhere() -> None:
    invocation = running(Host(), "anything")
    returned = {"positions": [1, 2, 3]}
    invocation.finish(returned)
    returned["positions"].append(4)  # The action kept a reference and changed it.
    expected = {"positions": [1, 2, 3]}
    assert isinstance(invocation.output, msgspec.Raw)
    reply = invocation.response()
    assert reply.output is invocation.output  # Every reply sends the one encoding.
    assert msgspec.json.decode(msgspec.json.encode(reply))["output"] == expected
    assert final_event_json(invocation)["output"] == expected
    assert invocation.result() == expected
    changed = invocation.result()
    changed["positions"].clear()
    assert invocation.result() == expected


async def test_result_is_typed_by_the_return_annotation() -> None:
    invocation = running(Host(), "read")
    invocation.finish(Reading(2.5, "bar"))
    assert invocation.result() == Reading(2.5, "bar")


async def test_an_output_that_breaks_its_annotation_ends_in_error_naming_what_came_back() -> None:
    invocation = running(Host(), "read")
    invocation.finish({"pressure": 2})
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert invocation.error.title == "InvalidOutputError"
    assert invocation.error.detail == (
        "action 'read' returned {'pressure': 2} (a dict), which does not fit its return "
        "annotation `Reading`: Object missing required field `value`"
    )
    with pytest.raises(lt.InvalidOutputError):
        invocation.result()


async def test_result_falls_back_to_plain_json_for_raw_json_that_breaks_its_annotation() -> None:
    invocation = running(Host(), "read")
    invocation.finish(msgspec.Raw(b'{"pressure": 2}'))  # Raw JSON is sent unchecked.
    assert invocation.status is Status.COMPLETED
    assert invocation.result() == {"pressure": 2}


async def test_an_output_json_cannot_carry_ends_in_error_naming_action_and_type() -> None:
    invocation = running(Host(), "anything")
    invocation.finish(object())
    assert invocation.status is Status.ERROR
    assert invocation.error is not None
    assert invocation.error.title == "TypeError"
    assert invocation.error.detail.startswith(
        "action 'anything' returned a value of type 'object', which cannot be sent as JSON"
    )
    with pytest.raises(TypeError, match="cannot be sent as JSON"):
        invocation.result()


def test_encode_output_passes_raw_json_through() -> None:
    raw = msgspec.Raw(b'{"already": "json"}')
    assert encode_output("act", raw) is raw
    assert encode_output("act", None) == msgspec.Raw(b"null")
    with pytest.raises(TypeError, match="action 'act' returned a value of type 'set'"):
        encode_output("act", {1j})


async def test_events_hold_a_snapshot_never_the_invocation() -> None:
    host = Host()
    invocation = running(host, "anything")
    invocation.set_progress(50)
    invocation.finish({"big": "x" * 1000})
    own, firehose = invocation.events, host.hub.invocations
    gone = weakref.ref(invocation)
    del invocation
    gc.collect()
    assert gone() is None, "an event buffer still holds the invocation"
    assert own.events_after(0)[-1].json()["output"] == {"big": "x" * 1000}
    assert [event.json()["status"] for event in firehose.events_after(0)] == [
        "pending",
        "running",
        "completed",
    ]


# -- failures -----------------------------------------------------------------------


async def test_result_of_error_raises_the_actions_exception() -> None:
    invocation = running(Host())
    error = raised(KeyError("missing"))
    invocation.finish(error=error)
    with pytest.raises(KeyError) as caught:
        invocation.result()
    assert caught.value is error


async def test_result_of_error_without_exception_raises_labthings_error() -> None:
    invocation = running(Host())
    invocation.transition(Status.ERROR, error=lt.ProblemDetails(title="X", status=500, detail="d"))
    with pytest.raises(lt.LabThingsError, match="failed: d"):
        invocation.result()


async def test_a_failure_is_one_console_record_with_its_traceback_and_a_full_record_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_capture()
    invocation = running(Host())
    token = bind_invocation(invocation)  # As if still inside the action: nothing may leak in.
    try:
        with caplog.at_level(logging.DEBUG, logger="labthings_async.things"):
            invocation.finish(error=raised(ValueError("clogged")))
    finally:
        unbind_invocation(token)
    console = [r for r in caplog.records if r.name == "labthings_async.things.pump"]
    [line] = console
    first, _, traceback = line.getMessage().partition("\n")
    assert (line.levelname, first) == (
        "ERROR",
        f"action run failed: ValueError: clogged (invocation {invocation.id_text})",
    )
    assert traceback.startswith("Traceback")
    assert traceback.endswith("ValueError: clogged")
    [entry] = invocation.log
    assert (entry.levelname, entry.message) == ("ERROR", "action run failed: ValueError: clogged")
    assert entry.exception_type == "ValueError"
    assert entry.traceback is not None
    assert entry.traceback.startswith("Traceback")
    assert entry.filename == "test_invocation.py"  # Where it was raised.
    names = [event.name for event in invocation.events.events_after(0)]
    assert names[-2:] == ["log", "status"]


# -- cancelling ---------------------------------------------------------------------


async def test_result_of_cancelled_raises_an_ordinary_exception() -> None:
    invocation = make_invocation(Host())
    invocation.cancel()
    # A caller's `except Exception` catches it: the BaseException that stops
    # the action never reaches whoever waits for the result.
    with pytest.raises(Exception) as raised:
        invocation.result()
    error = raised.value
    assert isinstance(error, lt.ActionCancelledError)
    assert isinstance(error, lt.LabThingsError)
    assert not isinstance(error, lt.InvocationCancelledError)
    assert error.invocation_id == invocation.id_text
    assert error.invocation["status"] == "cancelled"
    assert error.problem is invocation.error
    assert "before it started" in str(error)


@pytest.mark.parametrize("steps", [[], [Status.RUNNING]])
async def test_result_before_finishing_raises_not_finished(steps: list[Status]) -> None:
    invocation = make_invocation(Host())
    for step in steps:
        invocation.transition(step)
    with pytest.raises(lt.InvocationNotFinishedError, match="wait for it to finish"):
        invocation.result()


async def test_cancel_pending_finishes_it_at_once() -> None:
    invocation = make_invocation(Host())
    invocation.cancel()
    assert invocation.status is Status.CANCELLED
    assert invocation.cancel_hook.is_set()
    assert invocation.error is not None
    assert invocation.error.type == CANCELLED_PROBLEM_TYPE
    assert invocation.error.title == "InvocationCancelledError"
    assert invocation.error.status == 409
    assert invocation.error.detail == "the invocation was cancelled before it started"


async def test_cancel_pending_at_shutdown_says_so() -> None:
    invocation = make_invocation(Host())
    invocation.cancel(by_shutdown=True)
    assert invocation.error is not None
    assert invocation.error.detail == "the server shut down before the invocation started"


async def test_cancel_running_threaded_only_asks() -> None:
    invocation = running(Host())
    invocation.cancel()
    assert invocation.cancel_hook.is_set()
    assert invocation.cancel_requested
    assert invocation.status is Status.RUNNING


def stopped_after(detail: str) -> float:
    """The seconds a cancellation detail says the action took to stop."""
    match = re.search(r"(\d+\.\d\d) s after it was asked", detail)
    assert match, detail
    return float(match.group(1))


@pytest.mark.parametrize(
    ("by_shutdown", "asker"),
    [(False, "the invocation was cancelled"), (True, "the server shut down")],
)
async def test_a_stopped_action_says_who_asked_and_how_long_it_took(
    by_shutdown: bool, asker: str
) -> None:
    invocation = running(Host(), "prime")
    invocation.cancel(by_shutdown=by_shutdown)
    invocation.finish(error=asyncio.CancelledError())
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    assert invocation.error.detail.startswith(f"{asker}; the action stopped ")
    assert 0 <= stopped_after(invocation.error.detail) < TIMEOUT


@pytest.mark.parametrize(
    ("action", "left"), [("run", "its thread may still run"), ("prime", "its coroutine was closed")]
)
async def test_an_action_abandoned_at_shutdown_says_so(
    action: str, left: str, caplog: pytest.LogCaptureFixture
) -> None:
    invocation = running(Host(), action)
    invocation.cancel(by_shutdown=True)
    with caplog.at_level(logging.INFO, logger="labthings_async.things"):
        invocation.abandon()
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    assert invocation.error.detail.startswith("the server shut down and the action was still")
    assert invocation.error.detail.endswith(f"so it was abandoned ({left})")
    [line] = [r for r in caplog.records if r.name == "labthings_async.things.pump"]
    assert line.levelname == "WARNING"


async def test_a_cancellation_nobody_asked_for_keeps_its_own_message() -> None:
    invocation = running(Host())
    invocation.finish(error=lt.InvocationCancelledError("the remote stage was cancelled"))
    assert invocation.status is Status.CANCELLED
    assert invocation.error is not None
    assert invocation.error.detail == "the remote stage was cancelled"
    assert invocation.error.type == CANCELLED_PROBLEM_TYPE


async def test_a_cancellation_is_one_info_line_on_the_console(
    caplog: pytest.LogCaptureFixture,
) -> None:
    invocation = make_invocation(Host())
    with caplog.at_level(logging.DEBUG, logger="labthings_async.things"):
        invocation.cancel()
    [line] = [r for r in caplog.records if r.name == "labthings_async.things.pump"]
    assert line.levelname == "INFO"
    assert line.getMessage() == (
        f"action run cancelled (invocation {invocation.id_text}): "
        "the invocation was cancelled before it started"
    )
    assert list(invocation.log) == []


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
    invocation = running(Host())
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
    invocation = running(Host())
    invocation.add_log(log_entry("pumping"))
    invocation.finish(error=raised(RuntimeError("clogged")))
    wire = msgspec.json.decode(msgspec.json.encode(invocation.response()))
    assert wire["input"] == {"rate": 2.0}
    assert wire["output"] is None
    assert [entry["message"] for entry in wire["log"]] == [
        "pumping",
        "action run failed: RuntimeError: clogged",
    ]
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


def test_problem_for_a_cancellation_is_labthings_cancelled_problem() -> None:
    problem = problem_from_exception(lt.InvocationCancelledError("stop"))
    assert (problem.type, problem.title, problem.status, problem.detail) == (
        CANCELLED_PROBLEM_TYPE,
        "InvocationCancelledError",
        409,
        "stop",
    )
