"""The OpenAPI 3.1 document of a server, generated from the same msgspec types.

Layer: HTTP (the manager's Things, the wire models; no starlette). Each Thing's
routes are listed with their concrete paths, so the document says exactly
what this server serves, every parameter and every status it may answer
with; schemas are shared components under ``#/components/schemas``, written
by msgspec.

An event stream is described event by event: the ``text/event-stream``
schema is that of one event (``id``, ``event``, ``data``, ``retry``), with
each event name's ``data`` given as JSON of its own schema
(``contentMediaType`` and ``contentSchema``). That is how OpenAPI before 3.2
is read for event streams by tools that check them (schemathesis), and what
3.2's ``itemSchema`` says; the document stays 3.1, which more tools read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import (
    INVOCATION_EVENT,
    FinalStatus,
    InvocationResponse,
    InvocationSummary,
    LogEntry,
    ProblemDetails,
    Progress,
    StatusChange,
)
from ..schema import json_schema_components
from ..thing import Thing

__all__ = ("MAX_PAGE_SIZE", "MAX_POSITION", "openapi_document")

_JSON = "application/json"
_PROBLEM = "application/problem+json"
_SSE = "text/event-stream"

MAX_PAGE_SIZE = 10_000
"""The largest ``limit`` of a list: documented here, checked by ``http/query.py``."""

MAX_POSITION = 2**62
"""The largest ``offset`` or ``before`` of a list; no table holds 2**62 invocations."""

_ERRORS = {
    "400": "Malformed JSON body, or ambiguous framing (Content-Length with Transfer-Encoding)",
    "401": "No token, or one the server does not accept (servers with tokens)",
    "403": "The token's role does not allow it, or another site's page sent it",
    "404": "Unknown Thing, affordance or invocation",
    "408": "The request body did not arrive in time",
    "409": "Conflict with the invocation's status, or a lock someone else holds",
    "413": "Request body too large",
    "415": "Request body is not declared as JSON",
    "416": "The range asked for is not in the blob",
    "421": "The Host header names a host this server does not answer to",
    "422": "Input, or a parameter, fails its schema",
    "500": "Unexpected server error",
    "503": "No room now (invocation queue, event streams or connections full); see Retry-After",
    "504": "The invocation was still running when the reply gave up (?reply=output)",
}

_ANY_REQUEST = ("400", "421", "503")
"""What any request may be answered with, before it reaches its route."""


def _problems(*codes: str) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for code in sorted({*codes, *_ANY_REQUEST}):
        response: dict[str, Any] = {
            "description": _ERRORS[code],
            "content": {_PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        if code == "503":
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds until there is likely room, from the recent rate",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[code] = response
    return responses


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _event(name: str | None, data: dict[str, Any], *, with_id: bool = True) -> dict[str, Any]:
    """The schema of one kind of event: named ``name`` (None: unnamed), ``data`` of JSON.

    An event ``with_id`` carries the ID a reconnection resumes after.
    """
    properties: dict[str, Any] = {
        "data": {"type": "string", "contentMediaType": _JSON, "contentSchema": data},
    }
    required = ["data"]
    if with_id:
        properties["id"] = {"type": "string", "pattern": "^[0-9]+$"}
        required.append("id")
    if name is None:
        properties["event"] = {"const": "message"}
    else:
        properties["event"] = {"const": name}
        required.append("event")
    return {"type": "object", "properties": properties, "required": required}


_PROGRESS_REPORT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "percent": {"type": ["number", "null"]},
        "message": {"type": ["string", "null"]},
    },
    "required": ["id"],
}
"""The data of a ``progress`` event on ``/events``: which invocation, and how far."""

_PROPERTY_CHANGE = {
    "type": "object",
    "properties": {"thing": {"type": "string"}, "name": {"type": "string"}, "value": {}},
    "required": ["thing", "name", "value"],
}
"""The data of a ``property`` event on ``/events``."""

_GREETING = {
    "type": "object",
    "description": "The first block of every stream: the reconnection delay, no data.",
    "properties": {"retry": {"type": "integer", "minimum": 0}},
    "required": ["retry"],
    "not": {"required": ["data"]},
}


def _event_stream(description: str, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A ``text/event-stream`` response whose events are each one of ``events``."""
    return {
        "description": f"{description}. Each event's data is JSON; a reconnecting client "
        "sends the last id it saw as Last-Event-ID and misses nothing still buffered",
        "content": _stream_content(events),
        "headers": {"Cache-Control": {"schema": {"type": "string", "const": "no-cache"}}},
    }


