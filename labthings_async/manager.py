"""The ActionManager: the asyncio service that runs and tracks invocations.

Layer: domain, its top (anyio, msgspec, the modules below; no starlette). It
owns the asyncio tasks the invocations run in, the daemon worker threads
threaded actions run in and the slots that bound them, the table of
invocations with its retention bounds (and the blobs their outputs hold),
the event hub and the bridge that brings events from threads to it (camera
streams' frame notices too), and the Things' start: their slots filled,
their settings loaded, their locks made, then their setup; and their
teardown. Use it as ``async with ActionManager(things={...}) as manager``.

However user code ends (any ``BaseException``, a thread that never returns,
an async action that swallows its cancellation), it ends only its invocation
or its Thing's start or close; and shutdown ends within a stated bound:
``shutdown_grace`` for the actions to stop, then ``teardown_timeout`` for
each of each Thing's closing hooks, after which what is still running is
abandoned, named in the log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from collections.abc import Coroutine, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import msgspec

from .action import ActionDescriptor
from .blob import Blob, BlobStore
from .bridge import EventBridge
from .clock import Clock, SystemClock
from .context import bind_invocation, unbind_invocation
from .errors import (
    BlobNotFoundError,
    InvalidInputError,
    InvocationNotFoundError,
    LockBusyError,
    ManagerNotRunningError,
    QueueFullError,
    ThingNotFoundError,
    UnsupportedFeatureError,
)
from .events import Event, EventHub, Subscription
from .invocation import Invocation
from .lifecycle import start_thing, stop_thing
from .lock import InvocationLock, ThingLocks
from .logs import install_log_capture
from .models import FieldIssue, InvocationStatus, InvocationSummary
from .settings_store import SettingsStore, settings_path
from .slot import SlotTarget, connect_slots
from .table import InvocationTable
from .thing import Thing
from .throughput import Throughput
from .workers import WorkerThreads, close_coroutine

__all__ = ("ActionManager",)

Status = InvocationStatus
logger = logging.getLogger("labthings_async.manager")

_THING_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

_STRAGGLERS = 1.0
"""Seconds shutdown waits for the tasks of abandoned invocations to end.

