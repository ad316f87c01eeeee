"""Tests for labthings_async.action: input models from signatures, dependencies."""

import enum
import logging
import uuid
from typing import Annotated, Any, Optional

import msgspec
import pytest

import labthings_async as lt
from labthings_async.action import ActionDescriptor


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(msgspec.Struct):
    x: float
    y: float = 0.0


class Stage(lt.Thing):
    @lt.action
    def move(
        self,
        axis: str,
        steps: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10,
        label: Optional[str] = None,  # noqa: UP045 - Optional is what is being tested
        note: str | None = None,
        target: Point | None = None,
        colour: Colour = Colour.RED,
    ) -> dict[str, Any]:
        return {"axis": axis, "steps": steps}

    @lt.action
    def configure(self, mode: str = "fast", **settings: int) -> dict[str, int]:
        return dict(settings)

    @lt.action
    def home(self) -> None:
        pass

    @lt.action
    def require(self, point: Point) -> float:
        return point.x


MOVE = Stage.get_action("move")
CONFIGURE = Stage.get_action("configure")
HOME = Stage.get_action("home")
REQUIRE = Stage.get_action("require")


def input_field_names(descriptor: ActionDescriptor) -> set[str]:
    return set(descriptor.input_model.__struct_fields__)


# -- input models -------------------------------------------------------------------


def test_input_model_has_one_field_per_parameter() -> None:
    assert input_field_names(MOVE) == {
        "axis",
        "steps",
        "label",
        "note",
        "target",
        "colour",
    }


def test_defaults_fill_in_missing_arguments() -> None:
    arguments = MOVE.decode_input(b'{"axis": "x"}')
    assert arguments == {
        "axis": "x",
        "steps": 10,
        "label": None,
        "note": None,
        "target": None,
        "colour": Colour.RED,
    }


def test_required_argument_missing_is_invalid() -> None:
    with pytest.raises(lt.InvalidInputError, match="missing required field `axis`"):
        MOVE.decode_input(b'{"steps": 1}')


def test_optional_accepts_null_and_a_value() -> None:
    arguments = MOVE.decode_input(b'{"axis": "x", "label": null, "note": "n"}')
    assert arguments["label"] is None
    assert arguments["note"] == "n"
    with pytest.raises(lt.InvalidInputError):
        MOVE.decode_input(b'{"axis": "x", "label": 3}')


def test_annotated_meta_constraints_are_enforced() -> None:
    assert MOVE.decode_input(b'{"axis": "x", "steps": 1000}')["steps"] == 1000
    with pytest.raises(lt.InvalidInputError) as caught:
        MOVE.decode_input(b'{"axis": "x", "steps": 1001}')
    assert caught.value.issues[0].path == "$.steps"
    assert "<= 1000" in caught.value.issues[0].message
    with pytest.raises(lt.InvalidInputError):
        MOVE.validate_input({"axis": "x", "steps": -1})


def test_nested_struct_is_decoded() -> None:
    arguments = MOVE.decode_input(b'{"axis": "x", "target": {"x": 1.5}}')
    assert arguments["target"] == Point(x=1.5, y=0.0)


def test_enum_is_decoded_by_value() -> None:
    assert MOVE.decode_input(b'{"axis": "x", "colour": "green"}')["colour"] is Colour.GREEN
    with pytest.raises(lt.InvalidInputError) as caught:
        MOVE.decode_input(b'{"axis": "x", "colour": "blue"}')
    assert caught.value.issues[0].path == "$.colour"


def test_unknown_fields_are_rejected_without_kwargs() -> None:
    with pytest.raises(lt.InvalidInputError, match="unknown field `speed`"):
        MOVE.decode_input(b'{"axis": "x", "speed": 3}')
    with pytest.raises(lt.InvalidInputError, match="unknown field `speed`"):
        MOVE.validate_input({"axis": "x", "speed": 3})


def test_kwargs_accepts_extra_fields_validated_by_its_annotation() -> None:
    arguments = CONFIGURE.decode_input(b'{"gain": 3, "offset": 4}')
    assert arguments == {"mode": "fast", "gain": 3, "offset": 4}
    assert CONFIGURE.validate_input({"mode": "slow", "gain": 1}) == {
        "mode": "slow",
        "gain": 1,
    }
    with pytest.raises(lt.InvalidInputError) as caught:
        CONFIGURE.decode_input(b'{"gain": "high"}')
    assert caught.value.issues[0].path == "$.gain"


def test_kwargs_still_validates_named_parameters() -> None:
    with pytest.raises(lt.InvalidInputError) as caught:
        CONFIGURE.decode_input(b'{"mode": 3, "gain": 1}')
    assert caught.value.issues[0].path == "$.mode"


def test_kwargs_cannot_smuggle_self_or_a_dependency() -> None:
    class Knobs(lt.Thing):
        @lt.action
        def set_all(self, logger: lt.InvocationLogger, **knobs: int) -> int:
            return len(knobs)

    for name in ("self", "logger"):
        with pytest.raises(lt.InvalidInputError) as caught:
            Knobs.get_action("set_all").validate_input({name: 1})
        assert caught.value.issues[0].path == f"$.{name}"


