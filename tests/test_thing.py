"""Tests for labthings_async.thing: what a Thing class may declare, checked at definition."""

from typing import Any

import pytest

import labthings_async as lt
from labthings_async.thing import ROUTE_WORDS

THING_OWN = [
    "name",
    "description",
    "title",
    "logger",
    "setup",
    "teardown",
    "actions",
    "properties",
    "get_action",
    "get_property",
    "observe_properties",
    "property_changed",
]


def define_with_action(name: str) -> type[lt.Thing]:
    def body(self: Any) -> None:
        pass

    body.__name__ = name
    return type("Stage", (lt.Thing,), {name: lt.action(body)})


def define_with_property(name: str) -> type[lt.Thing]:
    return type(
        "Stage",
        (lt.Thing,),
        {"__annotations__": {name: int}, name: lt.property(default=0)},
    )


@pytest.mark.parametrize("name", THING_OWN)
@pytest.mark.parametrize("define", [define_with_action, define_with_property])
def test_an_affordance_may_not_hide_what_a_thing_has(name: str, define: Any) -> None:
    kind = "action" if define is define_with_action else "property"
    with pytest.raises(lt.ActionDefinitionError) as caught:
        define(name)
    assert str(caught.value) == (
        f"Thing Stage: {kind} {name!r} would hide Thing.{name}, which the framework "
        f"relies on; give the {kind} another name"
    )


@pytest.mark.parametrize("define", [define_with_action, define_with_property])
def test_an_affordance_may_not_take_a_route_word(define: Any) -> None:
    kind = "action" if define is define_with_action else "property"
    with pytest.raises(lt.ActionDefinitionError) as caught:
        define("events")
    assert str(caught.value) == (
        f"Thing Stage: {kind} 'events' would take the path /{{thing}}/events, which "
        f"serves {ROUTE_WORDS['events']}; give the {kind} another name"
    )


def test_every_route_word_is_refused() -> None:
    for word in ROUTE_WORDS:
        with pytest.raises(lt.ActionDefinitionError, match=f"'{word}'"):
            define_with_property(word)


def test_overriding_setup_and_teardown_plainly_is_the_point() -> None:
    class Lamp(lt.Thing):
        def setup(self) -> None:
            pass

        def teardown(self) -> None:
            pass

    assert Lamp.actions == {}


@pytest.mark.parametrize("name", ["status", "log", "progress", "value", "run"])
def test_names_the_event_stream_uses_are_fine_for_affordances(name: str) -> None:
    assert list(define_with_action(name).actions) == [name]
    assert list(define_with_property(name).properties) == [name]


def test_an_action_may_be_called_lost_but_a_property_may_not() -> None:
    # An action's name never names an SSE event; a property's names its changes.
    assert list(define_with_action("lost").actions) == ["lost"]
    with pytest.raises(lt.ActionDefinitionError) as refused:
        define_with_property("lost")
    assert str(refused.value) == (
        "Thing Stage: property 'lost' would send its changes as events named 'lost', "
        "which is what an event stream calls its notice that events were lost, so clients "
        "could not tell the two apart; give the property another name"
    )
