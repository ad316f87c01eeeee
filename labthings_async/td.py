"""Thing Descriptions (W3C WoT TD 1.1) built from a Thing's declarations.

Layer: declarations (imports thing, action, properties and schema; no I/O). The
description is a plain dict; the HTTP layer supplies the absolute URLs, so it
stays right behind a mount prefix or proxy. Schemas are computed once per
class and cached; only URLs change from request to request.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from .action import ActionDescriptor
from .properties import PropertyDescriptor
from .schema import data_schema
from .thing import Thing

__all__ = ("TD_CONTEXT", "action_affordance", "property_affordance", "thing_description")

TD_CONTEXT = ["https://www.w3.org/2019/wot/td/v1", "https://www.w3.org/2022/wot/td/v1.1"]
"""``@context`` as node-wot 0.9 accepts it: an array, the 1.0 URI first."""

_JSON = "application/json"


def property_affordance(descriptor: PropertyDescriptor) -> dict[str, Any]:
    """The PropertyAffordance of one property (forms relative to the Thing's URL)."""
    affordance = data_schema(descriptor.value_type)
    affordance.pop("title", None)
    if descriptor.title:
        affordance["title"] = descriptor.title
    if descriptor.description:
        affordance["description"] = descriptor.description
    affordance["readOnly"] = descriptor.readonly
    affordance["writeOnly"] = False
    affordance["observable"] = descriptor.observable
    forms: list[dict[str, Any]] = [
        {
            "href": descriptor.name,
            "op": ["readproperty"],
            "htv:methodName": "GET",
            "contentType": _JSON,
        }
    ]
    if not descriptor.readonly:
        forms.append(
            {
                "href": descriptor.name,
                "op": ["writeproperty"],
                "htv:methodName": "PUT",
                "contentType": _JSON,
            }
        )
    affordance["forms"] = forms
    return affordance


def action_affordance(descriptor: ActionDescriptor) -> dict[str, Any]:
    """The ActionAffordance of one action (forms relative to the Thing's URL)."""
    input_schema = data_schema(descriptor.input_model)
    input_schema.pop("title", None)
    affordance: dict[str, Any] = {}
    if descriptor.title:
        affordance["title"] = descriptor.title
    if descriptor.description:
        affordance["description"] = descriptor.description
    affordance["input"] = input_schema
    affordance["output"] = data_schema(descriptor.output_type)
    affordance["safe"] = descriptor.safe
    affordance["idempotent"] = descriptor.idempotent
    affordance["forms"] = [
        {
            "href": descriptor.name,
            "op": ["invokeaction"],
            "htv:methodName": "POST",
            "contentType": _JSON,
        }
    ]
    return affordance


@functools.cache
def _affordances(cls: type[Thing]) -> bytes:
    """The class's affordances, encoded once (schemas are costly to build)."""
    return msgspec.json.encode(
        {
            "properties": {
                name: property_affordance(prop) for name, prop in cls.properties.items()
            },
            "actions": {name: action_affordance(act) for name, act in cls.actions.items()},
        }
    )


def thing_description(thing: Thing, thing_url: str) -> dict[str, Any]:
    """The Thing Description of ``thing``, served at the absolute ``thing_url``.

    Args:
        thing: The Thing.
        thing_url: Absolute URL of the Thing, ending in ``/``; it is the TD's
            ``base``, so every form href is relative to it.
    """
    affordances = msgspec.json.decode(_affordances(type(thing)))
    description: dict[str, Any] = {
        "@context": TD_CONTEXT,
        "id": thing_url,
        "title": thing.title,
    }
    if thing.description:
        description["description"] = thing.description
    description["base"] = thing_url
    description["securityDefinitions"] = {"nosec_sc": {"scheme": "nosec"}}
    description["security"] = ["nosec_sc"]
    description["properties"] = affordances["properties"]
    description["actions"] = affordances["actions"]
    return description
