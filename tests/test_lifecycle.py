"""Opening and closing Things: LabThings-style __enter__ and __exit__, and setup and teardown.

The order is fixed: ``__enter__``, ``setup``, (serving), ``teardown``,
``__exit__``, as if the server ran ``with thing: setup(); ...; teardown()``.
"""

import logging
import threading
from typing import Any

import pytest

import labthings_async as lt


class Recorder(lt.Thing):
    """Records each hook it runs, the thread it ran in, and what ``__exit__`` was given."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.threads: dict[str, int] = {}
        self.exit_arguments: tuple[Any, ...] | None = None

    def _note(self, hook: str) -> None:
        self.journal.append(f"{self.name}.{hook}")
        self.threads[hook] = threading.get_ident()


class ContextManaged(Recorder):
    """A LabThings-FastAPI Thing: hardware opened in __enter__, closed in __exit__."""

    def __enter__(self) -> "ContextManaged":
        self._note("__enter__")
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._note("__exit__")
        self.exit_arguments = (exc_type, exc, traceback)


class BothStyles(ContextManaged):
    """Uses both styles: setup relies on what __enter__ opened."""

    def setup(self) -> None:
        assert self.journal[-1] == f"{self.name}.__enter__"
        self._note("setup")

    def teardown(self) -> None:
        self._note("teardown")


class AsyncContextManaged(Recorder):
    """The asynchronous context-manager protocol."""

    async def __aenter__(self) -> "AsyncContextManaged":
        self._note("__aenter__")
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._note("__aexit__")
        self.exit_arguments = (exc_type, exc, traceback)


class CannotStart(ContextManaged):
    """LabThings' ThingThatCantStart: __enter__ raises."""

    def __enter__(self) -> "CannotStart":
        self._note("__enter__")
        raise RuntimeError("This thing can't start")


class SetupFails(BothStyles):
    """__enter__ succeeds, then setup raises."""

    def setup(self) -> None:
        self._note("setup")
        raise OSError("no such serial port")


class ExitFails(ContextManaged):
    """__exit__ raises; the other Things must still be closed."""

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._note("__exit__")
        raise RuntimeError("the port would not close")


async def test_enter_and_exit_run_in_a_worker_thread_around_serving() -> None:
    journal: list[str] = []
    thing = ContextManaged(journal)
    async with lt.ActionManager({"stage": thing}):
        assert journal == ["stage.__enter__"]
    assert journal == ["stage.__enter__", "stage.__exit__"]
    assert thing.exit_arguments == (None, None, None)
    loop_thread = threading.get_ident()
    assert thing.threads["__enter__"] != loop_thread
    assert thing.threads["__exit__"] != loop_thread


async def test_both_styles_nest_with_the_context_manager_outside() -> None:
    journal: list[str] = []
    async with lt.ActionManager({"stage": BothStyles(journal)}):
        assert journal == ["stage.__enter__", "stage.setup"]
    assert journal == ["stage.__enter__", "stage.setup", "stage.teardown", "stage.__exit__"]


async def test_things_close_in_reverse_order_of_opening() -> None:
    journal: list[str] = []
    things = {"a": BothStyles(journal), "b": ContextManaged(journal)}
    async with lt.ActionManager(things):
        pass
    assert journal == [
        "a.__enter__",
        "a.setup",
        "b.__enter__",
        "b.__exit__",
        "a.teardown",
        "a.__exit__",
    ]


async def test_async_enter_and_exit_run_on_the_loop() -> None:
    journal: list[str] = []
    thing = AsyncContextManaged(journal)
    async with lt.ActionManager({"camera": thing}):
        pass
    assert journal == ["camera.__aenter__", "camera.__aexit__"]
    assert thing.threads["__aenter__"] == threading.get_ident()
    assert thing.exit_arguments == (None, None, None)


async def test_a_failing_enter_stops_the_start_and_closes_what_was_open() -> None:
    journal: list[str] = []
    first = BothStyles(journal)
    with pytest.raises(lt.ThingSetupError) as failed:
        async with lt.ActionManager({"light": first, "broken": CannotStart(journal)}):
            pytest.fail("the manager started although a Thing could not")
    message = str(failed.value)
    assert message == (
        "__enter__ of Thing 'broken' (CannotStart) failed: RuntimeError: This thing can't start"
    )
    # The Thing whose __enter__ failed is not exited; the one already open is,
    # with the failure that stopped the start.
    assert journal == [
        "light.__enter__",
        "light.setup",
        "broken.__enter__",
        "light.teardown",
        "light.__exit__",
    ]
    assert first.exit_arguments is not None
    exc_type, exc, traceback = first.exit_arguments
    assert exc_type is RuntimeError
    assert str(exc) == "This thing can't start"
    assert traceback is not None


async def test_a_failing_setup_exits_its_own_context_with_the_error() -> None:
    journal: list[str] = []
    thing = SetupFails(journal)
    with pytest.raises(lt.ThingSetupError, match=r"setup of Thing 'stage'.*no such serial port"):
        async with lt.ActionManager({"stage": thing}):
            pass
    assert journal == ["stage.__enter__", "stage.setup", "stage.__exit__"]
    assert thing.exit_arguments is not None
    assert thing.exit_arguments[0] is OSError


async def test_an_error_in_the_block_reaches_exit() -> None:
    journal: list[str] = []
    thing = ContextManaged(journal)
    with pytest.raises(KeyError):
        async with lt.ActionManager({"stage": thing}):
            raise KeyError("the host app failed")
    assert thing.exit_arguments is not None
    assert thing.exit_arguments[0] is KeyError


async def test_a_failing_exit_is_logged_and_the_others_still_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []
    async with lt.ActionManager({"a": ContextManaged(journal), "b": ExitFails(journal)}):
        pass
    assert journal == ["a.__enter__", "b.__enter__", "b.__exit__", "a.__exit__"]
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in failures] == [
        "__exit__ of Thing 'b' (ExitFails) failed: RuntimeError: the port would not close"
    ]
    assert "the port would not close" in str(failures[0].exc_info[1])  # type: ignore[index]
