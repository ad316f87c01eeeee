"""A helper thread an action starts: LabThings-FastAPI's ``ThreadWithInvocationID``.

Layer: domain (stdlib, the context helpers). A plain ``threading.Thread``
started inside an action knows nothing of its invocation: its log records
would be lost and ``lt.cancellable_sleep`` would never be cancelled. This
thread carries the invocation's context:

- its log records land in the log of the invocation that created it (in
  LabThings-FastAPI they are dropped: a deliberate improvement);
- it has a cancel request of its own, as in LabThings-FastAPI: ``cancel()``
  makes the helpers in the thread raise ``InvocationCancelledError``, and
  ``join_and_propagate_cancel()`` passes a cancel of the invocation on to it;
- its progress reports are kept out of the invocation's bar, as a nested
  action's are (logged at DEBUG level).

Created outside any action, it runs with a context of its own only.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .context import (
    CancelHook,
    InvocationContext,
    bind_invocation,
    current_invocation,
    raise_if_cancelled,
    unbind_invocation,
)
from .errors import InvocationCancelledError, NoInvocationContextError
from .models import LogEntry, Progress

__all__ = ("HelperContext", "ThreadWithInvocationID")

_HELPERS_LOGGER = "labthings_async.things.helpers"


class HelperContext:
    """The context a helper thread runs in: its own ID and cancel request, its parent's log.

    Args:
        parent: The invocation whose action created the thread, if any.
    """

    def __init__(self, parent: InvocationContext | None) -> None:
        self.parent = parent
        self._id = uuid.uuid4()
        self._cancel_hook = CancelHook()

    @property
    def id(self) -> uuid.UUID:
        """The thread's own invocation ID."""
        return self._id

    @property
    def action_name(self) -> str:
        """The action that started the thread ("" outside any)."""
        return self.parent.action_name if self.parent is not None else ""

    @property
    def cancel_hook(self) -> CancelHook:
        """The thread's own cancel request."""
        return self._cancel_hook

    @property
    def logger(self) -> logging.Logger:
        """The parent invocation's logger (a helpers' logger outside any)."""
        if self.parent is not None:
            return self.parent.logger
        return logging.getLogger(_HELPERS_LOGGER)

    @property
    def progress(self) -> Progress | None:
        """The parent invocation's progress."""
        return self.parent.progress if self.parent is not None else None

    @property
    def log(self) -> Any:
        """The parent invocation's log."""
        return self.parent.log if self.parent is not None else ()

    def on_loop_thread(self) -> bool:
        """Never: it is a thread of its own."""
        return False

    def set_progress(self, percent: float | None, message: str | None = None) -> None:
        """Kept out of the parent's progress bar, as a nested action's reports are."""
        self.logger.debug("progress of a helper thread: %s%% %s", percent, message or "")

    def add_log(self, entry: LogEntry) -> None:
        """Add a record to the parent invocation's log."""
        if self.parent is not None:
            self.parent.add_log(entry)

    def find_thing(self, cls: type[Any], name: str | None) -> Any:
        """Another Thing of the parent's manager.

        Raises:
            NoInvocationContextError: The thread was not started by an action.
        """
        if self.parent is None:
            raise NoInvocationContextError(
                "a helper thread started outside any action cannot ask for another Thing"
            )
        return self.parent.find_thing(cls, name)


class ThreadWithInvocationID(threading.Thread):
    """A thread that runs ``target`` in its invocation's context (LabThings-FastAPI's class).

    Use it as ``threading.Thread``, giving the code to run as ``target``; do
    not override ``run``.

    Args:
        target: The function to run in the thread.
        args: Its positional arguments.
        kwargs: Its keyword arguments.
        *thread_args: Passed on to ``threading.Thread``.
        **thread_kwargs: Passed on to ``threading.Thread``.

    Attributes:
        result: What ``target`` returned, once it has.
        exception: What ``target`` raised, if it did (a cancellation included).
    """

    def __init__(
        self,
        target: Callable[..., Any],
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *thread_args: Any,
        **thread_kwargs: Any,
    ) -> None:
        super().__init__(*thread_args, **thread_kwargs)
        self._work: tuple[Callable[..., Any], Sequence[Any], Mapping[str, Any]] | None = (
            target,
            args or (),
            kwargs or {},
        )
        self._context = HelperContext(current_invocation())
        self.result: Any = None
        self.exception: BaseException | None = None

    @property
    def invocation_id(self) -> uuid.UUID:
        """The thread's own invocation ID."""
        return self._context.id

    def cancel(self) -> None:
        """Ask the code in the thread to stop: its next cancellation helper raises."""
        self._context.cancel_hook.set()

    def join_and_propagate_cancel(self, poll_interval: float = 0.2) -> None:
        """Wait for the thread; if the calling invocation is cancelled meanwhile, cancel it too.

        Raises:
            InvocationCancelledError: The calling invocation was cancelled
                while waiting (raised once, after the thread has ended).
        """
        cancellation: InvocationCancelledError | None = None
        while self.is_alive():
            try:
                raise_if_cancelled()
            except InvocationCancelledError as error:
                cancellation = error
                self.cancel()
            self.join(poll_interval)
        if cancellation is not None:
            raise InvocationCancelledError("the invocation was cancelled") from cancellation

    def run(self) -> None:
        """Run the target with the invocation's context bound, keeping its result or exception."""
        work = self._work
        self._work = None  # No cycle through a target that refers to the thread.
        if work is None:
            return
        target, args, kwargs = work
        binding = bind_invocation(self._context)
        try:
            self.result = target(*args, **kwargs)
        except BaseException as error:  # Kept for whoever joins, as LabThings does.
            self.exception = error
        finally:
            unbind_invocation(binding)
