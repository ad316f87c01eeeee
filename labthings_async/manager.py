"""The ActionManager: the asyncio service that runs and tracks invocations.

Layer: domain, its top (anyio, msgspec, the modules below; no starlette). It
owns the asyncio tasks the invocations run in, the thread-slot limiter for
threaded actions (its own, never anyio's default, which Starlette shares), the
table of invocations with its retention bounds, the event hub and the bridge
that brings events from threads to it, and the Things' setup and teardown.
Use it as ``async with ActionManager(things={...}) as manager``.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import re
import uuid
from collections.abc import Coroutine, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import anyio
import msgspec

from .bridge import EventBridge
from .clock import Clock, SystemClock
from .context import bind_invocation, unbind_invocation
from .errors import (
    ManagerNotRunningError,
    QueueFullError,
    ThingNotFoundError,
    ThingSetupError,
)
from .events import Event, EventHub, Subscription
from .invocation import Invocation, encode_output
from .logs import install_log_capture
from .models import InvocationStatus, InvocationSummary
from .table import InvocationTable
from .thing import Thing
from .throughput import Throughput

__all__ = ("ActionManager",)

Status = InvocationStatus
logger = logging.getLogger("labthings_async.manager")

_THING_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ActionManager:
    """Runs invocations of the actions of a set of Things.

    Args:
        things: The Things to manage, by name (the name is their URL segment).
        max_threads: Most threaded actions running at once; the rest wait as
            ``pending``.
        max_pending: Most invocations accepted and waiting: threaded ones not
            yet given a thread, and async ones not finished (they take no
            thread, but each holds memory and a task). Beyond it
            ``invoke_action`` raises ``QueueFullError``, with a ``retry_after``
            worked out from how fast invocations have been finishing.
        retention: Default seconds a finished invocation is kept.
        max_retained: Most finished invocations kept; the soonest to expire go
            first.
        log_len: Most log records kept per invocation.
        history_len: Most events kept per invocation for replay (trimmed an eighth
            at a time, so at least 7/8 of it is kept).
        event_buffer: Most events the manager-wide topics keep for replay.
        subscriber_queue: Bound of each subscription's queue.
        expiry_interval: Seconds between expiry runs.
        shutdown_grace: Seconds running actions get to stop at shutdown.
        debug: Keep tracebacks and the server's file names in invocation logs,
            which clients read; off, a log record keeps the exception's type
            and message only (the server's own log keeps it whole).
        clock: Stamps the invocations' times and paces expiry; real time
            unless a test hands in a clock it moves itself.
    """

    def __init__(
        self,
        things: Mapping[str, Thing] | None = None,
        *,
        max_threads: int = 32,
        max_pending: int = 10_000,
        retention: float = 300.0,
        max_retained: int = 10_000,
        log_len: int = 1000,
        history_len: int = 2000,
        event_buffer: int = 10_000,
        subscriber_queue: int = 1000,
        expiry_interval: float = 1.0,
        shutdown_grace: float = 5.0,
        debug: bool = False,
        clock: Clock | None = None,
    ) -> None:
        bounds = {
            "max_threads": max_threads,
            "history_len": history_len,
            "event_buffer": event_buffer,
            "subscriber_queue": subscriber_queue,
        }
        for option, value in bounds.items():
            # A zero buffer would drop terminal events and leave subscribers waiting forever.
            if value < 1:
                raise ValueError(f"{option} must be at least 1, got {value}")
        self.max_threads = max_threads
        self.max_pending = max_pending
        self.retention = retention
        self.log_len = log_len
        self.history_len = history_len
        self.subscriber_queue = subscriber_queue
        self.expiry_interval = expiry_interval
        self.shutdown_grace = shutdown_grace
        self.debug = debug
        self.clock = clock or SystemClock()
        self.hub = EventHub(buffer_len=event_buffer)
        self.bridge = EventBridge(self.hub)
        self._things: dict[str, Thing] = {}
        for name, thing in (things or {}).items():
            self.add_thing(name, thing)
        self._table = InvocationTable(max_retained, self.clock)
        self._sequence = itertools.count(1).__next__
        self._pending_threaded = 0
        self._unfinished_async = 0
        self.throughput = Throughput()
        # Admits invocations to the pool; run_sync needs a limiter of its own,
        # equally sized and so never contended, to keep off anyio's default.
        self._slots = anyio.CapacityLimiter(max_threads)
        self._thread_limiter = anyio.CapacityLimiter(max_threads)
        # Plain asyncio tasks, not an anyio task group: spawning through a task
        # group costs several times more, on the path of every invocation.
        self._tasks: set[asyncio.Task[None]] = set()
        self._expiry_task: asyncio.Task[None] | None = None
        self._running = False
        self._set_up: list[Thing] = []

    # -- Things -----------------------------------------------------------------

    def add_thing(self, name: str, thing: Thing) -> None:
        """Manage ``thing`` under ``name`` (before the manager starts)."""
        if not isinstance(thing, Thing):
            raise TypeError(f"{name!r} is a {type(thing).__name__}, not a Thing instance")
        if not _THING_NAME.match(name):
            raise ValueError(
                f"Thing name {name!r} cannot be a URL path segment; use letters, digits, "
                "'_', '-' and '.'"
            )
        if name in self._things:
            raise ValueError(f"a Thing called {name!r} is already managed")
        thing.name = name
        self._things[name] = thing

    @property
    def things(self) -> Mapping[str, Thing]:
        """The managed Things, by name."""
        return self._things

    def get_thing(self, thing: Thing | str) -> Thing:
        """A managed Thing, by name or instance.

        Raises:
            ThingNotFoundError: No such Thing is managed here.
        """
        if isinstance(thing, Thing):
            if self._things.get(thing.name) is thing:
                return thing
            raise ThingNotFoundError(
                f"{thing!r} is not managed by this ActionManager; pass it in `things=`"
            )
        try:
            return self._things[thing]
        except KeyError:
            raise ThingNotFoundError(
                f"no Thing called {thing!r}; the Things here are {sorted(self._things)}"
            ) from None

    def find_thing(self, cls: type[Thing], name: str | None) -> Thing:
        """The Thing a Thing dependency asks for: by name, else the one of class ``cls``."""
        if name is not None:
            found = self.get_thing(name)
            if not isinstance(found, cls):
                raise ThingNotFoundError(f"Thing {name!r} is not a {cls.__name__}")
            return found
        matches = [thing for thing in self._things.values() if isinstance(thing, cls)]
        if len(matches) != 1:
            raise ThingNotFoundError(
                f"found {len(matches)} Things of class {cls.__name__}, not one; "
                "name the one you want with lt.ThingDependency('name')"
            )
        return matches[0]

    # -- lifecycle ----------------------------------------------------------------

    async def __aenter__(self) -> ActionManager:
        if self.hub.invocations.closed:
            # Started again after a shutdown (a test client opened twice, say):
            # the last shutdown ended the old topics and their subscribers.
            self.hub.reopen()
        self.bridge.open(asyncio.get_running_loop())
        install_log_capture()
        try:
            for thing in self._things.values():
                thing.observe_properties(self._publish_property)
                await self._call_lifecycle(thing, "setup")
                self._set_up.append(thing)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._teardown_things()
            raise
        self._expiry_task = self._spawn(self._expire_periodically())
        self._running = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.shutdown()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("an ActionManager task failed", exc_info=task.exception())

    async def shutdown(self) -> None:
        """Stop: cancel what is pending, ask what runs to stop, end every stream.

        Running actions get ``shutdown_grace`` seconds; a threaded action still
        running after that is marked ``cancelled`` and left to finish on its
        own, since a thread cannot be killed. Every invocation ends terminal,
        each with a detail saying how.
        """
        if not self._running and self._expiry_task is None:
            return
        self._running = False
        unfinished = self._table.unfinished()
        # Shielded: a host that is itself being cancelled (Ctrl-C, a timeout)
        # must still stop every invocation and release the hardware. The grace
        # keeps the wait bounded.
        with anyio.CancelScope(shield=True):
            try:
                for invocation in unfinished:
                    if not invocation.finished:
                        invocation.cancel(by_shutdown=True)
                with anyio.move_on_after(self.shutdown_grace):
                    for invocation in unfinished:
                        await invocation.wait()
                for task in tuple(self._tasks):
                    task.cancel()  # Abandons threads that did not stop; ends the timer.
                if self._tasks:
                    await asyncio.wait(tuple(self._tasks))
                for invocation in unfinished:
                    # Its task ended without ending it (a BaseException in the action).
                    invocation.finish(error=asyncio.CancelledError())
            finally:
                self._expiry_task = None
                self.bridge.close()
                self.hub.close()
                await self._teardown_things()

    async def _teardown_things(self) -> None:
        while self._set_up:
            thing = self._set_up.pop()
            try:
                await self._call_lifecycle(thing, "teardown")
            except ThingSetupError:
                logger.exception("teardown of Thing %r failed", thing.name)
            thing.observe_properties(None)

    async def _call_lifecycle(self, thing: Thing, method: str) -> None:
        function = getattr(thing, method)
        try:
            if inspect.iscoroutinefunction(function):
                await function()
            else:
                await anyio.to_thread.run_sync(function, limiter=self._thread_limiter)
        except Exception as error:
            raise ThingSetupError(
                f"{method} of Thing {thing.name!r} ({type(thing).__name__}) failed: "
                f"{type(error).__name__}: {error}"
            ) from error

    # -- invoking -----------------------------------------------------------------

    def invoke_action(self, thing: Thing | str, action: str, input: Any = None, /) -> Invocation:
        """Start an invocation and return it at once, ``pending`` (loop thread only).

        Args:
            thing: The Thing, or its name.
            action: The action's name.
            input: The arguments: a mapping, a JSON body as bytes, or None.

        Raises:
            ThingNotFoundError: No such Thing.
            AffordanceNotFoundError: No such action.
            InvalidInputError: The input does not fit; no invocation is made.
            QueueFullError: ``max_pending`` invocations already wait.
            ManagerNotRunningError: The manager is not running.
        """
        if not self._running:
            raise ManagerNotRunningError("the ActionManager is not running; use `async with`")
        target = self.get_thing(thing)
        descriptor = type(target).get_action(action)
        if isinstance(input, bytes | bytearray | memoryview):
            arguments = descriptor.decode_input(bytes(input))
        else:
            arguments = descriptor.validate_input(input)
        waiting = self._pending_threaded + self._unfinished_async
        if waiting >= self.max_pending:
            retry_after = self.throughput.retry_after(waiting)
            raise QueueFullError(
                f"{waiting} invocations are already waiting ({self._pending_threaded} for one "
                f"of {self.max_threads} threads, {self._unfinished_async} async ones "
                f"unfinished), the most this server takes (max_pending); at the rate "
                f"invocations have been finishing, that is about {retry_after} s of work",
                retry_after=retry_after,
            )
        if descriptor.is_async:
            self._unfinished_async += 1
        else:
            self._pending_threaded += 1
        invocation = Invocation(
            self,
            target,
            descriptor,
            arguments,
            retention_time=self.retention if descriptor.retention is None else descriptor.retention,
            log_len=self.log_len,
            history_len=self.history_len,
            sequence=self._sequence(),
        )
        self._table.add(invocation)
        invocation.publish_created()
        run = self._run_async if descriptor.is_async else self._run_threaded
        invocation.task = self._spawn(run(invocation))
        return invocation

    async def _run_threaded(self, invocation: Invocation) -> None:
        slots = self._slots
        try:
            try:
                slots.acquire_on_behalf_of_nowait(invocation)
            except anyio.WouldBlock:
                await slots.acquire_on_behalf_of(invocation)
        except asyncio.CancelledError:
            return  # Cancelled while pending: cancel() has already finished it.
        try:
            if invocation.status is not Status.PENDING:
                return
            invocation.transition(Status.RUNNING)
            try:
                outcome = await anyio.to_thread.run_sync(
                    _call_in_thread,
                    [invocation],
                    # The task is cancelled only at shutdown, to stop waiting
                    # for a thread that will not stop; clients cancel threaded
                    # actions cooperatively, through the cancel hook.
                    abandon_on_cancel=True,
                    limiter=self._thread_limiter,
                )
            except (Exception, asyncio.CancelledError) as error:
                invocation.finish(error=error)
            else:
                if isinstance(outcome, Exception):
                    invocation.finish(error=outcome)
                else:
                    invocation.finish(outcome)
        finally:
            slots.release_on_behalf_of(invocation)

    @staticmethod
    async def _run_async(invocation: Invocation) -> None:
        if invocation.status is not Status.PENDING:
            return  # Cancelled before it started.
        invocation.transition(Status.RUNNING)
        token = bind_invocation(invocation)
        try:
            output = await invocation.action.call(invocation.thing, invocation.input)
        except (Exception, asyncio.CancelledError) as error:
            unbind_invocation(token)
            invocation.finish(error=error)
        else:
            unbind_invocation(token)
            invocation.finish(output)

    # -- bookkeeping (called by Invocation.transition) -------------------------------

    def status_changed(self, invocation: Invocation, old: Status) -> None:
        """Keep the waiting counts, the finishing rate and the retention queue up to date."""
        is_async = invocation.action.is_async
        if old is Status.PENDING and not is_async:
            self._pending_threaded -= 1
        if invocation.finished:
            if is_async:
                self._unfinished_async -= 1
            self.throughput.record()
            self._table.finished(invocation)

    # -- reading --------------------------------------------------------------------

    def get_invocation(self, invocation_id: uuid.UUID | str) -> Invocation:
        """The invocation with this ID.

        Raises:
            InvocationNotFoundError: No such invocation is retained.
        """
        return self._table.get(invocation_id)

    def iter_invocations(
        self,
        *,
        thing: str | None = None,
        action: str | None = None,
        status: Status | str | None = None,
    ) -> Iterator[Invocation]:
        """The retained invocations, newest first, optionally filtered."""
        return self._table.newest_first(thing=thing, action=action, status=status)

    def list_invocations(
        self,
        *,
        thing: str | None = None,
        action: str | None = None,
        status: Status | str | None = None,
        limit: int | None = None,
        base_url: str = "",
    ) -> list[InvocationSummary]:
        """Summaries of the retained invocations, newest first."""
        selected = self.iter_invocations(thing=thing, action=action, status=status)
        return [
            invocation.summary_model(base_url) for invocation in itertools.islice(selected, limit)
        ]

    def __len__(self) -> int:
        return len(self._table)

    def expire_invocations(self, now: datetime | None = None) -> int:
        """Forget finished invocations whose retention has run out; returns how many.

        The manager also runs this every ``expiry_interval`` seconds.
        """
        return self._table.expire(now)

    async def _expire_periodically(self) -> None:
        while True:
            await self.clock.sleep(self.expiry_interval)
            self.expire_invocations()

    # -- events ---------------------------------------------------------------------

    def subscribe(
        self,
        invocation: Invocation | uuid.UUID | str | None = None,
        *,
        thing: str | None = None,
        action: str | None = None,
        after: int | None = None,
    ) -> Subscription:
        """Subscribe to events, as an async iterator.

        With ``invocation``: its status, log and progress events, replayed from
        the start (or after event ID ``after``), then live, ending after the
        terminal event. Without: every invocation's status changes, filtered
        by ``thing`` and ``action``, live (or replayed after ``after``),
        ending when the manager stops.
        """
        if invocation is not None:
            if not isinstance(invocation, Invocation):
                invocation = self.get_invocation(invocation)
            return invocation.events.subscribe(
                after=after or 0, maxsize=self.subscriber_queue, end_on_terminal=True
            )
        return self.hub.invocations.subscribe(
            after=after, accept=_tag_filter(thing, action), maxsize=self.subscriber_queue
        )

    def subscribe_properties(
        self, *, thing: str | None = None, name: str | None = None, after: int | None = None
    ) -> Subscription:
        """Subscribe to property changes (events named after the property)."""
        return self.hub.properties.subscribe(
            after=after, accept=_tag_filter(thing, name), maxsize=self.subscriber_queue
        )

    def _publish_property(self, thing: Thing, name: str, value: Any) -> None:
        """Publish a property change, from any thread."""
        try:
            # Encoded now: the value may be changed in place later.
            event = Event.encode(name, value, thing=thing.name, affordance=name)
        except (TypeError, msgspec.EncodeError):
            logger.warning("property %s.%s was set to a value JSON cannot carry", thing.name, name)
            return
        self.bridge.send(event, self.hub.properties)


def _tag_filter(thing: str | None, affordance: str | None) -> Any:
    if thing is None and affordance is None:
        return None

    def accept(event: Event) -> bool:
        return (thing is None or event.thing == thing) and (
            affordance is None or event.affordance == affordance
        )

    return accept


def _call_in_thread(handoff: list[Invocation]) -> msgspec.Raw | Exception:
    """Run a threaded action in its worker thread: its output, encoded, or what it raised.

    Encoding a large output takes time; done here, it keeps the loop free.
    anyio's worker thread keeps its last job's arguments, result and exception
    until its next job, so nothing it keeps may lead to the invocation: it
    comes in a list emptied at once, and an exception comes back as the
    result, since raised on, its traceback would take in the manager's frames.
    """
    invocation = handoff.pop()
    token = bind_invocation(invocation)
    try:
        return encode_output(
            invocation.action.name, invocation.action.call(invocation.thing, invocation.input)
        )
    except Exception as error:
        return error
    finally:
        unbind_invocation(token)
        del invocation  # The traceback of an exception returned keeps this frame.