def test_python_input_is_validated_as_strictly_as_json() -> None:
    # A string is not an int on the wire, so it must not be one from Python either.
    with pytest.raises(lt.InvalidInputError):
        MOVE.decode_input(b'{"axis": "x", "steps": "5"}')
    with pytest.raises(lt.InvalidInputError):
        MOVE.validate_input({"axis": "x", "steps": "5"})
    with pytest.raises(lt.InvalidInputError):
        CONFIGURE.decode_input(b'{"mode": "m", "gain": "5"}')


def test_validate_input_rejects_a_non_mapping() -> None:
    with pytest.raises(lt.InvalidInputError, match="must be an object"):
        MOVE.validate_input([1, 2])  # type: ignore[arg-type]


def test_output_type_comes_from_the_return_annotation() -> None:
    assert REQUIRE.output_type is float
    assert HOME.output_type is type(None)


def test_action_with_options_keeps_them() -> None:
    class Sensor(lt.Thing):
        @lt.action(retention=2.5, safe=True, idempotent=True, title="Read it")
        def read(self) -> float:
            """Read the sensor."""
            return 1.0

    descriptor = Sensor.get_action("read")
    assert descriptor.retention == 2.5
    assert descriptor.safe
    assert descriptor.idempotent
    assert descriptor.title == "Read it"
    assert descriptor.description == "Read the sensor."
    assert Sensor.actions["read"] is descriptor


def test_async_and_sync_actions_are_told_apart() -> None:
    class Both(lt.Thing):
        @lt.action
        def threaded(self) -> None:
            pass

        @lt.action
        async def on_loop(self) -> None:
            pass

    assert not Both.get_action("threaded").is_async
    assert Both.get_action("on_loop").is_async


def test_action_called_from_python_runs_the_method() -> None:
    assert Stage().move("x", steps=3) == {"axis": "x", "steps": 3}


def test_actions_from_a_plain_mixin_get_an_input_model() -> None:
    class Homing:
        @lt.action
        def home(self, speed: int = 1) -> int:
            return speed

    class Axis(Homing, lt.Thing):
        pass

    descriptor = Axis.get_action("home")
    assert descriptor.decode_input(b'{"speed": 3}') == {"speed": 3}
    with pytest.raises(lt.InvalidInputError):
        descriptor.decode_input(b'{"speed": "fast"}')


def test_inherited_actions_keep_their_input_model() -> None:
    class Base(lt.Thing):
        @lt.action
        def home(self, speed: int = 1) -> int:
            return speed

    class Derived(Base):
        pass

    assert Derived.get_action("home") is Base.get_action("home")
    assert Derived.get_action("home").owner is Base
    assert Derived.get_action("home").decode_input(b'{"speed": 2}') == {"speed": 2}


# -- empty bodies and malformed JSON ------------------------------------------------


@pytest.mark.parametrize("body", [None, b"", b"  ", b"null", b"{}", b" {} "])
def test_empty_body_means_no_arguments(body: bytes | None) -> None:
    assert HOME.decode_input(body) == {}


def test_empty_body_for_required_arguments_is_invalid() -> None:
    with pytest.raises(lt.InvalidInputError) as caught:
        REQUIRE.decode_input(b"")
    assert not caught.value.malformed
    assert caught.value.status == 422


def test_invalid_input_carries_the_json_path() -> None:
    with pytest.raises(lt.InvalidInputError) as caught:
        REQUIRE.decode_input(b'{"point": {"x": "far"}}')
    error = caught.value
    assert not error.malformed
    assert error.status == 422
    assert [(issue.path, issue.message) for issue in error.issues] == [
        ("$.point.x", "Expected `float`, got `str`")
    ]
    assert "$.point.x" in str(error)


@pytest.mark.parametrize("body", [b"{", b"{'x': 1}", b"not json", b'{"point": }'])
def test_malformed_json_is_flagged_malformed(body: bytes) -> None:
    with pytest.raises(lt.InvalidInputError) as caught:
        REQUIRE.decode_input(body)
    assert caught.value.malformed
    assert caught.value.status == 400
    assert caught.value.issues == []


def test_json_that_is_not_an_object_is_invalid_not_malformed() -> None:
    with pytest.raises(lt.InvalidInputError) as caught:
        REQUIRE.decode_input(b"[1, 2]")
    assert not caught.value.malformed
    with pytest.raises(lt.InvalidInputError) as caught:
        CONFIGURE.decode_input(b"[1, 2]")
    assert not caught.value.malformed


# -- signatures that cannot be served -----------------------------------------------


def test_var_positional_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            @lt.action
            def scan(self, *points: int) -> None:
                pass

    assert "Bad.scan" in str(caught.value)
    assert "*points" in str(caught.value)


def test_missing_annotation_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            @lt.action
            def scan(self, count: int, speed) -> None:  # type: ignore[no-untyped-def]
                pass

    message = str(caught.value)
    assert "Bad.scan" in message
    assert "'speed'" in message
    assert "annotation" in message


