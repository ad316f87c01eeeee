"""Tests for lt.thing_slot: Things wired to other Things, filled at start-up, before setup."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

import labthings_async as lt


class Camera(lt.Thing):
    @lt.action
    def snap(self) -> str:
        return f"frame from {self.name}"


class Stage(lt.Thing):
    position: int = lt.property(default=0)

    def __init__(self) -> None:
        self.calls: list[tuple[int, Any]] = []

    @lt.action
    def move(self, to: int) -> int:
        self.calls.append((threading.get_ident(), lt.current_invocation()))
        self.position = to
        return to


class Scanner(lt.Thing):
    """Uses a stage and a camera through slots: in setup, a property and an action."""

    stage: Stage = lt.thing_slot()
    camera: Camera = lt.thing_slot("left")
    light: Light | None = lt.thing_slot()
    cameras: Mapping[str, Camera] = lt.thing_slot()

    def __init__(self) -> None:
        self.seen_in_setup: str | None = None

    def setup(self) -> None:
        self.seen_in_setup = f"{self.stage.name} and {self.camera.name}"

    @lt.property
    def where(self) -> int:
        return self.stage.position

    @lt.action
    def scan(self, points: int) -> list[str]:
        frames = []
        for point in range(points):
            self.stage.move(point)
            frames.append(self.camera.snap())
        return frames


class Light(lt.Thing):
    """Defined after Scanner, whose slot names it: read when the server fills the slot."""


def rig(**extra: lt.Thing) -> dict[str, lt.Thing]:
    return {
        "stage": Stage(),
        "left": Camera(),
        "right": Camera(),
        "scanner": Scanner(),
        **extra,
    }


async def test_slots_are_filled_by_type_by_name_optional_and_many() -> None:
    things = rig()
    scanner = things["scanner"]
    assert isinstance(scanner, Scanner)
    async with lt.ActionManager(things):
        assert scanner.stage is things["stage"]
        assert scanner.camera is things["left"]
        assert scanner.light is None
        assert dict(scanner.cameras) == {"left": things["left"], "right": things["right"]}
        assert scanner.seen_in_setup == "stage and left"
        things["stage"].position = 4
        assert scanner.where == 4


async def test_an_optional_slot_takes_the_thing_when_there_is_one() -> None:
    light = Light()
    things = rig(lamp=light)
    async with lt.ActionManager(things):
        assert things["scanner"].light is light  # type: ignore[attr-defined]


async def test_an_action_calls_another_things_action_inline_through_a_slot() -> None:
    things = rig()
    stage = things["stage"]
    assert isinstance(stage, Stage)
    # One thread: a nested call that took a pool slot of its own would wait for ever.
    async with lt.ActionManager(things, max_threads=1) as manager:
        invocation = manager.invoke_action("scanner", "scan", {"points": 3})
        await invocation.wait()
        assert invocation.result() == ["frame from left"] * 3
        assert len(manager) == 1  # The moves made no invocations of their own.
    threads = {thread for thread, _ in stage.calls}
    invocations = {id(current) for _, current in stage.calls}
    assert len(threads) == 1 and threads != {threading.get_ident()}
    assert invocations == {id(invocation)}


class Left(lt.Thing):
    other: Right = lt.thing_slot()


class Right(lt.Thing):
    other: Left = lt.thing_slot()


async def test_slots_may_point_both_ways() -> None:
    left, right = Left(), Right()
    async with lt.ActionManager({"l": left, "r": right}):
        assert (left.other, right.other) == (right, left)


async def test_the_config_overrides_a_slots_default() -> None:
    things = rig()
    overrides = {"scanner": {"camera": "right", "cameras": ["right"], "light": None}}
    async with lt.ActionManager(things, thing_slots=overrides):
        scanner = things["scanner"]
        assert isinstance(scanner, Scanner)
        assert scanner.camera is things["right"]
        assert dict(scanner.cameras) == {"right": things["right"]}


@pytest.mark.parametrize(
    ("things", "overrides", "message"),
    [
        (
            {"scanner": Scanner(), "left": Camera()},
            {},
            "Thing 'scanner': slot 'stage' (Stage) needs a Thing and none was found; no Thing "
            "here fits; the Things are 'scanner' (Scanner), 'left' (Camera)",
        ),
        (
            {"scanner": Scanner(), "a": Stage(), "b": Stage(), "left": Camera()},
            {},
            "Thing 'scanner': slot 'stage' (Stage) holds one Thing, and 2 fit: 'a', 'b'; name "
            "the one to use in the config's thing_slots, or as lt.thing_slot('a')",
        ),
        (
            {"scanner": Scanner(), "stage": Stage(), "cam": Camera()},
            {},
            "Thing 'scanner': slot 'camera' (Camera): its default names 'left', which is not a "
            "Thing here; Things that fit: 'cam'",
        ),
        (
            {"scanner": Scanner(), "stage": Stage(), "left": Camera()},
            {"scanner": {"camera": "stage"}},
            "Thing 'scanner': slot 'camera' (Camera): the config's thing_slots names 'stage', a "
            "Stage, which does not fit; Things that fit: 'left'",
        ),
        (
            {"scanner": Scanner(), "stage": Stage(), "left": Camera()},
            {"scanner": {"stage": None}},
            "Thing 'scanner': slot 'stage' (Stage) is None in the config's thing_slots, but it "
            "needs a Thing: name one in the config's thing_slots; Things that fit: 'stage'",
        ),
        (
            {"scanner": Scanner(), "stage": Stage(), "left": Camera()},
            {"scaner": {"stage": "stage"}},
            "thing_slots names Thing 'scaner', which is not here; the Things are "
            "['left', 'scanner', 'stage']",
        ),
        (
            {"scanner": Scanner(), "stage": Stage(), "left": Camera()},
            {"scanner": {"stages": "stage"}},
            "thing_slots names slot(s) ['stages'] of Thing 'scanner', which has none such; its "
            "slots are ['camera', 'cameras', 'light', 'stage']",
        ),
        (
            {"scanner": Scanner(), "stage": Stage(), "left": Camera()},
            {"scanner": {"stage": 7}},
            "thing_slots gives slot 'stage' of Thing 'scanner' 7; give a Thing's name, a list "
            "of names, or null",
        ),
    ],
)
async def test_a_slot_that_cannot_be_filled_stops_the_start_naming_everything(
    things: dict[str, lt.Thing], overrides: dict[str, dict[str, Any]], message: str
) -> None:
    set_up: list[str] = []

    class Watcher(lt.Thing):
        def setup(self) -> None:
            set_up.append("watcher")

    manager = lt.ActionManager({**things, "watcher": Watcher()}, thing_slots=overrides)
    with pytest.raises(lt.ThingSlotError) as refused:
        async with manager:
            pass
    assert str(refused.value) == message.replace(
        "the Things are 'scanner' (Scanner), 'left' (Camera)",
        "the Things are 'scanner' (Scanner), 'left' (Camera), 'watcher' (Watcher)",
    ).replace("['left', 'scanner', 'stage']", "['left', 'scanner', 'stage', 'watcher']")
    assert isinstance(refused.value, lt.ThingSetupError)  # `serve` prints it as one line.
    assert set_up == []  # Nothing is set up before every slot is filled.


def test_a_slot_read_before_the_server_fills_it_says_when_it_will_be() -> None:
    scanner = Scanner()
    with pytest.raises(lt.ThingNotConnectedError, match=r"^slot 'stage' of <Scanner 'scanner'"):
        scanner.stage  # noqa: B018
    # A test may put a stand-in there itself.
    stand_in = Stage()
    scanner.stage = stand_in
    assert scanner.stage is stand_in


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("int", r"its annotation <class 'int'> is not a Thing class"),
        ("Mapping[int, Camera]", r"a mapping slot is keyed by Thing names"),
        ("Mapping[str, Camera] | None", r"its annotation .* is not a Thing class"),
    ],
)
def test_a_slot_of_something_other_than_things_fails_at_class_definition(
    annotation: str, message: str
) -> None:
    with pytest.raises(lt.ActionDefinitionError, match=rf"slot Bad.other: {message}"):
        type(
            "Bad",
            (lt.Thing,),
            {
                "__annotations__": {"other": annotation},
                "__module__": __name__,
                "other": lt.thing_slot(),
            },
        )


def test_a_slot_needs_an_annotation_and_a_name_of_its_own() -> None:
    with pytest.raises(lt.ActionDefinitionError, match=r"slot Bad.other has no type annotation"):
        type("Bad", (lt.Thing,), {"other": lt.thing_slot()})
    with pytest.raises(lt.ActionDefinitionError, match=r"slot 'logger' would hide Thing.logger"):
        type(
            "Bad",
            (lt.Thing,),
            {"__annotations__": {"logger": Camera}, "logger": lt.thing_slot()},
        )
