"""Running user code so that, however it ends, it ends only itself.

Layer: domain (stdlib, asyncio). Three means, one for each way user code
runs. Blocking code (threaded actions, functional property getters and
setters, plain ``setup``/``teardown``/``__exit__`` methods) runs in
``WorkerThreads``. A coroutine of user code awaited by a task of its own
runs under ``outcome_of``, so nothing it raises reaches asyncio. And one
that will not stop when cancelled is closed by ``close_coroutine``.

anyio's worker threads (``anyio.to_thread.run_sync``) are not daemon threads,
and the interpreter joins every non-daemon thread as it exits: one blocked in
a driver call, or in ``time.sleep(3600)``, would hold the process long after
the server had shut down, so a SIGTERM would never end it. ``WorkerThreads``
are daemon threads, and die with the process.

Whoever awaits a call may stop waiting at any time (a cancelled task, a
timeout): the thread runs on, and what it returns is dropped. A thread cannot
be interrupted, only abandoned. A finished call joins an outbox of its loop;
the first one in wakes the loop (one ``call_soon_threadsafe``), and calls
that finish before the loop gets to it ride along, so many threads finishing
together cost the loop one wake-up, not one each. Events a call publishes on
the way go through the manager's ``EventBridge``, as before.

Each call runs in a copy of the caller's context (``contextvars``), as
anyio's do. Idle threads wait ``idle_timeout`` seconds for another call, then
end.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ("WorkerThreads", "cancelled_from_outside", "close_coroutine", "outcome_of")

T = TypeVar("T")

logger = logging.getLogger("labthings_async.manager")

_Job = tuple[
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
    "asyncio.Future[_Outcome]",
    asyncio.AbstractEventLoop,
]
_Outcome = tuple[Any, BaseException | None]
"""What a call returned, or what it raised (any ``BaseException``)."""


def cancelled_from_outside(error: BaseException) -> bool:
    """True if ``error`` is the cancellation of the running task, not user code's own.

    User code may raise ``CancelledError`` (or catch one and raise it again
    later); only a cancellation someone asked of the task awaiting it must
    propagate as such.
    """
    if not isinstance(error, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Worker(threading.Thread):
    """One daemon thread, running the calls put in its queue, one at a time."""

    def __init__(self, pool: WorkerThreads, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.pool = pool
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()

    def run(self) -> None:
        pool = self.pool
        while True:
            try:
                job = self.jobs.get(timeout=pool.idle_timeout)
            except queue.Empty:
                if pool.retire(self):
                    return
                continue  # It was handed a call as it timed out.
            context, func, args, future, loop = job
            del job
            result: Any = None
            error: BaseException | None = None
            try:
                result = context.run(func, *args)
            except BaseException as raised:  # User code: every way it ends.
                error = raised
            pool.idle(self)
            pool.hand_back(loop, future, (result, error))
            # Nothing of the call may stay alive in an idle thread.
            del context, func, args, future, loop, result, error


class WorkerThreads:
    """A pool of daemon threads for blocking user code, reused between calls.

    It does not bound how many threads run: its callers do (the manager's
    slots for threaded actions, the server's property limiter), since an
    abandoned call must keep counting against the bound it was admitted by.

    Args:
        name: Name of the threads (as ``threading`` and debuggers show them).
        idle_timeout: Seconds an idle thread waits for another call before it ends.
    """

    def __init__(self, name: str = "labthings_async worker", *, idle_timeout: float = 10.0) -> None:
        self.name = name
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._threads: set[_Worker] = set()
        # Finished calls on their way back, per loop; a loop is in here while
        # a delivery to it is scheduled.
        self._outboxes: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[_Outcome], _Outcome]]
        ] = {}

    def __repr__(self) -> str:
        return f"<WorkerThreads {self.name!r}: {self.busy} busy, {len(self._idle)} idle>"

    @property
    def busy(self) -> int:
        """How many threads are running a call now (abandoned ones included)."""
        with self._lock:
            return len(self._threads) - len(self._idle)

    def submit(self, func: Callable[..., Any], *args: Any) -> asyncio.Future[_Outcome]:
        """Start ``func(*args)`` in a thread (loop thread only).

        Returns:
            A future of ``(result, None)`` or ``(None, error)``, resolved when
            the call ends, whether or not anyone still waits for it. It never
            holds an exception itself, so a call nobody waits for logs nothing.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Outcome] = loop.create_future()
        with self._lock:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = _Worker(self, self.name)
                self._threads.add(worker)
        if not worker.is_alive():
            worker.start()
        worker.jobs.put((contextvars.copy_context(), func, args, future, loop))
        return future

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """Call ``func(*args)`` in a thread and return what it returns.

        Raises:
            BaseException: Whatever ``func`` raised, as it is.
            asyncio.CancelledError: The caller was cancelled; the thread runs
                on, abandoned.
        """
        result, error = await self.submit(func, *args)
        if error is not None:
            try:
                raise error
            finally:
                del error  # The traceback would keep this frame, and the frame the error.
        return result  # type: ignore[no-any-return]

    def hand_back(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[_Outcome], outcome: _Outcome
    ) -> None:
        """Resolve ``future`` on ``loop`` with ``outcome`` (from the worker's thread)."""
        with self._lock:
            outbox = self._outboxes.get(loop)
            if outbox is not None:
                outbox.append((future, outcome))  # A delivery is on its way: ride along.
                return
            self._outboxes[loop] = [(future, outcome)]
        try:
            loop.call_soon_threadsafe(self._deliver, loop)
        except RuntimeError:  # A closed loop has nobody left waiting for an abandoned call.
            with self._lock:
                self._outboxes.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        """Resolve every call finished for ``loop`` so far (on that loop)."""
        with self._lock:
            outbox = self._outboxes.pop(loop, [])
        for future, outcome in outbox:
            if not future.done():
                future.set_result(outcome)

    def idle(self, worker: _Worker) -> None:
        """Take ``worker`` back for another call (from the worker's thread)."""
        with self._lock:
            self._idle.append(worker)

    def retire(self, worker: _Worker) -> bool:
        """Let an idle ``worker`` end; False if it has just been handed a call."""
        with self._lock:
            if worker not in self._idle:
                return False
            self._idle.remove(worker)
            self._threads.discard(worker)
            return True