def test_positional_only_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            @lt.action
            def scan(self, count: int, /) -> None:
                pass

    assert "Bad.scan" in str(caught.value)
    assert "'count'" in str(caught.value)


def test_type_json_cannot_carry_fails_at_class_definition() -> None:
    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            @lt.action
            def scan(self, key: int | str | bytes) -> None:
                pass

    assert "Bad.scan" in str(caught.value)
    assert "unsupported type" in str(caught.value)


def test_class_json_cannot_describe_fails_at_class_definition() -> None:
    class Opaque:
        pass

    with pytest.raises(lt.ActionDefinitionError) as caught:

        class Bad(lt.Thing):
            @lt.action
            def scan(self, thing: Opaque) -> None:
                pass

    assert "Thing Bad: the input of action 'scan'" in str(caught.value)


def test_definition_errors_are_labthings_and_type_errors() -> None:
    assert issubclass(lt.ActionDefinitionError, lt.LabThingsError)
    assert issubclass(lt.ActionDefinitionError, TypeError)


# -- dependencies -------------------------------------------------------------------


class Camera(lt.Thing):
    @lt.action
    def snap(self) -> str:
        self.logger.info("snap from %s", self.name)
        return self.name


class Microscope(lt.Thing):
    hooks: list[lt.CancelHook]

    def __init__(self) -> None:
        self.hooks = []

    @lt.action
    def acquire(
        self,
        exposure: float,
        cancel: lt.CancelHook,
        logger: lt.InvocationLogger,
        invocation_id: lt.InvocationID,
        stage: Stage,
        left: Annotated[Camera, lt.ThingDependency("left")],
        right: Annotated[Camera, lt.ThingDependency("right")],
    ) -> dict[str, Any]:
        self.hooks.append(cancel)
        logger.info("acquiring for %s s", exposure)
        return {
            "id": str(invocation_id),
            "stage": stage.name,
            "left": left.snap(),
            "right": right.snap(),
        }


def test_dependencies_are_left_out_of_the_input_model() -> None:
    descriptor = Microscope.get_action("acquire")
    assert input_field_names(descriptor) == {"exposure"}
    assert set(descriptor.dependencies) == {
        "cancel",
        "logger",
        "invocation_id",
        "stage",
        "left",
        "right",
    }
    with pytest.raises(lt.InvalidInputError, match="unknown field `cancel`"):
        descriptor.decode_input(b'{"exposure": 1, "cancel": true}')


async def test_dependencies_are_supplied_by_the_manager() -> None:
    microscope = Microscope()
    things = {
        "scope": microscope,
        "stage": Stage(),
        "left": Camera(),
        "right": Camera(),
    }
    async with lt.ActionManager(things) as manager:
        invocation = manager.invoke_action("scope", "acquire", {"exposure": 0.5})
        await invocation.wait()
    assert invocation.result() == {
        "id": str(invocation.id),
        "stage": "stage",
        "left": "left",
        "right": "right",
    }
    assert microscope.hooks == [invocation.cancel_hook]
    messages = [entry.message for entry in invocation.log]
    assert messages == ["acquiring for 0.5 s", "snap from left", "snap from right"]


async def test_thing_dependency_by_class_must_be_unambiguous() -> None:
    class Lamp(lt.Thing):
        @lt.action
        def flash(self, camera: Camera) -> str:
            return camera.name

    things = {"lamp": Lamp(), "left": Camera(), "right": Camera()}
    async with lt.ActionManager(things) as manager:
        invocation = manager.invoke_action("lamp", "flash")
        await invocation.wait()
    assert invocation.status is lt.InvocationStatus.ERROR
    assert invocation.error is not None
    assert "found 2 Things of class Camera" in invocation.error.detail


def test_dependencies_outside_a_manager_get_stand_ins() -> None:
    class Plain(lt.Thing):
        @lt.action
        def run(
            self, cancel: lt.CancelHook, logger: lt.InvocationLogger, invocation_id: lt.InvocationID
        ) -> tuple[bool, str, uuid.UUID | None]:
            return cancel.is_set(), logger.name, invocation_id

    thing = Plain()
    # The framework fills in what the signature asks for; type checkers cannot know.
    assert thing.run() == (False, thing.logger.name, None)  # type: ignore[call-arg]


def test_thing_dependency_outside_a_manager_is_a_clear_error() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="needs another Thing for 'stage'"):
        Microscope().acquire(exposure=1.0)  # type: ignore[call-arg]


def test_a_plain_logger_annotation_is_a_dependency() -> None:
    class Logs(lt.Thing):
        @lt.action
        def run(self, log: logging.Logger, count: int = 1) -> None:
            pass

    assert set(Logs.get_action("run").dependencies) == {"log"}
    assert input_field_names(Logs.get_action("run")) == {"count"}


def test_a_plain_uuid_is_client_input() -> None:
    class ById(lt.Thing):
        @lt.action
        def fetch(self, key: uuid.UUID) -> str:
            return str(key)

    key = uuid.uuid4()
    assert ById.get_action("fetch").decode_input(f'{{"key": "{key}"}}'.encode()) == {"key": key}
    assert ById.get_action("fetch").dependencies == {}