A threaded action's task ends as soon as it stops waiting for the thread, an
async action's once its closed coroutine is cancelled: both take a turn or
two of the loop. Whatever is still there after this is left behind.
"""

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
        shutdown_grace: Seconds running actions get to stop at shutdown;
            those still running after it are abandoned.
        teardown_timeout: Seconds each of a Thing's closing hooks (``teardown``,
            ``__exit__``) may take at shutdown; one still running after it is
            abandoned, and the next one runs.
        debug: Keep tracebacks and the server's file names in invocation logs,
            which clients read; off, a log record keeps the exception's type
            and message only (the server's own log keeps it whole).
        clock: Stamps the invocations' times and paces expiry; real time
            unless a test hands in a clock it moves itself.
        settings_folder: Where the Things' settings files are kept
            (``{folder}/{thing name}/Settings-{class}.json``, as LabThings-
            FastAPI has them), relative to the working directory at start;
            None keeps settings in memory only.
        thing_slots: Thing name to slot name to what fills it (a Thing's
            name, a list of names, or None), overriding the slots' defaults.
        enable_global_lock: One action or client property write at a time
            across the server, as LabThings-FastAPI's option.
        global_lock_log_level: The level of the log line when an invocation
            is refused because a lock is busy: DEBUG, INFO, WARNING or ERROR.

    Attributes:
        blobs: The blobs of the retained invocations' outputs, by ID: each is
            served while its invocation is kept, and let go when it is forgotten.
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
        teardown_timeout: float = 10.0,
        debug: bool = False,
        clock: Clock | None = None,
        settings_folder: str | Path | None = "./settings",
        thing_slots: Mapping[str, Mapping[str, SlotTarget]] | None = None,
        enable_global_lock: bool = False,
        global_lock_log_level: str = "INFO",
    ) -> None:
        if global_lock_log_level not in _LOG_LEVELS:
            raise ValueError(
                f"global_lock_log_level must be one of {', '.join(_LOG_LEVELS)}, "
                f"got {global_lock_log_level!r}"
            )
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
        self.teardown_timeout = teardown_timeout
        self.debug = debug
        self.clock = clock or SystemClock()
        self.settings_folder = settings_folder
        self.thing_slots = {name: dict(slots) for name, slots in (thing_slots or {}).items()}
        self.enable_global_lock = enable_global_lock
        self.global_lock_log_level = global_lock_log_level
        self.hub = EventHub(buffer_len=event_buffer)
        self.bridge = EventBridge(self.hub)
        self._things: dict[str, Thing] = {}
        for name, thing in (things or {}).items():
            self.add_thing(name, thing)
        self.blobs = BlobStore()
        self._table = InvocationTable(max_retained, self.clock, on_forget=self._forget)
        self._sequence = itertools.count(1).__next__
        self._pending_threaded = 0
        self._unfinished_async = 0
        self.throughput = Throughput()
        # Admits threaded invocations to the threads, max_threads at a time.
        self._slots = anyio.CapacityLimiter(max_threads)
        self.threads = WorkerThreads("labthings_async worker")
        # Plain asyncio tasks, not an anyio task group: spawning through a task
        # group costs several times more, on the path of every invocation.
        self._tasks: set[asyncio.Task[None]] = set()
        self._expiry_task: asyncio.Task[None] | None = None
        self._running = False
        self._started: list[Thing] = []
        # The locks each invocation holds on its own behalf, freed when it ends.
        self._held: dict[Invocation, tuple[InvocationLock, ...]] = {}

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
            connect_slots(self._things, self.thing_slots)
            self._make_locks()
            # Before any setup: setup may read the settings, and a setting it
            # assigns must not overwrite the saved file with defaults.
            await self.threads.run(self._load_settings)
            for thing in self._things.values():
                thing.observe_properties(self._publish_property)
                for stream in thing.camera_streams().values():
                    stream.attach(self.bridge, thing.name)
                await start_thing(thing, self.threads)
                self._started.append(thing)
        except BaseException as error:
            with anyio.CancelScope(shield=True):
                # The Things already open are closed with what stopped the start.
                await self._stop_things(error.__cause__ or error)
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
        await self.shutdown(exc)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("an ActionManager task failed", exc_info=task.exception())

    async def shutdown(self, error: BaseException | None = None) -> None:
        """Stop: cancel what is pending, ask what runs to stop, end every stream.

        Running actions get ``shutdown_grace`` seconds to stop. Any still
        running after that is abandoned: marked ``cancelled`` with a detail
        saying so, and named in a warning on the server's log. A threaded
        one's thread is left to finish on its own (a thread cannot be killed;
        it is a daemon thread, so it does not hold the process at exit); an
        async one that ignored its cancellation has its coroutine closed.
        Then the Things are closed, the last opened first, each closing hook
        (``teardown``, ``__exit__``) given at most ``teardown_timeout``
        seconds. So shutdown takes at most ``shutdown_grace``, plus
        ``teardown_timeout`` for each hook, and a moment.

        Args:
            error: What ended the block the manager ran in, if anything did;
                each Thing's ``__exit__`` receives it.
        """
        if not self._running and self._expiry_task is None:
            return
        self._running = False
        unfinished = self._table.unfinished()
        # Shielded: a host that is itself being cancelled (Ctrl-C, a timeout)
        # must still stop every invocation and release the hardware. The grace
        # and the time limits keep the wait bounded.
        with anyio.CancelScope(shield=True):
            try:
                for invocation in unfinished:
                    if not invocation.finished:
                        invocation.cancel(by_shutdown=True)
                with anyio.move_on_after(self.shutdown_grace):
                    for invocation in unfinished:
                        await invocation.wait()
                self._abandon([invocation for invocation in unfinished if not invocation.finished])
                for task in tuple(self._tasks):
                    task.cancel()  # Stops waiting for abandoned threads; ends the timer.
                if self._tasks:
                    await asyncio.wait(tuple(self._tasks), timeout=_STRAGGLERS)
                if self._tasks:
                    logger.warning(
                        "%d task(s) of abandoned invocations did not end; leaving them",
                        len(self._tasks),
                    )
            finally:
                self._expiry_task = None
                self.bridge.close()
                self.hub.close()
                for thing in self._things.values():
                    for stream in thing.camera_streams().values():
                        stream.detach()
                await self._stop_things(error)

    def _abandon(self, invocations: list[Invocation]) -> None:
        """Give up on invocations that did not stop within the grace; say which."""
        if not invocations:
            return
        logger.warning(
            "shutdown: abandoning %d invocation(s) still running %g s after they were "
            "asked to stop: %s",
            len(invocations),
            self.shutdown_grace,
            ", ".join(
                f"{invocation.action_path} {invocation.id_text} "
                f"({'async' if invocation.action.is_async else 'threaded'})"
                for invocation in invocations
            ),
        )
        for invocation in invocations:
            task = invocation.task
            invocation.abandon()
            if task is not None and invocation.action.is_async:
                close_coroutine(task, f"action {invocation.action_path}")

    def _make_locks(self) -> None:
        """Give each Thing the locks its actions and property writes take (fresh each start)."""
        shared = InvocationLock("the global lock") if self.enable_global_lock else None
        for thing in self._things.values():
            own = InvocationLock(f"the lock of Thing {thing.name!r}") if thing.thing_lock else None
            thing._locks = ThingLocks(shared, own) if shared or own else None

    def _load_settings(self) -> None:
        """Load each Thing's settings from its file, and save them there from now on (a thread)."""
        folder = None if self.settings_folder is None else Path(self.settings_folder).absolute()
        for thing in self._things.values():
            if folder is None or not thing.settings:
                thing._settings_store = None
                continue
            store = SettingsStore(thing, settings_path(folder, thing.name, type(thing).__name__))
            store.load()
            thing._settings_store = store

    async def _stop_things(self, error: BaseException | None) -> None:
        while self._started:
            thing = self._started.pop()
            await stop_thing(thing, self.threads, error, limit=self.teardown_timeout)
            thing.observe_properties(None)

    # -- invoking -----------------------------------------------------------------

    def invoke_action(self, thing: Thing | str, action: str, input: Any = None, /) -> Invocation:
        """Start an invocation and return it at once, ``pending`` (loop thread only).

        An action that takes a lock (the server-wide one, its Thing's) takes
        it now, or is refused if it is busy; with ``wait_for_lock`` it waits
        for it as ``pending`` instead.

        Args:
            thing: The Thing, or its name.
            action: The action's name.
            input: The arguments: a mapping, a JSON body as bytes, or None.

        Raises:
            ThingNotFoundError: No such Thing.
            AffordanceNotFoundError: No such action.
            InvalidInputError: The input does not fit; no invocation is made.
            QueueFullError: ``max_pending`` invocations already wait.
            LockBusyError: A lock the action takes is held by another invocation
                or a client's property write; no invocation is made.
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
        for name, value in arguments.items():
            if isinstance(value, Blob):
                arguments[name] = self._resolve_blob(descriptor.name, name, value)
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
        if target._locks is not None and not descriptor.wait_for_lock:
            self._lock_now(invocation, target._locks.needed_by(descriptor))
        self._track(invocation)
        run = self._run_async if descriptor.is_async else self._run_threaded
        invocation.task = self._spawn(run(invocation))
        return invocation

    def _lock_now(self, invocation: Invocation, locks: tuple[InvocationLock, ...]) -> None:
        """Take the locks of a new invocation, or refuse it if one is busy.

        Raises:
            LockBusyError: One is held by someone else; none is kept.
        """
        taken: list[InvocationLock] = []
        purpose = f"action {invocation.action_name!r} of Thing {invocation.thing_name!r}"
        try:
            for lock in locks:
                lock.acquire_nowait(invocation, purpose)
                taken.append(lock)
        except LockBusyError as error:
            for lock in reversed(taken):
                lock.release_all(invocation)
            level = logging.getLevelName(self.global_lock_log_level)
            invocation.thing.logger.log(level, "did not run %s: %s", invocation.action_path, error)
            raise
        if taken:
            self._held[invocation] = tuple(taken)

    async def _wait_for_locks(self, invocation: Invocation) -> None:
        """Wait, ``pending``, for the locks of a ``wait_for_lock`` action, one after the other.

        Cancelling the invocation cancels the wait, which leaves the lock's queue.
        """
        guard = invocation.thing._locks
        if guard is None or not invocation.action.wait_for_lock:
            return
        for lock in guard.needed_by(invocation.action):
            await lock.acquire(invocation)
            if invocation.finished:  # Ended as it got the lock: its end freed the rest.
                lock.release_all(invocation)
                return
            self._held[invocation] = (*self._held.get(invocation, ()), lock)

    def _release_locks(self, invocation: Invocation) -> None:
        """Free every lock a finished invocation holds, before its end is announced."""
        for lock in reversed(self._held.pop(invocation, ())):
            lock.release_all(invocation)

    async def _run_threaded(self, invocation: Invocation) -> None:
        slots = self._slots
        try:
            await self._wait_for_locks(invocation)
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
                # The task is cancelled only at shutdown, to stop waiting for a
                # thread that will not stop; clients cancel threaded actions
                # cooperatively, through the cancel hook.
                output, error = await self.threads.submit(_call_in_thread, invocation)
            except asyncio.CancelledError as cancelled:
                invocation.finish(error=cancelled)
                return
            # What the action raised comes back as a value, not raised here: its
            # traceback would then hold this frame, and so the invocation keeping
            # it, in a cycle only a garbage collection frees.
            if error is None:
                invocation.finish(output)
            else:
                invocation.finish(error=error)
                del error
        finally:
            slots.release_on_behalf_of(invocation)

    async def _run_async(self, invocation: Invocation) -> None:
        try:
            await self._wait_for_locks(invocation)
        except asyncio.CancelledError:
            return  # Cancelled while pending: cancel() has already finished it.
        if invocation.status is not Status.PENDING:
            return  # Cancelled before it started.
        invocation.transition(Status.RUNNING)
        # The task's own context, which ends with it: nothing to restore. (An
        # abandoned coroutine is closed from another task's context, where
        # resetting a token of this one would fail.)
        bind_invocation(invocation)
        try:
            output = await invocation.action.call(invocation.thing, invocation.input)
        except BaseException as error:  # Every way user code ends.
            # Caught here, before asyncio sees it: a SystemExit or
            # KeyboardInterrupt reaching the task would stop the event loop.
            invocation.finish(error=error)
            # The exception it keeps holds this frame in its traceback: without
            # this, the two would keep each other alive until a garbage collection.
            del invocation
        else:
            invocation.finish(output)
        finally:
            # Those waiting for it may run before this task's context is freed;
            # it must not keep the invocation alive past what the table retains.
            bind_invocation(None)

    # -- bookkeeping (called by Invocation.transition) -------------------------------

    def status_changed(self, invocation: Invocation, old: Status) -> None:
        """Keep the waiting counts, finishing rate, retention queue, locks and blobs current."""
        is_async = invocation.action.is_async
        if old is Status.PENDING and not is_async:
            self._pending_threaded -= 1
        if invocation.finished:
            if is_async:
                self._unfinished_async -= 1
            self.throughput.record()
            if invocation.attachments:
                self.blobs.add(invocation.attachments)
            if self._held:
                # Freed before the end is published: a client that sees it
                # finished may invoke again at once and find the lock free.
                self._release_locks(invocation)
            self._table.finished(invocation)

    def _forget(self, invocation: Invocation) -> None:
        """The table has let ``invocation`` go: its blobs are no longer served."""
        if invocation.attachments:
            self.blobs.discard(invocation.attachments)

    def _resolve_blob(self, action: str, parameter: str, blob: Blob) -> Blob:
        """The blob an input names by href, among those this manager serves.

        Raises:
            InvalidInputError: It names none of them (422, at the parameter's path).
        """
        try:
            return self.blobs.resolve(blob)
        except BlobNotFoundError as error:
            path = f"$.{parameter}"
            raise InvalidInputError(
                f"the input of action {action!r} is invalid: {error} - at `{path}`",
                [FieldIssue(path, str(error))],
            ) from None

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
        thing: Thing | str | None = None,
        action: ActionDescriptor | str | None = None,
        status: Status | str | None = None,
    ) -> Iterator[Invocation]:
        """The retained invocations, newest first, optionally filtered.

        Args:
            thing: Only this Thing's (a Thing or its name).
            action: Only this action's: a name, or a descriptor (an action of
                one class, on whichever Thing of it), as LabThings-FastAPI takes it.
            status: Only invocations with this status.
        """
        thing_name = thing.name if isinstance(thing, Thing) else thing
        if isinstance(action, ActionDescriptor):
            descriptor = action
            selected = self._table.newest_first(
                thing=thing_name, action=descriptor.name, status=status
            )
            return (invocation for invocation in selected if invocation.action is descriptor)
        return self._table.newest_first(thing=thing_name, action=action, status=status)

    def list_invocations(
        self,
        action: ActionDescriptor | str | None = None,
        thing: Thing | str | None = None,
        *,
        status: Status | str | None = None,
        limit: int | None = None,
        base_url: str = "",
    ) -> list[InvocationSummary]:
        """Summaries of the retained invocations, newest first.

        ``action`` and ``thing`` come first, as in LabThings-FastAPI
        (``list_invocations(descriptor, thing)``); see ``iter_invocations``.
        """
        selected = self.iter_invocations(thing=thing, action=action, status=status)
        return [
            invocation.summary_model(base_url) for invocation in itertools.islice(selected, limit)
        ]

    @property
    def invocations(self) -> list[Invocation]:
        """Every retained invocation, oldest first (LabThings-FastAPI's list)."""
        return list(reversed(list(self._table.newest_first())))

    def append_invocation(self, invocation: Invocation) -> None:
        """Keep track of a new invocation of this manager's Things, as ``invoke_action`` does.

        LabThings-FastAPI's name. The invocation is listed, found by its ID,
        expired and streamed like any other; running it is the caller's part.

        Raises:
            ThingNotFoundError: Its Thing is not managed here.
            ValueError: It is tracked already.
        """
        self.get_thing(invocation.thing)
        try:
            self._table.get(invocation.id_text)
        except InvocationNotFoundError:
            self._track(invocation)
            return
        raise ValueError(f"{invocation!r} is tracked already")

    def _track(self, invocation: Invocation) -> None:
        """Keep a new invocation and announce it (the path of every ``invoke_action``)."""
        if invocation.action.is_async:
            if not invocation.finished:
                self._unfinished_async += 1  # Until it finishes: see status_changed.
        elif invocation.status is Status.PENDING:
            self._pending_threaded += 1  # Until it runs: see status_changed.
        self._table.add(invocation)
        invocation.publish_created()

    def router(self) -> Any:
        """LabThings-FastAPI's router of the action routes: here the HTTP layer builds it.

        Raises:
            UnsupportedFeatureError: Always; the message names the function to call.
        """
        raise UnsupportedFeatureError(
            "ActionManager.router() would make the domain import the HTTP layer; call "
            "labthings_async.http.action_router(manager) for a mountable Starlette app of "
            "this manager's action and invocation routes"
        )

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


def _call_in_thread(invocation: Invocation) -> msgspec.Raw:
    """Run a threaded action in its worker thread; its output, checked and encoded.

    Checking and encoding a large output takes time; done here, it keeps the
    loop free. Whatever the action raises, any ``BaseException``, the worker
    thread hands back to the loop as it is.
    """
    token = bind_invocation(invocation)
    try:
        action = invocation.action
        attachments: list[Blob] = []
        encoded = action.encode_output(action.call(invocation.thing, invocation.input), attachments)
        if attachments:
            invocation.attachments = tuple(attachments)
        return encoded
    finally:
        unbind_invocation(token)
        del invocation  # The traceback of what the action raised keeps this frame.
