"""The worker threads threaded actions run in, and how each result gets back to the loop.

Layer: domain (stdlib, the bridge). A ``WorkerPool`` runs at most
``max_threads`` jobs at once, each in a copy of the context it was submitted
from, starting a thread only when none is free; a job's result comes back
through the manager's ``EventBridge``, behind the events the job sent.

Why not ``anyio.to_thread.run_sync``: per call it passes through the loop
once before starting (a checkpoint), enters a cancel scope and a capacity
limiter, makes a future and writes the loop's self-pipe for every result. Here
a job is a queue entry, and results (with events) that arrive together cost
the loop one wake-up. Measured on the ``Prefer: wait`` noop (benchmarks
README): fewer context switches and instructions per invocation.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

from .bridge import EventBridge

__all__ = ("WorkerPool",)

Job = tuple[contextvars.Context, Callable[[Any], Any], Any, Callable[[Any, Any], None]]
"""``(context, function, argument, done)``."""


class WorkerPool:
    """Runs ``function(argument)`` in worker threads, then ``done(argument, result)`` on the loop.

    ``submit`` and everything on the loop side run on the loop thread. A
    function must not raise: it returns what went wrong (as
    ``ActionManager`` does with an action's exception).

    Args:
        bridge: Carries each result to the loop.
        max_threads: Most jobs running at once, and so most threads started.
        name: The worker threads' name.
    """

    __slots__ = ("_bridge", "_busy", "_generation", "_jobs", "_threads", "max_threads", "name")

    def __init__(
        self, bridge: EventBridge, max_threads: int, name: str = "labthings-async worker"
    ) -> None:
        self._bridge = bridge
        self.max_threads = max_threads
        self.name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # Jobs submitted whose result the loop has not had yet.
        self._busy = 0
        # Counts closes: a result from before the last one no longer counts as busy.
        self._generation = 0

    @property
    def busy(self) -> int:
        """Jobs running, or finished with their result still on its way to the loop."""
        return self._busy

    @property
    def full(self) -> bool:
        """True when ``max_threads`` jobs are running: the next must wait."""
        return self._busy >= self.max_threads

    @property
    def threads(self) -> int:
        """How many worker threads have been started."""
        return len(self._threads)

    def submit(
        self,
        function: Callable[[Any], Any],
        argument: Any,
        done: Callable[[Any, Any], None],
        context: contextvars.Context | None = None,
    ) -> None:
        """Run ``function(argument)`` in a thread; then ``done(argument, result)`` on the loop.

        Args:
            function: What to run; it returns what goes wrong rather than raise.
            argument: Its one argument.
            done: Called on the loop with the argument and the result.
            context: The context to run it in (a copy of the caller's if None).

        Raises:
            RuntimeError: ``max_threads`` jobs are running already.
        """
        if self._busy >= self.max_threads:
            raise RuntimeError(f"all {self.max_threads} worker threads are busy")
        self._busy += 1
        # A thread that has handed back its result is on its way to take the
        # next job: start another only when every one has a job.
        if self._busy > len(self._threads):
            thread = threading.Thread(
                target=self._work, args=(self._jobs, self._generation), name=self.name, daemon=True
            )
            self._threads.append(thread)
            thread.start()
        if context is None:
            context = contextvars.copy_context()
        self._jobs.put((context, function, argument, done))

    def _work(self, jobs: queue.SimpleQueue[Job | None], generation: int) -> None:
        """A worker thread: take a job, run it, hand its result to the loop; until told to stop."""
        take = jobs.get
        call = self._bridge.call
        finished = self._finished
        while (job := take()) is not None:
            context, function, argument, done = job
            result = context.run(function, argument)
            call(finished, (generation, done, argument, result))
            # Nothing of the job may stay alive in an idle thread.
            del job, context, function, argument, done, result

    def _finished(self, outcome: tuple[int, Callable[[Any, Any], None], Any, Any]) -> None:
        generation, done, argument, result = outcome
        if generation == self._generation:
            self._busy -= 1
        done(argument, result)

    def close(self) -> None:
        """Let every thread end once it is idle; a busy one ends after its job (loop thread).

        The pool may be used again: later jobs go to new threads, on a queue
        of their own, so none waits behind a thread that was abandoned busy.
        """
        for _ in self._threads:
            self._jobs.put(None)
        self._jobs = queue.SimpleQueue()
        self._threads = []
        self._busy = 0
        self._generation += 1
