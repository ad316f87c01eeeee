"""Starting and stopping a Thing: ``__enter__`` then ``setup``; ``teardown`` then ``__exit__``.

Layer: domain (asyncio, the errors, the Thing, the worker threads). A Thing
opens and closes its hardware in either of two styles, or both: ours
(``setup``/``teardown``) and LabThings-FastAPI's context manager
(``__enter__``/``__exit__``, or ``__aenter__``/``__aexit__``). With both, the
context manager is the outer one, as if the server ran ``with thing: thing.setup(); serve();
thing.teardown()``: setup may use what ``__enter__`` opened, and teardown
runs while it is still open.

``__exit__`` receives exception information as a context manager would:
``(None, None, None)`` at a normal shutdown; the exception, when the Thing is
closed because something failed (its own ``setup``, another Thing's start,
or the host that runs the server). Its return value is ignored: there is
nothing for it to suppress. A plain ``def`` hook runs in a daemon worker
thread of the manager, so a slow hardware call does not block the event
loop; an ``async def`` hook runs on the loop, in a task of its own.

However a hook ends, it ends here: anything it raises, any
``BaseException``, is a ``ThingSetupError`` naming the hook and the Thing.
A closing hook still running after the time limit it is given is abandoned
(its thread left to finish, its coroutine closed), and that is logged, so a
stuck teardown cannot hold the shutdown.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .errors import ThingSetupError
from .thing import Thing
from .workers import WorkerThreads, close_coroutine, outcome_of

__all__ = ("ExceptionInfo", "exception_info", "start_thing", "stop_thing")

logger = logging.getLogger("labthings_async.manager")

ExceptionInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
"""What ``__exit__`` receives: ``(type, exception, traceback)``, or three ``None``."""

_NO_EXCEPTION: ExceptionInfo = (None, None, None)


def exception_info(error: BaseException | None) -> ExceptionInfo:
    """The ``__exit__`` arguments for ``error`` (three ``None`` for no error)."""
    if error is None:
        return _NO_EXCEPTION
    return type(error), error, error.__traceback__


async def start_thing(thing: Thing, threads: WorkerThreads) -> None:
    """Open ``thing``: its ``__enter__`` (or ``__aenter__``), then its ``setup``.

    If ``setup`` fails after ``__enter__`` succeeded, ``__exit__`` runs with
    that failure before the error is raised, as a ``with`` block would.

    Raises:
        ThingSetupError: A hook raised; the message names the hook, the Thing
            and the error, which is its ``__cause__``.
    """
    enter = _context_hook(thing, "__aenter__", "__enter__")
    if enter is not None:
        await _run(thing, enter, (), threads)
    try:
        await _run(thing, thing.setup, (), threads)
    except ThingSetupError as error:
        if enter is not None:
            await _close(thing, exception_info(error.__cause__), threads, None)
        raise


async def stop_thing(
    thing: Thing,
    threads: WorkerThreads,
    error: BaseException | None = None,
    *,
    limit: float | None = None,
) -> None:
    """Close ``thing``: its ``teardown``, then its ``__exit__`` (or ``__aexit__``).

    A hook that raises, or is still running after ``limit`` seconds, is
    logged, and the other still runs: a failed teardown must not leave the
    hardware open.

    Args:
        thing: A Thing that ``start_thing`` opened.
        threads: The worker threads plain hooks run in.
        error: Why the Thing is closed, if something failed; ``__exit__`` is
            given it.
        limit: Seconds each hook may take before it is abandoned (None: no limit).
    """
    try:
        await _run(thing, thing.teardown, (), threads, limit)
    except ThingSetupError as failure:
        logger.exception("%s", failure)  # It names the hook, the Thing and what it raised.
    await _close(thing, exception_info(error), threads, limit)


async def _close(
    thing: Thing, info: ExceptionInfo, threads: WorkerThreads, limit: float | None
) -> None:
    exit_hook = _context_hook(thing, "__aexit__", "__exit__")
    if exit_hook is None:
        return
    try:
        await _run(thing, exit_hook, info, threads, limit)
    except ThingSetupError as failure:
        logger.exception("%s", failure)


def _context_hook(thing: Thing, asynchronous: str, synchronous: str) -> Callable[..., Any] | None:
    """The Thing's own context-manager hook: the async one if its class defines it."""
    for name in (asynchronous, synchronous):
        if getattr(type(thing), name, None) is not None:
            hook: Callable[..., Any] = getattr(thing, name)
            return hook
    return None


async def _run(
    thing: Thing,
    hook: Callable[..., Any],
    arguments: tuple[Any, ...],
    threads: WorkerThreads,
    limit: float | None = None,
) -> None:
    """Call one hook, on the loop or in a worker thread, naming it in any failure.

    Raises:
        ThingSetupError: The hook raised (any ``BaseException``); a
            cancellation of the caller passes through as itself.
    """
    what = f"{hook.__name__} of Thing {thing.name!r} ({type(thing).__name__})"
    work: asyncio.Future[tuple[Any, BaseException | None]]
    if inspect.iscoroutinefunction(hook):
        # A task of its own, so one that ignores its cancellation can be left behind.
        work = asyncio.get_running_loop().create_task(outcome_of(hook(*arguments)))
    else:
        work = threads.submit(hook, *arguments)
    try:
        done, _ = await asyncio.wait({work}, timeout=limit)
    except asyncio.CancelledError:
        if isinstance(work, asyncio.Task):
            work.cancel()
        raise
    if not done:
        task = work if isinstance(work, asyncio.Task) else None
        logger.warning(
            "%s was still running after %g s; abandoned it (%s)",
            what,
            limit,
            "its thread may still run" if task is None else "its coroutine is closed",
        )
        if task is not None:
            close_coroutine(task, what)
        return
    _, error = work.result()
    if error is not None:
        raise ThingSetupError(f"{what} failed: {type(error).__name__}: {error}") from error