async def outcome_of(coroutine: Coroutine[Any, Any, Any]) -> tuple[Any, BaseException | None]:
    """Await user code: ``(result, None)``, or ``(None, error)`` for anything it raised.

    The task running it then never ends in an exception (a ``SystemExit``
    reaching asyncio would stop the loop), unless it is cancelled from outside.
    """
    try:
        return await coroutine, None
    except BaseException as error:  # Every way user code ends.
        if cancelled_from_outside(error):
            raise
        return None, error


def close_coroutine(task: asyncio.Task[Any], what: str) -> None:
    """Stop the user coroutine a task awaits, one that ignores cancellation; cancel the task.

    ``close()`` raises ``GeneratorExit`` where the user's coroutine waits, so
    its ``finally`` blocks run (without awaiting). The task's own coroutine
    (ours, which catches whatever user code raises) then meets the closed
    one when the task is cancelled, ends as it ends for any error of user
    code, and so no longer holds the loop's shutdown (``asyncio.run`` waits
    for every task it cancels).

    Args:
        task: The task, running ``outcome_of(...)`` or an invocation.
        what: What the coroutine is, as the log names it.
    """
    awaited = task.get_coro().cr_await  # type: ignore[union-attr]
    if inspect.iscoroutine(awaited):
        try:
            awaited.close()
        except Exception as error:  # It awaited again instead of ending, or its clean-up failed.
            logger.warning("%s did not close cleanly: %s: %s", what, type(error).__name__, error)
    task.cancel()
