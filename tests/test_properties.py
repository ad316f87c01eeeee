"""Tests for labthings_async.properties: data and functional properties, and their events."""

import threading

import anyio
import pytest
from things import TIMEOUT

import labthings_async as lt
from labthings_async.properties import DataProperty, FunctionalProperty


class Stage(lt.Thing):
    position: int = lt.property(default=0, ge=-100, le=100)
    label: str = lt.property(default="stage", pattern="^[a-z]+$", max_length=8)
    serial: str = lt.property(default="SN-1", readonly=True)
    history: list[int] = lt.property(default_factory=list)
    quiet: int = lt.property(default=0, observable=False)

    def __init__(self) -> None:
        self._speed = 1.0
        self.reads = 0

    @lt.property
    def speed(self) -> float:
        """How fast it moves, in mm/s."""
        self.reads += 1
        return self._speed

    @speed.setter  # type: ignore[no-redef]
    def speed(self, value: float) -> None:
        self._speed = value

    @lt.property
    def temperature(self) -> float:
        return 21.5

    def _get_brightness(self) -> int:
        return getattr(self, "_brightness", 0)

    brightness = lt.property(_get_brightness, observable=True, ge=0)

    @brightness.setter  # type: ignore[no-redef]
    def brightness(self, value: int) -> None:
        self._brightness = value

    @lt.action
    def step(self, by: int = 1) -> int:
        self.position += by
        return self.position


# -- data properties ----------------------------------------------------------------


def test_data_property_starts_at_its_default() -> None:
    stage = Stage()
    assert stage.position == 0
    assert stage.label == "stage"
    assert Stage.get_property("position").read(stage) == 0


def test_default_factory_gives_each_thing_its_own_value() -> None:
    first, second = Stage(), Stage()
    first.history.append(1)
    assert first.history == [1]
    assert second.history == []


def test_data_property_is_listed_with_its_type() -> None:
    descriptor = Stage.properties["position"]
    assert isinstance(descriptor, DataProperty)
    assert descriptor.name == "position"
    assert set(Stage.properties) == {
        "position",
        "label",
        "serial",
        "history",
        "quiet",
        "speed",
        "temperature",
        "brightness",
    }


def test_readonly_blocks_clients_but_not_python() -> None:
    stage = Stage()
    descriptor = Stage.get_property("serial")
    assert descriptor.readonly
    with pytest.raises(lt.ReadOnlyPropertyError, match="'serial' is read-only"):
        descriptor.write(stage, "SN-2")
    assert stage.serial == "SN-1"
    stage.serial = "SN-3"
    assert stage.serial == "SN-3"


def test_client_write_sets_the_value() -> None:
    stage = Stage()
    descriptor = Stage.get_property("position")
    descriptor.write(stage, descriptor.decode(b"42"))
    assert stage.position == 42


def test_constraints_are_validated_by_decode_and_convert() -> None:
    position = Stage.get_property("position")
    assert position.decode(b"100") == 100
    assert position.convert(-100) == -100
    with pytest.raises(lt.InvalidInputError, match="<= 100"):
        position.decode(b"101")
    with pytest.raises(lt.InvalidInputError, match=">= -100"):
        position.convert(-101)
    with pytest.raises(lt.InvalidInputError, match="Expected `int`, got `str`"):
        position.convert("5")
    label = Stage.get_property("label")
    with pytest.raises(lt.InvalidInputError, match="matching regex"):
        label.decode(b'"Upper"')
    with pytest.raises(lt.InvalidInputError, match="length <= 8"):
        label.convert("abcdefghi")


def test_malformed_property_value_is_flagged_malformed() -> None:
    with pytest.raises(lt.InvalidInputError) as caught:
        Stage.get_property("position").decode(b"nope")
    assert caught.value.malformed


def test_plain_assignment_from_python_is_not_validated() -> None:
    stage = Stage()
    stage.position = 1000
    assert stage.position == 1000


def test_data_property_needs_a_default() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="needs a default"):
        lt.property()


def test_unknown_property_option_is_rejected() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="unknown property option"):
        lt.property(default=0, minimum=0)


def test_missing_annotation_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            count = lt.property(default=0)

    assert "Bad.count" in str(caught.value)
    assert "annotation" in str(caught.value)


def test_property_and_action_of_the_same_name_clash() -> None:
    class Base(lt.Thing):
        value: int = lt.property(default=0)

    with pytest.raises(lt.ActionDefinitionError, match="both actions and properties"):

        class Bad(Base):
            @lt.action
            def value(self) -> None:  # type: ignore[override]
                pass


def test_unknown_property_is_a_clear_error() -> None:
    with pytest.raises(lt.AffordanceNotFoundError, match="no property 'height'"):
        Stage.get_property("height")


# -- functional properties ----------------------------------------------------------


def test_functional_property_reads_through_its_getter() -> None:
    stage = Stage()
    assert stage.speed == 1.0
    assert Stage.get_property("speed").read(stage) == 1.0
    assert stage.reads == 2


def test_functional_property_takes_type_and_description_from_the_getter() -> None:
    descriptor = Stage.get_property("speed")
    assert isinstance(descriptor, FunctionalProperty)
    assert descriptor.value_type is float
    assert descriptor.description == "How fast it moves, in mm/s."


