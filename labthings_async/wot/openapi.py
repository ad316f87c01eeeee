"""The OpenAPI 3.1 document of a server, generated from the same msgspec types.

Layer: HTTP (the manager's Things, the wire models; no starlette). Each Thing's
routes are listed with their concrete paths, so the document says exactly
what this server serves; schemas are shared components under
``#/components/schemas``, written by msgspec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import (
    FinalStatus,
    InvocationResponse,
    InvocationSummary,
    ProblemDetails,
    StatusChange,
)
from ..schema import json_schema_components
from ..thing import Thing

__all__ = ("openapi_document",)

_JSON = "application/json"
_PROBLEM = "application/problem+json"
_SSE = "text/event-stream"

_ERRORS = {
    "400": "Malformed JSON body",
    "404": "Unknown Thing, affordance or invocation",
    "405": "Method not allowed",
    "409": "Conflict with the invocation's status, or a lock someone else holds",
    "413": "Request body too large",
    "415": "Request body is not JSON",
    "422": "Input fails the schema",
    "500": "Unexpected server error",
    "503": "Invocation queue full (see Retry-After)",
}


def _problems(*codes: str) -> dict[str, Any]:
    return {
        code: {
            "description": _ERRORS[code],
            "content": {_PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for code in codes
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _event_stream(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {_SSE: {"schema": {"type": "string", "description": "Server-Sent Events"}}},
        "headers": {"Cache-Control": {"schema": {"type": "string", "const": "no-cache"}}},
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "Resume after this event ID.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
_INVOCATION_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_LIST_PARAMETERS = [
    {
        "name": "status",
        "in": "query",
        "schema": {
            "type": "string",
            "enum": ["pending", "running", "completed", "cancelled", "error"],
        },
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0},
        "description": "Cursor from the previous page's Link header.",
    },
]


def openapi_document(
    things: Mapping[str, Thing], *, server_url: str, title: str = "labthings_async"
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a server with these Things at ``server_url``."""
    types: list[Any] = [
        InvocationResponse,
        InvocationSummary,
        ProblemDetails,
        StatusChange,
        FinalStatus,
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

    summaries = {"type": "array", "items": _ref("InvocationSummary")}
    invocation = _json(_ref("InvocationResponse"), "The invocation")
    paths: dict[str, Any] = {
        "/things/": {
            "get": {
                "summary": "Index of Things",
                "responses": {
                    "200": _json(
                        {"type": "object", "additionalProperties": {"type": "string"}},
                        "Thing name to Thing URL",
                    )
                },
            }
        },
        "/thing_descriptions/": {
            "get": {
                "summary": "All Thing Descriptions",
                "responses": {"200": _json({"type": "object"}, "Thing name to Thing Description")},
            }
        },
        "/action_invocations/": {
            "get": {
                "summary": "All invocations, newest first",
                "parameters": [
                    {"name": "thing", "in": "query", "schema": {"type": "string"}},
                    {"name": "action", "in": "query", "schema": {"type": "string"}},
                    *_LIST_PARAMETERS,
                ],
                "responses": {
                    "200": _json(summaries, "Summaries; next page in the Link header"),
                    **_problems("422"),
                },
            }
        },
        "/action_invocations/{id}": {
            "parameters": [_INVOCATION_ID],
            "get": {
                "summary": "One invocation",
                "responses": {"200": invocation, **_problems("404")},
            },
            "delete": {
                "summary": "Cancel an invocation",
                "responses": {"200": invocation, **_problems("404", "409")},
            },
        },
        "/action_invocations/{id}/output": {
            "parameters": [_INVOCATION_ID],
            "get": {
                "summary": "The output of a completed invocation",
                "responses": {"200": _json({}, "The output"), **_problems("404", "409")},
            },
        },
        "/action_invocations/{id}/events": {
            "parameters": [_INVOCATION_ID, _LAST_EVENT_ID],
            "get": {
                "summary": "Events of one invocation (SSE)",
                "responses": {
                    "200": _event_stream(
                        "status, log and progress events; ends after the terminal status"
                    ),
                    **_problems("404", "422"),
                },
            },
        },
        "/action_invocations/events": {
            "get": {
                "summary": "Status changes of all invocations (SSE)",
                "parameters": [
                    {"name": "thing", "in": "query", "schema": {"type": "string"}},
                    {"name": "action", "in": "query", "schema": {"type": "string"}},
                    _LAST_EVENT_ID,
                ],
                "responses": {"200": _event_stream("status events"), **_problems("422")},
            }
        },
        "/events": {
            "get": {
                "summary": "Every invocation's status and progress, every property change (SSE)",
                "description": "What a view of the whole server follows, on one connection: "
                "`status` events as on /action_invocations/events, `progress` events "
                '(`{"id", "percent", "message"}`, coalesced) and `property` events '
                '(`{"thing", "name", "value"}`).',
                "parameters": [
                    {"name": "thing", "in": "query", "schema": {"type": "string"}},
                    _LAST_EVENT_ID,
                ],
                "responses": {
                    "200": _event_stream("status, progress and property events"),
                    **_problems("404", "422"),
                },
            }
        },
    }
    for name, thing in things.items():
        cls = type(thing)
        paths[f"/{name}/"] = {
            "get": {
                "summary": f"Thing Description of {name}",
                "responses": {"200": _json({"type": "object"}, "W3C TD 1.1")},
            }
        }
        paths[f"/{name}/events"] = {
            "get": {
                "summary": f"Property changes of {name} (SSE)",
                "parameters": [_LAST_EVENT_ID],
                "responses": {
                    "200": _event_stream("one event per change, named after the property"),
                    **_problems("422"),
                },
            }
        }
        for prop_name, prop in cls.properties.items():
            item: dict[str, Any] = {
                "get": {
                    "summary": f"Read {prop_name}",
                    "description": prop.description or "",
                    "responses": {
                        "200": _json(schema(prop.value_type), "The value"),
                        **_problems("500"),
                    },
                }
            }
            if not prop.readonly:
                item["put"] = {
                    "summary": f"Write {prop_name}",
                    "requestBody": {
                        "required": True,
                        "content": {_JSON: {"schema": schema(prop.value_type)}},
                    },
                    "responses": {
                        "204": {"description": "Written"},
                        **_problems("400", "409", "413", "415", "422", "500"),
                    },
                }
            paths[f"/{name}/{prop_name}"] = item
            if prop.observable:
                for suffix, what in (
                    ("events", "named after the property"),
                    ("values", "unnamed, for node-wot"),
                ):
                    paths[f"/{name}/{prop_name}/{suffix}"] = {
                        "get": {
                            "summary": f"Changes of {prop_name} (SSE, {what})",
                            "parameters": [_LAST_EVENT_ID],
                            "responses": {
                                "200": _event_stream("the new value as JSON data"),
                                **_problems("422"),
                            },
                        }
                    }
        for action_name, action in cls.actions.items():
            paths[f"/{name}/{action_name}"] = {
                "get": {
                    "summary": f"Invocations of {action_name}",
                    "parameters": list(_LIST_PARAMETERS),
                    "responses": {
                        "200": _json(summaries, "Summaries, newest first"),
                        **_problems("422"),
                    },
                },
                "post": {
                    "summary": f"Invoke {action_name}",
                    "description": action.description or "",
                    "parameters": [
                        {
                            "name": "Prefer",
                            "in": "header",
                            "schema": {"type": "string", "example": "wait=5"},
                            "description": "RFC 7240 wait=N: hold the reply up to N seconds",
                        }
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {_JSON: {"schema": schema(action.input_model)}},
                    },
                    "responses": {
                        "201": {
                            **_json(_ref("InvocationResponse"), "Invoked"),
                            "headers": {
                                "Location": {"schema": {"type": "string", "format": "uri"}}
                            },
                        },
                        **_problems("400", "409", "413", "415", "422", "503"),
                    },
                },
            }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "0.1.0"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": components},
    }
