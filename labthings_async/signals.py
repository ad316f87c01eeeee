"""Hearing SIGINT and SIGTERM beside the handlers a host server installed.

Layer: domain (stdlib, asyncio). Embedded in a host app, the Things' server
does not own the signals: the host (uvicorn, hypercorn) catches them, stops
taking connections, and then waits for the open ones to end before it runs
the lifespan's shutdown. An event stream never ends on its own, so the host
would wait for as long as a browser tab stays open. ``shutdown_signals``
chains a handler in front of the host's, which tells the Things' server to
close its streams and held requests at once, and then calls the host's
handler as before, so the host shuts down just as it would have.

Only a signal the host handles in Python is chained: one left to the
operating system's default (SIGTERM in a plain script) still ends the
process the way it always did. Signals can only be handled on the main
thread; elsewhere (a test client's thread) nothing is chained.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ("SHUTDOWN_SIGNALS", "shutdown_signals")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any]


@contextmanager
def shutdown_signals(callback: Callable[[], object]) -> Iterator[None]:
    """While inside, call ``callback`` on the running loop at SIGINT or SIGTERM.

    The host's own handler still runs, after ``callback`` is scheduled. On
    leaving, the host's handler is put back, unless someone replaced ours.

    Args:
        callback: Called on the loop's thread, once per signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    chained: dict[signal.Signals, tuple[Handler, Handler]] = {}
    for signum in SHUTDOWN_SIGNALS:
        previous = signal.getsignal(signum)
        if callable(previous):
            handler = _chain(loop, callback, previous)
            signal.signal(signum, handler)
            chained[signum] = (handler, previous)
    try:
        yield
    finally:
        for signum, (handler, previous) in chained.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, previous)


def _chain(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], object], previous: Handler
) -> Handler:
    def handler(signum: int, frame: FrameType | None) -> Any:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)
        return previous(signum, frame)

    return handler
