"""The daemon worker threads that run blocking user code (labthings_async.workers)."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import threading

import pytest

from labthings_async.workers import WorkerThreads, cancelled_from_outside

TIMEOUT = 10.0

request_name: contextvars.ContextVar[str] = contextvars.ContextVar("request_name", default="")


class Stop(BaseException):
    """A BaseException of user code's own."""


async def test_a_call_returns_its_result_from_a_daemon_thread() -> None:
    threads = WorkerThreads("test worker")

    def where() -> tuple[str, bool]:
        current = threading.current_thread()
        return current.name, current.daemon

    assert await threads.run(where) == ("test worker", True)


@pytest.mark.parametrize(
    "error", [ValueError("bad"), SystemExit(3), KeyboardInterrupt(), GeneratorExit(), Stop()]
)
async def test_whatever_a_call_raises_comes_back_as_it_is(error: BaseException) -> None:
    threads = WorkerThreads()

    def fail() -> None:
        raise error

    with pytest.raises(type(error)) as raised:
        await threads.run(fail)
    assert raised.value is error
    assert await threads.run(lambda: "still serving") == "still serving"


async def test_threads_are_reused_one_call_after_another() -> None:
    threads = WorkerThreads()
    names = {await threads.run(threading.get_ident) for _ in range(20)}
    assert len(names) == 1


async def test_a_call_runs_in_a_copy_of_the_callers_context() -> None:
    threads = WorkerThreads()
    request_name.set("mine")

    def read_and_change() -> str:
        seen = request_name.get()
        request_name.set("changed in the thread")
        return seen

    assert await threads.run(read_and_change) == "mine"
    assert request_name.get() == "mine"


async def test_a_cancelled_caller_abandons_the_call_and_the_thread_runs_on() -> None:
    threads = WorkerThreads()
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def blocked() -> str:
        started.set()
        release.wait(TIMEOUT)
        finished.set()
        return "late"

    waiting = asyncio.create_task(threads.run(blocked))
    assert await asyncio.to_thread(started.wait, TIMEOUT)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert threads.busy == 1  # Abandoned, still running.
    # Meanwhile another call gets a thread of its own.
    assert await threads.run(lambda: "meanwhile") == "meanwhile"
    release.set()
    assert await asyncio.to_thread(finished.wait, TIMEOUT)
    async with asyncio.timeout(TIMEOUT):
        # The thread takes itself back just after the call returns: a count, nothing to wait on.
        while threads.busy:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_idle_threads_end_after_their_idle_timeout() -> None:
    threads = WorkerThreads(idle_timeout=0.05)
    ident = await threads.run(threading.get_ident)
    [worker] = [thread for thread in threading.enumerate() if thread.ident == ident]
    await asyncio.to_thread(worker.join, TIMEOUT)
    assert not worker.is_alive()
    assert await threads.run(lambda: "a new thread") == "a new thread"


async def test_many_calls_at_once_each_get_a_thread() -> None:
    threads = WorkerThreads()
    barrier = threading.Barrier(8, timeout=TIMEOUT)
    results = await asyncio.gather(*(threads.run(barrier.wait) for _ in range(8)))
    assert sorted(results) == list(range(8))


async def test_cancelled_from_outside_tells_a_cancellation_from_user_codes_own() -> None:
    own = asyncio.CancelledError()
    assert not cancelled_from_outside(own)
    assert not cancelled_from_outside(ValueError())

    async def cancelled() -> bool:
        try:
            await asyncio.sleep(TIMEOUT)
        except asyncio.CancelledError as error:
            return cancelled_from_outside(error)
        return False

    task = asyncio.create_task(cancelled())
    await asyncio.sleep(0)
    task.cancel()
    assert await task


def test_a_blocked_thread_does_not_hold_the_process_at_exit() -> None:
    # anyio's worker threads are joined at exit: this script would sleep an hour.
    script = textwrap.dedent(
        """
        import asyncio, threading, time
        from labthings_async.workers import WorkerThreads

        async def main():
            threads = WorkerThreads()
            started = threading.Event()
            def block():
                started.set()
                time.sleep(3600)
            task = asyncio.create_task(threads.run(block))
            await asyncio.to_thread(started.wait, 10)
            task.cancel()
            print("abandoned", flush=True)

        asyncio.run(main())
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "abandoned\n"
