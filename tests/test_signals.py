"""Hearing SIGINT and SIGTERM beside a host's own handlers."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from labthings_async.signals import SHUTDOWN_SIGNALS, shutdown_signals


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    before = {signum: signal.getsignal(signum) for signum in SHUTDOWN_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("signum", SHUTDOWN_SIGNALS, ids=lambda signum: signum.name)
async def test_a_hosts_signal_reaches_the_callback_and_then_the_host(
    signum: signal.Signals, restored_handlers: None
) -> None:
    heard: list[str] = []
    host_heard = asyncio.Event()

    def host(received: int, frame: FrameType | None) -> None:
        heard.append(f"host {signal.Signals(received).name}")
        host_heard.set()

    signal.signal(signum, host)
    called = asyncio.Event()
    with shutdown_signals(called.set):
        signal.raise_signal(signum)
        async with asyncio.timeout(5):
            await called.wait()
            await host_heard.wait()
    assert heard == [f"host {signum.name}"]
    assert signal.getsignal(signum) is host  # The host's handler is back.


async def test_a_signal_nobody_handles_in_python_is_left_alone(restored_handlers: None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with shutdown_signals(lambda: None):
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


async def test_a_handler_someone_else_put_in_meanwhile_is_kept(restored_handlers: None) -> None:
    def host(received: int, frame: FrameType | None) -> None:
        pass

    def later(received: int, frame: FrameType | None) -> None:
        pass

    signal.signal(signal.SIGINT, host)
    with shutdown_signals(lambda: None):
        signal.signal(signal.SIGINT, later)
    assert signal.getsignal(signal.SIGINT) is later


async def test_off_the_main_thread_nothing_is_chained(restored_handlers: None) -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    async def inside() -> None:
        with shutdown_signals(lambda: None):
            seen.append(signal.getsignal(signal.SIGINT))

    await asyncio.to_thread(asyncio.run, inside())
    assert seen == [before]
    assert threading.current_thread() is threading.main_thread()