def test_functional_property_with_setter_is_writable() -> None:
    stage = Stage()
    descriptor = Stage.get_property("speed")
    assert not descriptor.readonly
    descriptor.write(stage, descriptor.decode(b"2.5"))
    assert stage.speed == 2.5
    stage.speed = 3.0  # type: ignore[method-assign]
    assert stage.speed == 3.0


def test_functional_property_without_setter_is_read_only() -> None:
    stage = Stage()
    descriptor = Stage.get_property("temperature")
    assert descriptor.readonly
    with pytest.raises(lt.ReadOnlyPropertyError):
        descriptor.write(stage, 30.0)
    with pytest.raises(lt.ReadOnlyPropertyError, match="no setter"):
        stage.temperature = 30.0
    assert stage.temperature == 21.5


def test_functional_property_constraints_are_validated() -> None:
    with pytest.raises(lt.InvalidInputError, match=">= 0"):
        Stage.get_property("brightness").decode(b"-1")


def test_getter_without_return_annotation_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            @lt.property
            def level(self):  # type: ignore[no-untyped-def]
                return 1

    assert "Bad.level" in str(caught.value)
    assert "return annotation" in str(caught.value)


# -- change events ------------------------------------------------------------------


async def next_event(subscription: lt.Subscription) -> lt.Event:
    with anyio.fail_after(TIMEOUT):
        return await anext(subscription)


async def test_change_from_python_is_published() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}) as manager,
        manager.subscribe_properties() as subscription,
    ):
        stage.position = 7
        stage.label = "moved"
        first = await next_event(subscription)
        second = await next_event(subscription)
    assert (first.name, first.json(), first.thing, first.affordance) == (
        "position",
        7,
        "stage",
        "position",
    )
    assert (second.name, second.json()) == ("label", "moved")
    assert second.id > first.id


async def test_client_write_is_published() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}) as manager,
        manager.subscribe_properties(thing="stage", name="brightness") as subscription,
    ):
        Stage.get_property("brightness").write(stage, 9)
        event = await next_event(subscription)
    assert (event.name, event.json()) == ("brightness", 9)


async def test_change_inside_a_threaded_action_is_published() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}) as manager,
        manager.subscribe_properties(name="position") as subscription,
    ):
        invocation = manager.invoke_action(stage, "step", {"by": 3})
        event = await next_event(subscription)
        await invocation.wait()
    assert invocation.result() == 3
    assert (event.name, event.json(), event.thing) == ("position", 3, "stage")


async def test_change_from_a_foreign_thread_is_published() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}) as manager,
        manager.subscribe_properties() as subscription,
    ):
        worker = threading.Thread(target=setattr, args=(stage, "position", -4))
        worker.start()
        event = await next_event(subscription)
        worker.join()
    assert (event.name, event.json()) == ("position", -4)


async def test_unobservable_properties_are_not_published() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}) as manager,
        manager.subscribe_properties() as subscription,
    ):
        stage.quiet = 1
        # Functional properties are unobservable unless asked.
        stage.speed = 2.0  # type: ignore[method-assign]
        stage.position = 1
        event = await next_event(subscription)
    assert event.name == "position"


async def test_subscription_filters_by_thing() -> None:
    left, right = Stage(), Stage()
    async with (
        lt.ActionManager({"left": left, "right": right}) as manager,
        manager.subscribe_properties(thing="right") as subscription,
    ):
        left.position = 1
        right.position = 2
        event = await next_event(subscription)
    assert (event.thing, event.json()) == ("right", 2)


async def test_changes_from_a_thread_arrive_in_the_order_they_were_made() -> None:
    stage = Stage()
    async with (
        lt.ActionManager({"stage": stage}, subscriber_queue=1000) as manager,
        manager.subscribe_properties() as subscription,
    ):

        def move_through_every_position() -> None:
            for position in range(-100, 101):
                stage.position = position

        worker = threading.Thread(target=move_through_every_position)
        worker.start()
        worker.join(TIMEOUT)  # Blocks the loop: every change waits to be carried over.
        received = [(await next_event(subscription)).json() for _ in range(201)]
    assert received == list(range(-100, 101))


async def test_changes_outside_a_running_manager_go_nowhere() -> None:
    stage = Stage()
    stage.position = 1
    async with lt.ActionManager({"stage": stage}) as manager:
        pass
    stage.position = 2
    assert len(manager.hub.properties) == 0


def test_a_setter_bound_under_a_second_name_is_still_one_property() -> None:
    class Lamp(lt.Thing):
        _level = 0

        @lt.property
        def level(self) -> int:
            return self._level

        @level.setter
        def _set_level(self, value: int) -> None:
            self._level = value

    assert list(Lamp.properties) == ["level"]
    assert Lamp.get_property("level").name == "level"
    lamp = Lamp()
    lamp.level = 3
    assert lamp.level == 3


def test_a_default_outside_the_constraints_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="default 11 does not fit"):

        class Knob(lt.Thing):
            turns: int = lt.property(default=11, ge=0, le=10)
