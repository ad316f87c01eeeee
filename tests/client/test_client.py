"""The Thing clients, async and sync, against a real server on hypercorn.

The sync client blocks, so with the server in the test's own event loop it
runs in a worker thread (``asyncio.to_thread``). Requests are counted with
httpx2 event hooks, which also let a test act at the moment the client opens
a stream.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx2
import msgspec
import pytest
from conftest import ServeThings

import labthings_async as lt
from labthings_async import (
    ActionCancelledError,
    ActionFailedError,
    AsyncThingClient,
    ClientError,
    ClientTimeoutError,
    InvalidArgumentsError,
    InvocationStatus,
    NotFoundError,
    PropertyNotWritableError,
    ServerUnavailableError,
    ThingClient,
)
from labthings_async.client._invocation import format_percent

TIMEOUT = 10.0


class Lab(lt.Thing):
    """A bench instrument for the client tests."""

    speed: float = lt.property(default=1.0, gt=0, le=10, description="Stage speed in mm/s.")
    label: str = lt.property(default="bench", readonly=True)

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.logged = asyncio.Event()
        self.everyone = asyncio.Event()
        self.arrived = 0

    @lt.action
    def noop(self) -> None:
        """Do nothing at all."""

    @lt.action
    def add(self, a: int, b: int = 1) -> int:
        """Add two whole numbers."""
        self.logger.info("adding %d and %d", a, b)
        return a + b

    @lt.action
    def fail(self, message: str = "kaboom") -> None:
        """Always raise."""
        raise ValueError(message)

    @lt.action
    def shape(
        self,
        name: Annotated[str, msgspec.Meta(min_length=1)],
        sides: Annotated[int, msgspec.Meta(ge=3)] = 4,
        colour: str | None = None,
    ) -> str:
        """Describe a polygon."""
        return f"{name}: {sides} sides, {colour}"

    @lt.action
    async def gated(self, label: str = "released") -> str:
        """Report half way, then wait until the test releases it."""
        lt.report_progress(50, "half way")
        self.logger.info("waiting for release")
        await self.release.wait()
        lt.report_progress(100, "done")
        return label

    @lt.action
    async def hold(self) -> None:
        """Wait until cancelled."""
        await asyncio.Event().wait()

    @lt.action
    async def join(self, index: int, party: int) -> int:
        """Wait until ``party`` invocations of this action have started."""
        self.arrived += 1
        if self.arrived >= party:
            self.everyone.set()
        await self.everyone.wait()
        return index

    @lt.action
    async def chatter(self, records: int = 20) -> int:
        """Log many records at once."""
        for index in range(records):
            self.logger.info("record %d", index)
        self.logged.set()
        return records


@dataclass
class Bench:
    """A Lab served on hypercorn."""

    url: str
    lab: Lab
    server: lt.ThingServer


Hook = Callable[[Any], Awaitable[None]]


@dataclass
class Recorder:
    """An httpx2 client that notes every request, and can act on them."""

    http: httpx2.AsyncClient = field(init=False)
    requests: list[httpx2.Request] = field(default_factory=list)
    on_request: list[Hook] = field(default_factory=list)
    on_response: list[Hook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx2.AsyncClient(
            timeout=TIMEOUT,
            event_hooks={"request": [self._request], "response": [self._response]},
        )

    async def _request(self, request: httpx2.Request) -> None:
        self.requests.append(request)
        for hook in self.on_request:
            await hook(request)

    async def _response(self, response: httpx2.Response) -> None:
        for hook in self.on_response:
            await hook(response)

    def seen(self) -> list[str]:
        return [f"{request.method} {request.url.path}" for request in self.requests]

    def forget(self) -> None:
        self.requests.clear()


async def serve_bench(serve_things: ServeThings, **options: Any) -> Bench:
    lab = Lab()
    server = lt.ThingServer({"lab": lab}, **options)
    root = await serve_things(server)
    return Bench(f"{root}/lab/", lab, server)


@pytest.fixture
async def bench(serve_things: ServeThings) -> Bench:
    return await serve_bench(serve_things)


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    recording = Recorder()
    async with recording.http:
        yield recording


@pytest.fixture
async def client(bench: Bench, recorder: Recorder) -> AsyncIterator[AsyncThingClient]:
    async with await AsyncThingClient.from_url(bench.url, http=recorder.http) as thing:
        recorder.forget()
        yield thing


def when_path_ends(suffix: str, event: asyncio.Event) -> Hook:
    async def hook(message: Any) -> None:
        request = message if isinstance(message, httpx2.Request) else message.request
        if request.url.path.endswith(suffix):
            event.set()

    return hook


# -- properties -----------------------------------------------------------------------


async def test_async_client_reads_and_writes_properties(
    client: AsyncThingClient, recorder: Recorder
) -> None:
    assert await client.read_property("speed") == 1.0
    await client.write_property("speed", 3)
    assert await client.read_property("speed") == 3.0
    assert await client.read_property("label") == "bench"
    assert recorder.seen() == [
        "GET /lab/speed",
        "PUT /lab/speed",
        "GET /lab/speed",
        "GET /lab/label",
    ]


async def test_property_writes_are_checked_before_sending(
    client: AsyncThingClient, recorder: Recorder
) -> None:
    with pytest.raises(InvalidArgumentsError) as out_of_range:
        await client.write_property("speed", 11)
    assert (out_of_range.value.path, out_of_range.value.reason) == ("$", "Expected `float` <= 10.0")
    with pytest.raises(InvalidArgumentsError, match="Expected `float`, got `str`"):
        await client.write_property("speed", "fast")
    with pytest.raises(PropertyNotWritableError, match=r"'label' .* is read-only"):
        await client.write_property("label", "other")
    with pytest.raises(
        NotFoundError, match="no property 'colour'; its properties are: label, speed"
    ):
        await client.read_property("colour")
    assert recorder.seen() == []


async def test_async_client_points_property_attributes_to_read_property(
    client: AsyncThingClient,
) -> None:
    with pytest.raises(AttributeError, match=r"await client.read_property\('speed'\)"):
        _ = client.speed


async def test_sync_client_has_properties_as_attributes(bench: Bench) -> None:
    def use() -> tuple[Any, Any, list[str]]:
        with ThingClient.from_url(bench.url) as thing:
            before = thing.speed
            thing.speed = 2.5
            with pytest.raises(PropertyNotWritableError):
                thing.label = "other"
            with pytest.raises(InvalidArgumentsError, match=r"<= 10\.0"):
                thing.speed = 100
            return before, thing.speed, dir(thing)

    before, after, names = await asyncio.to_thread(use)
    assert (before, after) == (1.0, 2.5)
    assert bench.lab.speed == 2.5
    assert {"speed", "label", "add", "noop", "read_property"} <= set(names)


# -- actions ----------------------------------------------------------------------------


async def test_async_client_returns_action_outputs(client: AsyncThingClient) -> None:
    assert await client.add(a=2, b=3) == 5
    assert await client.invoke_action("add", {"a": 1}) == 2
    assert await client.invoke_action("shape", name="square") == "square: 4 sides, None"
    assert await client.noop() is None


async def test_sync_client_returns_action_outputs(bench: Bench) -> None:
    def use() -> list[Any]:
        with ThingClient.from_url(bench.url) as thing:
            return [thing.add(a=2, b=3), thing.invoke_action("add", a=40, b=2), thing.noop()]

    assert await asyncio.to_thread(use) == [5, 42, None]


async def test_action_methods_carry_the_signature_and_description(
    client: AsyncThingClient,
) -> None:
    assert str(inspect.signature(client.add)) == "(a: int, b: int = 1) -> int"
    assert client.add.__doc__ == "Add two whole numbers."
    with pytest.raises(AttributeError, match="its actions are: add, chatter, fail"):
        _ = client.subtract


async def test_positional_arguments_follow_the_signature_order(client: AsyncThingClient) -> None:
    assert await client.add(40, 2) == 42
    assert await client.add(40, b=3) == 43
    assert await client.shape("square", 4, "red") == "square: 4 sides, red"


async def test_positional_arguments_that_do_not_fit_are_refused_naming_the_parameters(
    client: AsyncThingClient,
) -> None:
    with pytest.raises(TypeError) as too_many:
        await client.add(1, 2, 3)
    assert str(too_many.value) == (
        "add() takes 2 positional arguments but 3 were given; "
        "its parameters are add(a: int, b: int = 1) -> int"
    )
    with pytest.raises(TypeError, match=r"add\(\) got 'a' both by position and by name"):
        await client.add(1, a=2)
    with pytest.raises(TypeError, match=r"noop\(\) takes no positional arguments but 1 was"):
        await client.noop(1)


async def test_a_failed_action_raises_action_failed_error(client: AsyncThingClient) -> None:
    with pytest.raises(ActionFailedError) as failed:
        await client.fail(message="the lamp is broken")
    error = failed.value
    assert isinstance(error, ClientError)
    assert isinstance(error, lt.LabThingsError)
    assert error.problem is not None
    assert (error.problem.title, error.problem.detail) == ("ValueError", "the lamp is broken")
    assert error.invocation["status"] == "error"
    assert str(error).startswith("action 'fail' failed: ValueError: the lamp is broken")
    # The server is not in debug mode, so it sent no traceback to attach.
    assert error.traceback is None
    assert not hasattr(error, "__notes__")


async def test_sync_client_raises_action_failed_error(bench: Bench) -> None:
    def use() -> ActionFailedError:
        with ThingClient.from_url(bench.url) as thing, pytest.raises(ActionFailedError) as failed:
            thing.fail()
        return failed.value

    error = await asyncio.to_thread(use)
    assert error.problem is not None
    assert error.problem.detail == "kaboom"


async def test_invalid_arguments_are_refused_before_any_request(
    bench: Bench, client: AsyncThingClient, recorder: Recorder
) -> None:
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "$.a": ({"a": "two"}, "Expected `int`, got `str`"),
        "$": ({"b": 2}, "Object missing required field `a`"),
    }
    for path, (arguments, reason) in cases.items():
        with pytest.raises(InvalidArgumentsError) as invalid:
            await client.invoke_action("add", arguments)
        assert (invalid.value.path, invalid.value.reason) == (path, reason)
    with pytest.raises(InvalidArgumentsError, match=r"Expected `int`, got `float` - at `\$\.a`"):
        await client.add(a=1.5)
    with pytest.raises(InvalidArgumentsError, match="unknown field `c`"):
        await client.add(a=1, c=3)
    with pytest.raises(InvalidArgumentsError) as several:
        await client.shape(name="", sides=2, colour=3)
    assert [(issue.path, issue.message) for issue in several.value.issues] == [
        ("$.name", "Expected `str` of length >= 1"),
        ("$.sides", "Expected `int` >= 3"),
        ("$.colour", "Expected `str | null`, got `int`"),
    ]
    with pytest.raises(NotFoundError, match="has no action 'subtract'"):
        await client.invoke_action("subtract", a=1)
    assert recorder.seen() == []
    assert len(bench.server.manager) == 0


async def test_the_servers_rejection_is_invalid_arguments_too(
    bench: Bench, recorder: Recorder
) -> None:
    # A TD with no input schema: nothing to check locally, so the server does.
    description = (await recorder.http.get(bench.url)).json()
    del description["actions"]["add"]["input"]["properties"]["a"]["type"]
    async with AsyncThingClient(bench.url, description, http=recorder.http) as thing:
        with pytest.raises(InvalidArgumentsError) as invalid:
            await thing.add(a="two")
    assert invalid.value.path == "$.a"
    assert invalid.value.problem is not None
    assert invalid.value.problem.status == 422


async def test_from_url_explains_what_is_not_there(bench: Bench) -> None:
    with pytest.raises(NotFoundError, match=r"the Thing Description at .*/nothing: .*Thing"):
        await AsyncThingClient.from_url(bench.url.replace("/lab/", "/nothing"))


async def test_the_client_raises_the_servers_class_for_each_condition(
    bench: Bench, client: AsyncThingClient
) -> None:
    # One class per condition, whichever side of the wire meets it; the
    # server's problem details come along when the server reported it.
    with pytest.raises(lt.ThingNotFoundError) as no_thing:
        await AsyncThingClient.from_url(bench.url.replace("/lab/", "/nothing/"))
    assert isinstance(no_thing.value, lt.NotFoundError)
    assert isinstance(no_thing.value, LookupError)
    assert no_thing.value.problem is not None
    assert (no_thing.value.problem.status, no_thing.value.problem.title) == (404, "Thing not found")

    with pytest.raises(lt.AffordanceNotFoundError) as no_property:
        await client.read_property("colour")
    assert no_property.value.problem is None  # The TD said so; nothing was sent.

    handle = await client.start_action("noop")
    await handle.result()
    expired = bench.server.manager.expire_invocations(datetime.now(UTC) + timedelta(days=1))
    assert expired == 1
    with pytest.raises(lt.InvocationNotFoundError) as no_invocation:
        await handle.cancel()
    assert no_invocation.value.problem is not None
    assert no_invocation.value.problem.title == "Invocation not found"

    with pytest.raises(lt.InvalidInputError) as invalid:
        await client.add(a="two")
    assert isinstance(invalid.value, ValueError)
    with pytest.raises(lt.ReadOnlyPropertyError):
        await client.write_property("label", "other")
    # The names the README gave these stay, as the same classes.
    assert lt.InvalidArgumentsError is lt.InvalidInputError
    assert lt.PropertyNotWritableError is lt.ReadOnlyPropertyError
    assert not issubclass(lt.NotFoundError, ClientError)
    assert issubclass(ClientError, lt.LabThingsError)


async def test_an_unreachable_server_raises_server_unavailable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/lab/"
    with pytest.raises(ServerUnavailableError, match=f"cannot reach {url}"):
        await AsyncThingClient.from_url(url)
    with pytest.raises(ServerUnavailableError):
        await asyncio.to_thread(ThingClient.from_url, url)


# -- how an invocation is followed --------------------------------------------------------


async def test_a_quick_action_takes_one_request(
    client: AsyncThingClient, recorder: Recorder
) -> None:
    assert await client.noop() is None
    assert recorder.seen() == ["POST /lab/noop"]
    assert recorder.requests[0].headers["prefer"] == "wait=0.25"


async def test_a_slow_action_is_followed_on_its_stream_not_polled(
    bench: Bench, client: AsyncThingClient, recorder: Recorder
) -> None:
    recorder.on_request.append(when_path_ends("/events", bench.lab.release))
    assert await client.gated(label="out") == "out"
    assert [line.rsplit("/", 1)[-1] for line in recorder.seen()] == ["gated", "events"]


async def test_start_action_gives_a_live_handle(bench: Bench, client: AsyncThingClient) -> None:
    progress: list[float | None] = []
    messages: list[str] = []
    handle = await client.start_action(
        "gated",
        label="handled",
        on_progress=lambda report: progress.append(report.percent),
        on_log=lambda record: messages.append(record.message),
    )
    async with asyncio.timeout(TIMEOUT):
        async for event in handle:
            if event.name == "progress":
                break
    assert handle.status is InvocationStatus.RUNNING
    assert handle.progress == lt.Progress(percent=50.0, message="half way")
    with pytest.raises(ClientTimeoutError, match=r"has not finished after 0\.01 s"):
        await handle.result(timeout=0.01)
    bench.lab.release.set()
    assert await handle.result(timeout=TIMEOUT) == "handled"
    assert handle.done
    assert progress == [50.0, 100.0]
    assert messages == ["waiting for release"]
    assert [record.message for record in handle.log] == messages
    seen = [(event.name, event.data) async for event in handle.events()]
    assert [name for name, _ in seen] == [
        "status",
        "status",
        "progress",
        "log",
        "progress",
        "status",
    ]
    assert [data for name, data in seen if name == "status"] == ["pending", "running", "completed"]


async def test_cancel_through_the_handle(bench: Bench, client: AsyncThingClient) -> None:
    handle = await client.start_action("gated")
    async with asyncio.timeout(TIMEOUT):
        async for event in handle:
            if event.name == "progress":
                break
    await handle.cancel()
    with pytest.raises(ActionCancelledError, match="action 'gated' was cancelled"):
        await handle.result(timeout=TIMEOUT)
    assert handle.status is InvocationStatus.CANCELLED
    assert bench.server.manager.get_invocation(handle.id).status is InvocationStatus.CANCELLED
    assert await handle.cancel() is False  # Finished already: nothing to do, and no error.


async def test_cancel_and_wait_says_what_came_of_it(client: AsyncThingClient) -> None:
    running = await client.start_action("hold")
    async with asyncio.timeout(TIMEOUT):
        async for event in running:
            if event.name == "status" and event.data is InvocationStatus.RUNNING:
                break
        assert await running.cancel_and_wait(TIMEOUT) is lt.client.CancelOutcome.CANCELLED
        assert running.cancellation is lt.client.CancelOutcome.CANCELLED
        finished = await client.start_action("add", a=1)
        assert await finished.result() == 2
        assert await finished.cancel_and_wait(TIMEOUT) is lt.client.CancelOutcome.FINISHED_FIRST


async def test_sync_handle_follows_in_the_background(bench: Bench) -> None:
    loop = asyncio.get_running_loop()

    def use() -> tuple[list[Any], Any, Any]:
        with ThingClient.from_url(bench.url) as thing:
            progress: list[Any] = []
            handle = thing.start_action("gated", on_progress=lambda report: progress.append(report))
            for event in handle:
                if event.name == "progress":
                    break
            with pytest.raises(ClientTimeoutError):
                handle.result(timeout=0.01)
            assert handle.status is InvocationStatus.RUNNING
            loop.call_soon_threadsafe(bench.lab.release.set)
            output = handle.result(timeout=TIMEOUT)
            second = thing.start_action("hold")
            second.cancel()
            with pytest.raises(ActionCancelledError):
                second.result(timeout=TIMEOUT)
            return [event.name for event in handle], output, progress[-1].percent

    names, output, last = await asyncio.to_thread(use)
    assert output == "released"
    assert last == 100.0
    assert names == ["status", "status", "progress", "log", "progress", "status"]


async def test_a_dropped_stream_is_resumed_without_repeats(
    bench: Bench, client: AsyncThingClient, recorder: Recorder
) -> None:
    handle = await client.start_action("gated")
    async with asyncio.timeout(TIMEOUT):
        async for event in handle:
            if event.name == "log":
                break
    last_id = str(event.id)
    reconnected = asyncio.Event()
    recorder.on_request.append(when_path_ends("/events", reconnected))
    for subscription in tuple(bench.server.state.streams):
        subscription.close()  # The server ends the stream mid-action.
    async with asyncio.timeout(TIMEOUT):
        await reconnected.wait()
    bench.lab.release.set()
    assert await handle.result(timeout=TIMEOUT) == "released"
    # The POST's reply was the first stream; the reconnection resumes on the events link.
    streams = [
        (request.method, request.url.path.rsplit("/", 1)[-1], request.headers.get("last-event-id"))
        for request in recorder.requests
        if request.headers.get("accept") == "text/event-stream"
    ]
    assert streams == [("POST", "gated", None), ("GET", "events", last_id)]
    events = [event async for event in handle.events()]
    ids = [event.id for event in events if event.id is not None]
    assert ids == sorted(set(ids))
    assert [event.name for event in events] == [
        "status", "status", "progress", "log", "progress", "status"
    ]  # fmt: skip


async def test_lost_events_are_recovered_by_reading_the_invocation(
    serve_things: ServeThings, recorder: Recorder
) -> None:
    # The stream holds two events in its queue: the burst of records leaves
    # it behind, and the 4-event buffer has moved on when it catches up.
    bench = await serve_bench(serve_things, history_len=4, subscriber_queue=2)
    async with await AsyncThingClient.from_url(bench.url, http=recorder.http) as thing:
        handle = await thing.start_action("chatter", records=20)
        assert await handle.result(timeout=TIMEOUT) == 20
    assert [record.message for record in handle.log] == [f"record {i}" for i in range(20)]
    assert f"GET /action_invocations/{handle.id}" in recorder.seen()


async def test_polling_when_there_is_no_stream(bench: Bench, recorder: Recorder) -> None:
    async def release_on_first_poll(request: httpx2.Request) -> None:
        if request.method == "GET" and "/action_invocations/" in request.url.path:
            bench.lab.release.set()

    recorder.on_request.append(release_on_first_poll)
    async with await AsyncThingClient.from_url(
        bench.url, http=recorder.http, use_event_streams=False
    ) as thing:
        handle = await thing.start_action("gated", label="polled")
        assert await handle.result(timeout=TIMEOUT) == "polled"
    assert not any(line.endswith("/events") for line in recorder.seen())
    polls = [line for line in recorder.seen() if line.startswith("GET /action_invocations/")]
    assert polls
    statuses = [event.data async for event in handle.events() if event.name == "status"]
    assert statuses[-1] == "completed"
    assert [record.message for record in handle.log] == ["waiting for release"]


async def test_one_request_invokes_and_follows_when_no_reply_is_held(
    bench: Bench, recorder: Recorder
) -> None:
    progress: list[float | None] = []
    async with await AsyncThingClient.from_url(
        bench.url, http=recorder.http, invoke_wait=0
    ) as thing:
        recorder.forget()
        assert await thing.add(a=2, b=3) == 5
        handle = await thing.start_action("gated", on_progress=lambda p: progress.append(p.percent))
        bench.lab.release.set()
        assert await handle.result(timeout=TIMEOUT) == "released"
        with pytest.raises(ActionFailedError, match="kaboom"):
            await thing.fail()
    # Each POST's reply was the invocation's stream, followed to its end.
    assert recorder.seen() == ["POST /lab/add", "POST /lab/gated", "POST /lab/fail"]
    assert progress == [50.0, 100.0]
    assert [event.name async for event in handle.events()] == [
        "status", "status", "progress", "log", "progress", "status"
    ]  # fmt: skip


async def test_the_sync_client_invokes_and_follows_in_one_request_too(
    serve_things: ServeThings,
) -> None:
    requests: list[str] = []
    bench = await serve_bench(serve_things)

    def note(request: httpx2.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    def use() -> tuple[int, int, list[str]]:
        with (
            httpx2.Client(timeout=TIMEOUT, event_hooks={"request": [note]}) as http,
            ThingClient.from_url(bench.url, http=http, invoke_wait=0) as thing,
        ):
            requests.clear()
            total = thing.add(a=4, b=5)
            handle = thing.start_action("add", a=1)
            return total, handle.result(timeout=TIMEOUT), [record.message for record in handle.log]

    assert await asyncio.to_thread(use) == (9, 2, ["adding 1 and 1"])
    assert requests == ["POST /lab/add", "POST /lab/add"]


async def test_with_every_stream_taken_the_client_polls_and_loses_nothing(
    serve_things: ServeThings, recorder: Recorder
) -> None:
    bench = await serve_bench(serve_things, max_streams=0)
    async with await AsyncThingClient.from_url(
        bench.url, http=recorder.http, invoke_wait=0
    ) as thing:
        recorder.forget()
        assert await thing.add(a=1, b=1) == 2
    seen = recorder.seen()
    assert seen[0] == "POST /lab/add"  # Answered with JSON: no stream could be opened.
    assert seen[1].endswith("/events")  # Refused (503) as well...
    assert seen[2].startswith("GET /action_invocations/")  # ...so it polls.


async def test_sixty_four_concurrent_invocations_all_complete(bench: Bench) -> None:
    async with await AsyncThingClient.from_url(bench.url, invoke_wait=0) as thing:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(thing.join(index=index, party=64) for index in range(64))),
            TIMEOUT,
        )
    assert outputs == list(range(64))
    assert bench.lab.arrived == 64


# -- observing ----------------------------------------------------------------------------


async def test_observe_property_yields_each_new_value(
    bench: Bench, client: AsyncThingClient, recorder: Recorder
) -> None:
    opened = asyncio.Event()
    recorder.on_response.append(when_path_ends("/speed/events", opened))
    values: list[Any] = []

    async def watch() -> None:
        async for value in client.observe_property("speed"):
            values.append(value)
            if len(values) == 2:
                return

    watcher = asyncio.create_task(watch())
    async with asyncio.timeout(TIMEOUT):
        await opened.wait()
        await client.write_property("speed", 4)
        await client.write_property("speed", 5)
        await watcher
    assert values == [4.0, 5.0]


async def test_a_lost_notice_on_a_property_stream_is_recovered_by_reading_the_property(
    serve_things: ServeThings, recorder: Recorder
) -> None:
    bench = await serve_bench(serve_things, event_buffer=8, subscriber_queue=1)
    opened = asyncio.Event()
    recorder.on_response.append(when_path_ends("/speed/events", opened))
    speeds = [step / 2 for step in range(1, 21)]
    async with await AsyncThingClient.from_url(bench.url, http=recorder.http) as client:
        recorder.forget()
        async with asyncio.timeout(TIMEOUT), client.observe_property("speed") as observed:
            first = asyncio.ensure_future(anext(observed))
            await opened.wait()
            for speed in speeds:
                # Set on the loop, so all are published before the stream is read:
                # its queue of one overflows, and the buffer of 8 moves on.
                bench.lab.speed = speed
            values = [await first, await anext(observed)]
    assert values == [0.5, 10.0]  # The first change, then the value read after `lost`.
    assert recorder.seen() == ["GET /lab/speed/events", "GET /lab/speed"]


async def test_sync_observe_property(bench: Bench) -> None:
    loop = asyncio.get_running_loop()
    opened = asyncio.Event()

    def use() -> list[Any]:
        def on_response(response: httpx2.Response) -> None:
            if response.request.url.path.endswith("/events"):
                loop.call_soon_threadsafe(opened.set)

        with httpx2.Client(timeout=TIMEOUT, event_hooks={"response": [on_response]}) as http:
            thing = ThingClient.from_url(bench.url, http=http)
            values = thing.observe_property("speed")
            first = next(values)
            second = next(values)
            values.close()
            return [first, second]

    watching = asyncio.create_task(asyncio.to_thread(use))
    async with asyncio.timeout(TIMEOUT):
        await opened.wait()
        bench.lab.speed = 6.0
        bench.lab.speed = 7.0
        assert await watching == [6.0, 7.0]


async def test_an_observation_is_an_async_context_manager_that_closes_the_stream(
    bench: Bench, client: AsyncThingClient, recorder: Recorder
) -> None:
    opened = asyncio.Event()
    recorder.on_response.append(when_path_ends("/speed/events", opened))
    async with asyncio.timeout(TIMEOUT):
        async with client.observe_property("speed") as speeds:
            assert repr(speeds) == (
                f"<AsyncObservation of property 'speed' at {bench.url}speed/events (open)>"
            )
            reading = asyncio.ensure_future(anext(speeds))
            await opened.wait()
            await client.write_property("speed", 4)
            assert await reading == 4.0
        assert speeds.closed
        assert repr(speeds).endswith("(closed)>")
        with pytest.raises(StopAsyncIteration):
            await anext(speeds)


async def test_a_sync_observation_is_a_context_manager(bench: Bench) -> None:
    loop = asyncio.get_running_loop()
    opened = asyncio.Event()

    def use() -> tuple[list[Any], str, bool]:
        def on_response(response: httpx2.Response) -> None:
            if response.request.url.path.endswith("/events"):
                loop.call_soon_threadsafe(opened.set)

        with (
            httpx2.Client(timeout=TIMEOUT, event_hooks={"response": [on_response]}) as http,
            ThingClient.from_url(bench.url, http=http) as thing,
            thing.observe_property("speed") as speeds,
        ):
            values = []
            for value in speeds:
                values.append(value)
                if len(values) == 2:
                    break
            shown = repr(speeds)
        return values, shown, speeds.closed

    watching = asyncio.create_task(asyncio.to_thread(use))
    async with asyncio.timeout(TIMEOUT):
        await opened.wait()
        bench.lab.speed = 6.0
        bench.lab.speed = 7.0
        values, shown, closed = await watching
    assert values == [6.0, 7.0]
    assert shown == f"<Observation of property 'speed' at {bench.url}speed/events (open)>"
    assert closed


async def test_observing_a_property_that_does_not_exist_fails_at_once(
    client: AsyncThingClient,
) -> None:
    with pytest.raises(NotFoundError, match="no property 'sped' \\(did you mean 'speed'\\?\\)"):
        client.observe_property("sped")


async def test_clients_and_handles_say_what_they_are(
    bench: Bench, client: AsyncThingClient
) -> None:
    assert repr(client) == (
        f"<AsyncThingClient 'Lab' at {bench.url}: properties speed, label; "
        "actions noop, add, fail, shape, gated, hold, join, chatter>"
    )
    handle = await client.start_action("gated")
    async with asyncio.timeout(TIMEOUT):
        async for event in handle:
            if event.name == "progress":
                break
    assert repr(handle) == f"<AsyncActionHandle gated {handle.id} running 50% 'half way'>"
    bench.lab.release.set()
    async with asyncio.timeout(TIMEOUT):
        await handle.result()
    assert repr(handle) == f"<AsyncActionHandle gated {handle.id} completed>"

    def sync_repr() -> str:
        with ThingClient.from_url(bench.url) as thing:
            return repr(thing)

    assert (await asyncio.to_thread(sync_repr)).startswith(f"<ThingClient 'Lab' at {bench.url}: ")


def test_a_progress_percentage_is_shown_whole() -> None:
    assert format_percent(100 * 7 / 50) == "14%"  # 14.000000000000002
    assert format_percent(100 * 0.29) == "29%"  # 28.999999999999996 is meant as 29
    assert format_percent(99.9) == "99%"  # 100% only once it is done
    assert format_percent(None) == "?%"


def test_a_server_and_a_thing_say_what_they_are() -> None:
    lab = Lab()
    server = lt.ThingServer({"lab": lab}, prefix="/api")
    assert repr(server) == "<ThingServer of ['lab'] at /api (not running)>"
    assert repr(lab) == (
        "<Lab 'lab': properties speed, label; "
        "actions noop, add, fail, shape, gated, hold, join, chatter>"
    )


async def test_observe_a_property_that_does_not_exist(client: AsyncThingClient) -> None:
    with pytest.raises(NotFoundError, match="no property 'colour'"):
        async for _ in client.observe_property("colour"):
            pass


async def test_observe_invocations_sees_every_status_change(
    client: AsyncThingClient, recorder: Recorder
) -> None:
    opened = asyncio.Event()
    recorder.on_response.append(when_path_ends("/action_invocations/events", opened))
    changes: list[tuple[str, str]] = []

    async def watch() -> None:
        async for change in client.observe_invocations():
            changes.append((change.action, change.status.value))
            if change.status.is_finished:
                return

    watcher = asyncio.create_task(watch())
    async with asyncio.timeout(TIMEOUT):
        await opened.wait()
        await client.add(a=1)
        await watcher
    assert changes == [
        ("/lab/add", "pending"),
        ("/lab/add", "running"),
        ("/lab/add", "completed"),
    ]


# -- the README ---------------------------------------------------------------------------

README = Path(__file__).parents[2] / "README.md"


def readme_client_examples() -> list[str]:
    text = README.read_text()
    section = text.split("## Using a Thing from Python and the command line\n", 1)[1]
    return re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)


async def test_the_readme_client_examples_run(
    serve_things: ServeThings, capsys: pytest.CaptureFixture[str]
) -> None:
    from labthings_async.examples.microscope import Microscope

    root = await serve_things(lt.ThingServer({"microscope": Microscope()}))
    examples = readme_client_examples()
    assert len(examples) == 2
    for example in examples:
        code = compile(example.replace("http://127.0.0.1:5000", root), "README.md", "exec")
        await asyncio.to_thread(exec, code, {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ["500.0", "{'x': 100.0, 'y': 50.0, 'z': 0.0}"]
    assert "100% image 4 of 4" in printed
    assert printed[-5:-1] == [
        "4",
        "invalid input for action 'move_to': Expected `float`, got `str` - at `$.x`",
        "RuntimeError the lamp is broken",
        "8 short",
    ]
    assert printed[-1].startswith("stopped at Progress(percent=")


def test_a_url_without_a_scheme_is_refused_saying_what_to_write() -> None:
    # A library cannot know whether the server speaks TLS, so it does not guess.
    with pytest.raises(InvalidArgumentsError) as refused:
        ThingClient.from_url("localhost:5000/stage/")
    assert str(refused.value) == (
        "invalid input for the URL 'localhost:5000/stage/': Expected a URL starting with "
        "http:// or https://, such as 'http://localhost:5000/stage/'"
    )
    with pytest.raises(InvalidArgumentsError, match="not ws://"):
        ThingClient.from_url("ws://localhost:5000/stage/")