def _stream_content(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``text/event-stream`` content whose events are each one of ``events``."""
    return {_SSE: {"schema": {"anyOf": [_GREETING, *events]}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "Resume after this event ID (empty: from now).",
    "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
}
_LAST_EVENT_ID_QUERY = {
    "name": "lastEventId",
    "in": "query",
    "required": False,
    "description": "Resume after this event ID, for a client that cannot set the header.",
    "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
}
_STREAM_PARAMETERS = [_LAST_EVENT_ID, _LAST_EVENT_ID_QUERY]
_INVOCATION_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_STATUSES = ["pending", "running", "completed", "cancelled", "error"]
_PAGE_PARAMETERS = [
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    },
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
    },
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
        "description": "Cursor from the previous page's Link header.",
    },
]
_FILTERS = [
    {"name": "thing", "in": "query", "schema": {"type": "string"}},
    {"name": "action", "in": "query", "schema": {"type": "string"}},
]


def openapi_document(
    things: Mapping[str, Thing],
    *,
    server_url: str,
    title: str = "labthings_async",
    bearer: bool = False,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a server with these Things at ``server_url``.

    Args:
        things: The Things served, by name.
        server_url: The absolute URL of the API root.
        title: The document's title.
        bearer: The server wants bearer tokens: the operations that need one
            say so (``security``), with their 401 and 403 answers.
    """
    types: list[Any] = [
        InvocationResponse,
        InvocationSummary,
        ProblemDetails,
        StatusChange,
        FinalStatus,
        LogEntry,
        Progress,
    ]
    for thing in things.values():
        cls = type(thing)
        types.extend(descriptor.value_type for descriptor in cls.properties.values())
        for action in cls.actions.values():
            types.extend((action.input_model, action.output_type))
    schemas, components = json_schema_components(types)
    schema_of = dict(zip(map(id, types), schemas, strict=True))

    def schema(tp: Any) -> dict[str, Any]:
        return schema_of[id(tp)]

    def guarded(operation: dict[str, Any], *, operate: bool = False) -> dict[str, Any]:
        """``operation``, needing a token (operate, if ``operate``) on a server with tokens."""
        if bearer:
            operation["security"] = [{"bearer": []}]
            role = "an operate token" if operate else "a token (observe or operate)"
            note = f"Needs {role}."
            operation["description"] = f"{operation.get('description', '')} {note}".strip()
            operation["responses"].update(_problems("401", "403"))
        return operation

    summaries = {"type": "array", "items": _ref("InvocationSummary")}
    invocation = _json(_ref("InvocationResponse"), "The invocation")
    status_event = _event("status", _ref("StatusChange"))
    invocation_events = [
        status_event,
        _event("status", _ref("FinalStatus")),
        _event("log", _ref("LogEntry")),
        _event("progress", _ref("Progress")),
    ]
    invocation_stream = [
        _event(INVOCATION_EVENT, _ref("InvocationResponse"), with_id=False),
        *invocation_events,
    ]
    paths: dict[str, Any] = {
        "/things/": {
            "get": {
                "summary": "Index of Things",
                "responses": {
                    "200": _json(
                        {"type": "object", "additionalProperties": {"type": "string"}},
                        "Thing name to Thing URL",
                    ),
                    **_problems(),
                },
            }
        },
        "/thing_descriptions/": {
            "get": {
                "summary": "All Thing Descriptions",
                "responses": {
                    "200": _json({"type": "object"}, "Thing name to Thing Description"),
                    **_problems(),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1"), **_problems()},
            }
        },
        "/auth/stream-token": {
            "post": guarded(
                {
                    "summary": "A read-only token for URLs that cannot carry a header",
                    "description": "For an EventSource or an image: add it to their URLs as "
                    "?access_token=TOKEN. It is good for GET only, and expires. Without "
                    "tokens on the server, token is null.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "token": {"type": ["string", "null"]},
                                    "expires": {"type": ["integer", "null"]},
                                    "parameter": {"const": "access_token"},
                                },
                                "required": ["token", "expires", "parameter"],
                            },
                            "The stream token, when it expires (Unix seconds), and its parameter",
                        ),
                        **_problems(),
                    },
                }
            )
        },
        "/action_invocations/": {
            "get": guarded(
                {
                    "summary": "All invocations, newest first",
                    "parameters": [*_FILTERS, *_PAGE_PARAMETERS],
                    "responses": {
                        "200": _json(summaries, "Summaries; next page in the Link header"),
                        **_problems("422"),
                    },
                }
            )
        },
        "/action_invocations/{id}": {
            "parameters": [_INVOCATION_ID],
            "get": guarded(
                {
                    "summary": "One invocation",
                    "responses": {"200": invocation, **_problems("404")},
                }
            ),
            "delete": guarded(
                {
                    "summary": "Cancel an invocation",
                    "description": "As in LabThings' API, the invocation is cancelled, not "
                    "removed: it stays readable, cancelled, until its retention runs out.",
                    "responses": {"200": invocation, **_problems("404", "409")},
                },
                operate=True,
            ),
        },
        "/action_invocations/{id}/output": {
            "parameters": [_INVOCATION_ID],
            "get": guarded(
                {
                    "summary": "The output of a completed invocation",
                    "responses": {"200": _json({}, "The output"), **_problems("404", "409")},
                }
            ),
        },
        "/action_invocations/{id}/events": {
            "parameters": [_INVOCATION_ID],
            "get": guarded(
                {
                    "summary": "Events of one invocation (SSE)",
                    "parameters": list(_STREAM_PARAMETERS),
                    "responses": {
                        "200": _event_stream(
                            "Its status, log and progress events, replayed then live; the "
                            "stream ends after the final status, which carries the output or "
                            "the error",
                            invocation_events,
                        ),
                        **_problems("404", "422"),
                    },
                }
            ),
        },
        "/events": {
            "get": guarded(
                {
                    "summary": "Every invocation's status and progress, every property change",
                    "description": "What a view of the whole server follows, on one connection.",
                    "parameters": [
                        {"name": "thing", "in": "query", "schema": {"type": "string"}},
                        *_STREAM_PARAMETERS,
                    ],
                    "responses": {
                        "200": _event_stream(
                            "status events as on /action_invocations/events, progress events "
                            "(coalesced) and property events",
                            [
                                status_event,
                                _event("progress", _PROGRESS_REPORT),
                                _event("property", _PROPERTY_CHANGE),
                            ],
                        ),
                        **_problems("404", "422"),
                    },
                }
            )
        },
        "/blob/{id}": {
            "parameters": [{**_INVOCATION_ID, "description": "The blob's ID."}],
            "get": guarded(
                {
                    "summary": "A blob (a file an action output), in its own media type",
                    "parameters": [
                        {
                            "name": "Range",
                            "in": "header",
                            "schema": {"type": "string"},
                            "description": "RFC 9110 bytes=FIRST-LAST: part of it",
                        }
                    ],
                    "responses": {
                        "200": {"description": "The blob's bytes, in its media type"},
                        "206": {"description": "The range asked for"},
                        **_problems("404", "416"),
                    },
                }
            ),
        },
        "/action_invocations/events": {
            "get": guarded(
                {
                    "summary": "Status changes of all invocations (SSE)",
                    "parameters": [*_FILTERS, *_STREAM_PARAMETERS],
                    "responses": {
                        "200": _event_stream("Every invocation's status changes", [status_event]),
                        **_problems("422"),
                    },
                }
            )
        },
    }
    for name, thing in things.items():
        cls = type(thing)
        paths[f"/{name}/"] = {
            "get": {
                "summary": f"Thing Description of {name}",
                "responses": {"200": _json({"type": "object"}, "W3C TD 1.1"), **_problems()},
            }
        }
        value_schemas = {
            prop_name: schema(prop.value_type) for prop_name, prop in cls.properties.items()
        }
        paths[f"/{name}/properties"] = {
            "get": guarded(
                {
                    "summary": f"Every property of {name}",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": value_schemas,
                                "required": sorted(value_schemas),
                            },
                            "Property name to value",
                        ),
                        **_problems("500"),
                    },
                }
            )
        }
        observable = [
            _event(prop_name, value_schemas[prop_name])
            for prop_name, prop in cls.properties.items()
            if prop.observable
        ]
        paths[f"/{name}/events"] = {
            "get": guarded(
                {
                    "summary": f"Property changes of {name} (SSE)",
                    "parameters": list(_STREAM_PARAMETERS),
                    "responses": {
                        "200": _event_stream(
                            "One event per change, named after the property; the stream "
                            "lasts until the client or the server closes it",
                            observable,
                        ),
                        **_problems("422"),
                    },
                }
            )
        }
        for prop_name, prop in cls.properties.items():
            item: dict[str, Any] = {
                "get": guarded(
                    {
                        "summary": f"Read {prop_name}",
                        "description": prop.description or "",
                        "responses": {
                            "200": _json(value_schemas[prop_name], "The value"),
                            **_problems("500"),
                        },
                    }
                )
            }
            if not prop.readonly:
                item["put"] = guarded(
                    {
                        "summary": f"Write {prop_name}",
                        "requestBody": {
                            "required": True,
                            "content": {_JSON: {"schema": value_schemas[prop_name]}},
                        },
                        "responses": {
                            "204": {"description": "Written"},
                            **_problems("403", "408", "409", "413", "415", "422", "500"),
                        },
                    },
                    operate=True,
                )
            paths[f"/{name}/{prop_name}"] = item
            if prop.observable:
                for suffix, what, event_name in (
                    ("events", "named after the property", prop_name),
                    ("values", "unnamed, for node-wot", None),
                ):
                    paths[f"/{name}/{prop_name}/{suffix}"] = {
                        "get": guarded(
                            {
                                "summary": f"Changes of {prop_name} (SSE, {what})",
                                "parameters": list(_STREAM_PARAMETERS),
                                "responses": {
                                    "200": _event_stream(
                                        "The new value at each change; the stream lasts "
                                        "until the client or the server closes it",
                                        [_event(event_name, value_schemas[prop_name])],
                                    ),
                                    **_problems("422"),
                                },
                            }
                        )
                    }
        for action_name, action in cls.actions.items():
            input_schema = schema(action.input_model)
            needs_input = bool(_required(input_schema, components))
            paths[f"/{name}/{action_name}"] = {
                "get": guarded(
                    {
                        "summary": f"Invocations of {action_name}",
                        "parameters": list(_PAGE_PARAMETERS),
                        "responses": {
                            "200": _json(summaries, "Summaries, newest first"),
                            **_problems("422"),
                        },
                    }
                ),
                "post": guarded(
                    {
                        "summary": f"Invoke {action_name}",
                        "description": action.description or "",
                        "parameters": [
                            {
                                "name": "Prefer",
                                "in": "header",
                                "schema": {"type": "string", "example": "wait=5"},
                                "description": "RFC 7240 wait=N: hold the reply up to N "
                                "seconds (capped by the server), so a quick action comes "
                                "back finished",
                            },
                            {
                                "name": "reply",
                                "in": "query",
                                "schema": {"type": "string", "enum": ["output"]},
                                "description": "output: reply with the output itself once "
                                "the action finishes (200), or its failure as a problem, "
                                "as W3C consumers expect; absent: 201 and the invocation",
                            },
                        ],
                        "requestBody": {
                            "required": needs_input,
                            "description": "The arguments"
                            + ("" if needs_input else "; null or no body for none"),
                            "content": {
                                _JSON: {
                                    "schema": input_schema
                                    if needs_input
                                    else {"anyOf": [input_schema, {"type": "null"}]}
                                }
                            },
                        },
                        "responses": {
                            "200": _json(
                                schema(action.output_type), "The output (with ?reply=output)"
                            ),
                            "201": {
                                "description": "Invoked: the invocation; or, when Accept "
                                "names text/event-stream, its event stream, which opens "
                                "with an invocation event holding the same, then has its "
                                "events as on its events link, and ends after the final "
                                "status (one request invokes and follows it)",
                                "content": {
                                    _JSON: {"schema": _ref("InvocationResponse")},
                                    **_stream_content(invocation_stream),
                                },
                                "headers": {
                                    "Location": {"schema": {"type": "string", "format": "uri"}}
                                },
                            },
                            **_problems("403", "408", "409", "413", "415", "422", "500", "504"),
                        },
                    },
                    operate=True,
                ),
            }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "0.1.0"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": components},
    }
    if bearer:
        document["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from the server's token file: observe reads and "
                "watches; operate also invokes, writes and cancels.",
            }
        }
    return document


def _required(schema: dict[str, Any], components: Mapping[str, Any]) -> list[str]:
    """The required properties of an object schema (following one component reference)."""
    reference = schema.get("$ref", "")
    if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
        schema = components.get(reference.rpartition("/")[2], {})
    required = schema.get("required", [])
    return list(required) if isinstance(required, list) else []
