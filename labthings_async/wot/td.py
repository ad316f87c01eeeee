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

from ..action import ActionDescriptor
from ..mjpeg import MEDIA_TYPE
from ..properties import PropertyDescriptor
from ..schema import data_schema
from ..thing import Thing

__all__ = (
    "BEARER_SECURITY",
    "TD_CONTEXT",
    "action_affordance",
    "frame_event_affordance",
    "property_affordance",
    "stream_link",
    "thing_description",
)

TD_CONTEXT = ["https://www.w3.org/2019/wot/td/v1", "https://www.w3.org/2022/wot/td/v1.1"]
"""``@context`` as node-wot 0.9 accepts it: an array, the 1.0 URI first."""

_JSON = "application/json"

_INVOCATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An invocation, as LabThings serves it; follow links[rel=self] or "
    "links[rel=events] until status is completed, error or cancelled.",
    "properties": {
        "id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["pending", "running", "completed", "cancelled", "error"],
        },
        "href": {"type": "string"},
        "output": {},
    },
}


def _form(href: str, op: str | list[str], method: str, **extra: Any) -> dict[str, Any]:
    """One form; ``op`` always an array, the method always explicit (node-wot uses it as is)."""
    ops = [op] if isinstance(op, str) else op
    return {"href": href, "op": ops, "htv:methodName": method, "contentType": _JSON, **extra}


def property_affordance(descriptor: PropertyDescriptor) -> dict[str, Any]:
    """The PropertyAffordance of one property (forms relative to the Thing's URL).

    A property with a default shows it, as LabThings-FastAPI's do.

    Observable properties get two SSE forms: first ``{name}/values``, unnamed
    events, the only kind node-wot 0.9 reads; then ``{name}/events``, events
    named after the property as the WoT HTTP SSE profile has them.
    """
    affordance = data_schema(descriptor.value_type)
    affordance.pop("title", None)
    if descriptor.title:
        affordance["title"] = descriptor.title
    if descriptor.description:
        affordance["description"] = descriptor.description
    if descriptor.has_default:
        affordance["default"] = descriptor.default_json()
    affordance["readOnly"] = descriptor.readonly
    affordance["writeOnly"] = False
    affordance["observable"] = descriptor.observable
    name = descriptor.name
    forms = [_form(name, "readproperty", "GET")]
    if not descriptor.readonly:
        forms.append(_form(name, "writeproperty", "PUT"))
    if descriptor.observable:
        observe = ["observeproperty", "unobserveproperty"]
        forms.append(_form(f"{name}/values", observe, "GET", subprotocol="sse"))
        forms.append(_form(f"{name}/events", observe, "GET", subprotocol="sse"))
    affordance["forms"] = forms
    return affordance


def action_affordance(descriptor: ActionDescriptor) -> dict[str, Any]:
    """The ActionAffordance of one action (forms relative to the Thing's URL).

    Two ways to invoke, for two kinds of client. The first ``invokeaction``
    form, which W3C consumers such as node-wot take, asks for a synchronous
    reply (``?reply=output``): the response body is the output, and a failure
    is a 4xx/5xx problem. The second is the LabThings way, which LabThings'
    ThingClient uses without reading forms: 201 and the invocation, to follow.
    """
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
    affordance["uriVariables"] = {
        "id": {"type": "string", "format": "uuid", "description": "An invocation's ID."}
    }
    name = descriptor.name
    affordance["forms"] = [
        _form(f"{name}?reply=output", "invokeaction", "POST"),
        _form(
            name,
            "invokeaction",
            "POST",
            additionalResponses=[{"success": True, "contentType": _JSON, "schema": "invocation"}],
        ),
        _form("../action_invocations/{id}", "queryaction", "GET"),
        _form("../action_invocations/{id}", "cancelaction", "DELETE"),
    ]
    return affordance


_FRAME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "index": {"type": "integer", "minimum": 0, "description": "The frame's number."},
        "timestamp": {"type": "string", "format": "date-time"},
        "size": {"type": "integer", "minimum": 0, "description": "Bytes of JPEG."},
        "href": {
            "type": "string",
            "format": "uri-reference",
            "description": "The frame as image/jpeg, relative to the TD's base, while "
            "the ring buffer holds it.",
        },
    },
    "required": ["index", "timestamp", "size", "href"],
}


