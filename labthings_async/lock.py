"""Locks that make a Thing's actions and property writes, or the whole server's, one at a time.

Layer: domain (stdlib, asyncio, the errors and the invocation context). Two
locks exist: the server-wide lock of LabThings-FastAPI (``enable_global_lock``)
and a Thing's own (``thing_lock = True`` on its class). Each is held on behalf
of an *owner*: the invocation running an action, a client's property write,
or, outside both, the calling thread. Held by an invocation, a lock is
re-entrant for it, so an action may call other actions that need the same
lock inline (the nested-action rule: same thread, same invocation).

Trying never waits: it takes the lock or raises ``LockBusyError`` naming who
holds it. Only a pending invocation waits, on the event loop, first come
first served; cancelling it takes it out of the queue. An action called
from inside another never waits for a lock held by someone else, since two
actions each holding one lock and waiting for the other's would wait for
ever: it raises ``LockBusyError`` instead, which the caller may catch.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from .context import current_invocation
from .errors import LockBusyError

__all__ = (
    "InvocationLock",
    "LockUser",
    "ThingLocks",
    "bind_lock_owner",
    "holding",
    "lock_owner",
    "unbind_lock_owner",
)


class LockUser(Protocol):
    """An action or property: whether it takes each lock (LabThings' ``use_global_lock``)."""

    @property
    def use_global_lock(self) -> bool | None:
        """False: never takes the server-wide lock; None or True: takes it when it is on."""

    @property
    def use_thing_lock(self) -> bool | None:
        """False: never takes its Thing's lock; None or True: takes it when the Thing has one."""


class _Waiter:
    """A pending invocation in a lock's queue."""

    __slots__ = ("future", "handed", "loop", "owner")

    def __init__(self, owner: object, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.handed = False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _describe(owner: object) -> str:
    """Who holds a lock, as a message names it."""
    if isinstance(owner, threading.Thread):
        return f"thread {owner.name!r} (code outside any invocation)"
    path = getattr(owner, "action_path", None)
    if path is not None:  # An invocation.
        return f"invocation {getattr(owner, 'id_text', '?')} of {path}"
    return str(owner)


class InvocationLock:
    """A re-entrant lock held on behalf of an owner, usable from threads and the event loop.

    Args:
        name: What the lock is, for messages: ``the global lock``.

    Attributes:
        name: What the lock is, for messages.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._mutex = threading.Lock()
        self._owner: object | None = None
        self._depth = 0
        self._waiters: deque[_Waiter] = deque()

    def __repr__(self) -> str:
        holder = "free" if self._owner is None else f"held by {_describe(self._owner)}"
        return f"<InvocationLock {self.name}: {holder}, {len(self._waiters)} waiting>"

    @property
    def owner(self) -> object | None:
        """Who holds it now (None: nobody)."""
        return self._owner

    @property
    def waiting(self) -> int:
        """How many pending invocations wait for it."""
        return len(self._waiters)

    def acquire_nowait(self, owner: object, purpose: str) -> None:
        """Take the lock for ``owner`` (again, if it holds it already), or raise at once.

        Args:
            owner: Who takes it.
            purpose: What needs it, for the message: ``action 'move' of Thing 'stage'``.

        Raises:
            LockBusyError: Someone else holds it.
        """
        with self._mutex:
            if self._owner is None:
                self._owner = owner
                self._depth = 1
                return
            if self._owner is owner:
                self._depth += 1
                return
            holder = self._owner
        raise LockBusyError(
            f"{purpose} needs {self.name}, which {_describe(holder)} holds; "
            "try again once it is released"
        )

    async def acquire(self, owner: object) -> None:
        """Take the lock for ``owner``, waiting in turn while someone else holds it (loop only).

        Cancelled while waiting, the owner leaves the queue; if the lock was
        handed to it at that moment, it passes it on.
        """
        with self._mutex:
            if self._owner is None or self._owner is owner:
                self._owner = owner
                self._depth += 1
                return
            waiter = _Waiter(owner, asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:
            with self._mutex:
                handed = waiter.handed
                if not handed:
                    self._waiters.remove(waiter)
            if handed:
                self.release_all(owner)
            raise

    def release(self, owner: object) -> None:
        """Give up one hold of ``owner``'s; the last one frees the lock or hands it on.

        Releasing a lock ``owner`` no longer holds does nothing: the manager
        frees an invocation's locks when it ends, even if an abandoned thread
        of it still runs a nested action that will release later.
        """
        with self._mutex:
            if self._owner is not owner:
                return
            self._depth -= 1
            if self._depth:
                return
            waiter = self._hand_on()
        if waiter is not None:
            self._wake(waiter)

    def release_all(self, owner: object) -> None:
        """Give up every hold of ``owner``'s at once (it has finished)."""
        with self._mutex:
            if self._owner is not owner:
                return
            self._depth = 0
            waiter = self._hand_on()
        if waiter is not None:
            self._wake(waiter)

    def _hand_on(self) -> _Waiter | None:
        """Free the lock, or give it to the first waiter (mutex held)."""
        if not self._waiters:
            self._owner = None
            return None
        waiter = self._waiters.popleft()
        waiter.handed = True
        self._owner = waiter.owner
        self._depth = 1
        return waiter

    @staticmethod
    def _wake(waiter: _Waiter) -> None:
        # A closed loop raises RuntimeError: the server stopped, and the waiter with it.
        with contextlib.suppress(RuntimeError):
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future)


@dataclass(frozen=True)
class ThingLocks:
    """The locks that guard one Thing: the server-wide lock and its own, each if there is one.

    Attributes:
        global_lock: The server-wide lock, when ``enable_global_lock`` is on.
        thing_lock: The Thing's own lock, when its class sets ``thing_lock = True``.
    """

    global_lock: InvocationLock | None = None
    thing_lock: InvocationLock | None = None

    def needed_by(self, user: LockUser) -> tuple[InvocationLock, ...]:
        """The locks ``user`` takes, the server-wide one first (a fixed order)."""
        needed: tuple[InvocationLock, ...] = ()
        if self.global_lock is not None and user.use_global_lock is not False:
            needed += (self.global_lock,)
        if self.thing_lock is not None and user.use_thing_lock is not False:
            needed += (self.thing_lock,)
        return needed


_owner: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "labthings_async_lock_owner", default=None
)


def lock_owner() -> object:
    """On whose behalf the calling code takes locks.

    A client's property write (bound with ``bind_lock_owner``), else the
    current invocation, else the calling thread.
    """
    owner = _owner.get()
    if owner is not None:
        return owner
    invocation = current_invocation()
    if invocation is not None:
        return invocation
    return threading.current_thread()


def bind_lock_owner(owner: object) -> contextvars.Token[object | None]:
    """Take locks on behalf of ``owner`` in this context; returns the token to reset."""
    return _owner.set(owner)


def unbind_lock_owner(token: contextvars.Token[object | None]) -> None:
    """Undo ``bind_lock_owner``."""
    _owner.reset(token)


@contextmanager
def holding(locks: Sequence[InvocationLock], owner: object, purpose: str) -> Iterator[None]:
    """Hold ``locks`` for ``owner`` while the block runs; raise at once if one is busy.

    Raises:
        LockBusyError: One of them is held by someone else; none is kept.
    """
    taken: list[InvocationLock] = []
    try:
        for lock in locks:
            lock.acquire_nowait(owner, purpose)
            taken.append(lock)
        yield
    finally:
        for lock in reversed(taken):
            lock.release(owner)
