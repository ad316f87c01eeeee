"""Holding a Ctrl-C back while the request that starts an invocation is in flight.

Layer: client (stdlib only). Until the server's reply names the invocation,
and a handle is ready to cancel it, the client cannot cancel it; a
``KeyboardInterrupt`` raised in that window would leave the action running on
the server with no one knowing its ID. So the first Ctrl-C is held until then
(at most the client's timeout plus ``invoke_wait``) and raised by
``release()``, where the caller is ready for it; a second one is not held.
Only the main thread receives signals, and only Python's default SIGINT
handler is replaced (a program's own is left alone).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ("HeldInterrupt",)


class HeldInterrupt:
    """A context in which the first SIGINT is recorded instead of raised.

    Attributes:
        interrupted: True if a SIGINT arrived (and was held) inside the context.
    """

    def __init__(self) -> None:
        self.interrupted = False
        self._holding = True
        self._previous: Any = None

    def __enter__(self) -> HeldInterrupt:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def release(self) -> None:
        """Stop holding: raise the SIGINT held so far, if any, and any later one at once.

        Raises:
            KeyboardInterrupt: A SIGINT was held.
        """
        self._holding = False
        if self.interrupted:
            raise KeyboardInterrupt

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted or not self._holding:
            raise KeyboardInterrupt  # A second Ctrl-C: the user means it.
        self.interrupted = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
