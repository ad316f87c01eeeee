"""The progress of nested actions: kept out of the caller's bar, or scaled into a span of it.

An action calling another action runs it inline, in the same invocation. The
caller's progress bar must only move forward: a nested action's own 0-100%
is kept out of it (logged at DEBUG level), unless the caller gives it a share
of the bar with ``lt.progress_span(start, end)``.
"""

import itertools
import logging

import anyio
import pytest
from things import TIMEOUT

import labthings_async as lt
from labthings_async.context import current_invocation


def bar() -> float | None:
    """What the current invocation's progress bar shows now (None: no bar, or no invocation)."""
    invocation = current_invocation()
    progress = None if invocation is None else invocation.progress
    return None if progress is None else progress.percent


class Stage(lt.Thing):
    """Moves in ten steps, noting what the invocation's bar showed after each report."""

    def __init__(self) -> None:
        self.seen: list[float | None] = []

    @lt.action
    def move_to(self, x: int) -> int:
        for step in range(1, 11):
            lt.report_progress(10 * step, f"step {step} of 10")
            self.seen.append(bar())
        return x

    @lt.action
    def move_and_settle(self, x: int, share_with_settle: bool) -> int:
        with lt.progress_span(0, 50):
            self.move_to(x)
        if share_with_settle:
            with lt.progress_span(50, 100):
                self.settle()
        else:
            self.settle()
            lt.report_progress(100, "settled")
            self.seen.append(bar())
        return x

    @lt.action
    def settle(self) -> None:
        for step in (50, 100):
            lt.report_progress(step, "settling")
            self.seen.append(bar())

    @lt.action
    async def move_async(self) -> None:
        for step in (50, 100):
            lt.report_progress(step)
            self.seen.append(bar())


class Scanner(lt.Thing):
    """Scans four points with a stage of the same server."""

    @lt.action
    def scan(self, stage: Stage, share: bool) -> int:
        for point in range(4):
            if share:
                with lt.progress_span(25 * point, 25 * (point + 1)):
                    stage.move_to(point)
            else:
                stage.move_to(point)
                lt.report_progress(25 * (point + 1), f"point {point + 1} of 4")
                stage.seen.append(bar())
        return 4

    @lt.action
    def own_steps_in_a_span(self) -> list[float | None]:
        seen = []
        with lt.progress_span(40, 60):
            for percent in (0, 50, 100):
                lt.report_progress(percent)
                seen.append(bar())
        return seen

    @lt.action
    async def scan_async(self, stage: Stage) -> None:
        await stage.move_async()
        with lt.progress_span(50, 100):
            await stage.move_async()


async def run(things: dict[str, lt.Thing], thing: str, action: str, **input: object) -> object:
    async with lt.ActionManager(things) as manager:
        invocation = manager.invoke_action(thing, action, input)
        with anyio.fail_after(TIMEOUT):
            await invocation.wait()
    assert invocation.status is lt.InvocationStatus.COMPLETED, invocation.error
    return invocation.result()


def non_decreasing(values: list[float | None]) -> bool:
    numbers = [value or 0.0 for value in values]
    return all(earlier <= later for earlier, later in itertools.pairwise(numbers))


async def test_an_action_invoked_directly_reports_its_own_progress() -> None:
    stage = Stage()
    await run({"stage": stage}, "stage", "move_to", x=1)
    assert stage.seen == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


async def test_a_nested_action_keeps_its_progress_out_of_the_callers_bar(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stage = Stage()
    caplog.set_level(logging.DEBUG, logger="labthings_async.things")
    await run({"stage": stage, "scanner": Scanner()}, "scanner", "scan", share=False)
    # Each move leaves the bar where the scan put it; the scan moves it on.
    expected: list[float | None] = []
    for point in range(4):
        expected += [25 * point or None] * 10 + [25 * (point + 1)]
    assert stage.seen == expected
    assert non_decreasing(stage.seen)
    details = [record.getMessage() for record in caplog.records if record.levelno == logging.DEBUG]
    assert "progress of a nested action: 50% step 5 of 10" in details


async def test_a_progress_span_scales_a_nested_action_into_the_callers_bar() -> None:
    stage = Stage()
    await run({"stage": stage, "scanner": Scanner()}, "scanner", "scan", share=True)
    expected = [25 * point + 2.5 * step for point in range(4) for step in range(1, 11)]
    assert stage.seen == pytest.approx(expected)
    assert non_decreasing(stage.seen)


async def test_an_action_nested_twice_is_kept_out_unless_given_a_share_of_a_share() -> None:
    stage = Stage()
    await run({"stage": stage}, "stage", "move_and_settle", x=3, share_with_settle=False)
    moves = [5.0 * step for step in range(1, 11)]
    # settle, called without a span, leaves the bar at 50 until the caller says 100.
    assert stage.seen == pytest.approx([*moves, 50, 50, 100])

    stage = Stage()
    await run({"stage": stage}, "stage", "move_and_settle", x=3, share_with_settle=True)
    assert stage.seen == pytest.approx([*moves, 75, 100])


async def test_a_span_inside_a_nested_action_is_a_share_of_its_own_share() -> None:
    class Outer(lt.Thing):
        @lt.action
        def run(self, stage: Stage) -> None:
            with lt.progress_span(0, 50):
                stage.move_and_settle(x=1, share_with_settle=True)

    stage = Stage()
    await run({"stage": stage, "outer": Outer()}, "outer", "run")
    # move_and_settle has 0-50 of the bar; its move 0-25, its settle 25-50.
    assert stage.seen == pytest.approx([2.5 * step for step in range(1, 11)] + [37.5, 50])


async def test_an_actions_own_reports_inside_a_span_are_scaled_too() -> None:
    seen = await run({"scanner": Scanner()}, "scanner", "own_steps_in_a_span")
    assert seen == [40, 50, 60]


async def test_nested_async_actions_follow_the_same_rule() -> None:
    stage = Stage()
    await run({"stage": stage, "scanner": Scanner()}, "scanner", "scan_async")
    assert stage.seen == [None, None, 75, 100]


@pytest.mark.parametrize(("start", "end"), [(-1, 50), (50, 40), (0, 101)])
def test_a_span_must_lie_within_0_to_100(start: float, end: float) -> None:
    with pytest.raises(ValueError, match=r"0 <= start <= end <= 100"), lt.progress_span(start, end):
        pass


def test_outside_any_invocation_an_action_is_a_plain_call() -> None:
    stage = Stage()
    assert stage.move_to(5) == 5
    assert stage.seen == [None] * 10