def stream_link(name: str) -> dict[str, Any]:
    """The TD link to a camera stream: a ``multipart/x-mixed-replace`` JPEG stream at ``name``.

    Its ``href`` is relative to the TD's ``base``; a browser shows it in an
    ``<img>``.
    """
    return {"href": name, "rel": "alternate", "type": MEDIA_TYPE, "title": name}


def frame_event_affordance(name: str) -> dict[str, Any]:
    """The EventAffordance telling of each new frame of camera stream ``name`` (over SSE)."""
    return {
        "title": f"{name} frames",
        "description": f"A new frame of the camera stream {name!r}: fetch it at its href, "
        f"or watch the live view at {name!r} (multipart/x-mixed-replace).",
        "data": _FRAME_SCHEMA,
        "forms": [
            _form(
                f"{name}/events",
                ["subscribeevent", "unsubscribeevent"],
                "GET",
                subprotocol="sse",
            )
        ],
    }


@functools.cache
def _affordances(cls: type[Thing]) -> bytes:
    """The class's affordances, encoded once (schemas are costly to build)."""
    affordances: dict[str, Any] = {
        "properties": {name: property_affordance(prop) for name, prop in cls.properties.items()},
        "actions": {name: action_affordance(act) for name, act in cls.actions.items()},
    }
    if cls.streams:
        affordances["events"] = {name: frame_event_affordance(name) for name in cls.streams}
        affordances["links"] = [stream_link(name) for name in cls.streams]
    return msgspec.json.encode(affordances)


BEARER_SECURITY: dict[str, Any] = {
    "scheme": "bearer",
    "in": "header",
    "name": "Authorization",
    "format": "opaque",
    "description": "A token from the server's token file, sent as `Authorization: Bearer "
    "TOKEN`. An observe token reads and observes; an operate token also invokes actions, "
    "writes properties and cancels invocations.",
}
"""The security scheme of a server with tokens (TD 1.1 ``BearerSecurityScheme``)."""


def thing_description(
    thing: Thing,
    thing_url: str,
    *,
    bearer: bool = False,
    stream_query: str = "",
) -> dict[str, Any]:
    """The Thing Description of ``thing``, served at the absolute ``thing_url``.

    Args:
        thing: The Thing.
        thing_url: Absolute URL of the Thing, ending in ``/``; it is the TD's
            ``base``, so every form href is relative to it.
        bearer: The server wants bearer tokens: the TD declares the scheme
            (``securityDefinitions``), so W3C consumers send theirs.
        stream_query: A query parameter (``access_token=...``) to add to every
            event-stream form's href. Consumers such as node-wot 0.9 open
            event streams with an ``EventSource``, which sends no header, so a
            TD given to a client that showed a token carries a read-only
            stream token in those hrefs.
    """
    # Classes are hashable; mypy 2 checks type objects against Hashable as if
    # their unbound ``__hash__`` were the bound one.
    affordances = msgspec.json.decode(_affordances(type(thing)))  # type: ignore[arg-type]
    description: dict[str, Any] = {
        "@context": TD_CONTEXT,
        "id": thing_url,
        "title": thing.title,
    }
    if thing.description:
        description["description"] = thing.description
    description["base"] = thing_url
    if bearer:
        description["securityDefinitions"] = {"bearer_sc": BEARER_SECURITY}
        description["security"] = ["bearer_sc"]
    else:
        description["securityDefinitions"] = {"nosec_sc": {"scheme": "nosec"}}
        description["security"] = ["nosec_sc"]
    description["schemaDefinitions"] = {"invocation": _INVOCATION_SCHEMA}
    description["properties"] = affordances["properties"]
    description["actions"] = affordances["actions"]
    if "events" in affordances:
        description["events"] = affordances["events"]
        description["links"] = affordances["links"]
    description["forms"] = [
        _form("properties", "readallproperties", "GET"),
        _form(
            "events", ["observeallproperties", "unobserveallproperties"], "GET", subprotocol="sse"
        ),
        _form(f"../action_invocations/?thing={thing.name}", "queryallactions", "GET"),
    ]
    if stream_query:
        streams = [*description["forms"]]
        for kind in ("properties", "events"):
            for affordance in description.get(kind, {}).values():
                streams += affordance["forms"]
        for form in streams:
            if form.get("subprotocol") == "sse":
                separator = "&" if "?" in form["href"] else "?"
                form["href"] = f"{form['href']}{separator}{stream_query}"
    return description
