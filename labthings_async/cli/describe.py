"""``labthings-async describe``: a Thing's properties and actions, or a server's Things.

Layer: cli (stdlib; the client, imported when the command runs).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from .command import add_token_argument, connect_or_index, guarded, http_url, print_json

__all__ = ("add_describe_command", "describe_schema", "describe_server", "describe_thing")


def add_describe_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``describe`` to the command line's subcommands."""
    describe = commands.add_parser(
        "describe",
        help="show a Thing's properties and actions, or a server's Things",
        description=(
            "Show the properties and actions of the Thing at URL; or, for a server's "
            "root URL, the Things it serves."
        ),
    )
    describe.add_argument(
        "url", metavar="URL", type=http_url, help="a Thing's URL, or the server's root URL"
    )
    describe.add_argument(
        "--json",
        action="store_true",
        help="print the Thing Description (for a server: every Thing's) as JSON",
    )
    add_token_argument(describe)
    describe.set_defaults(run=_describe)


@guarded
def _describe(args: argparse.Namespace) -> int:
    target = connect_or_index(args.url, token=args.token)
    if isinstance(target, dict):
        descriptions = {name: _description(url, args.token) for name, url in target.items()}
        if args.json:
            print_json(descriptions)
        else:
            print(describe_server(args.url, target, descriptions))
        return 0
    with target as thing:
        if args.json:
            print_json(thing.description)
        else:
            print(describe_thing(thing.url, thing.description))
    return 0


def _description(url: str, token: str | None) -> dict[str, Any]:
    from .command import connect

    with connect(url, token=token) as thing:
        return thing.description


def describe_server(
    url: str, things: Mapping[str, str], descriptions: Mapping[str, Mapping[str, Any]]
) -> str:
    """A server's Things as a person reads them: one paragraph each."""
    count = f"{len(things)} Thing{'' if len(things) == 1 else 's'}"
    lines = [f"The server at {url} serves {count}:", ""]
    for name, thing_url in things.items():
        description = descriptions.get(name, {})
        title = description.get("title") or name
        about = (
            f"{title} - {description['description']}" if description.get("description") else title
        )
        properties = ", ".join(description.get("properties") or ()) or "(none)"
        actions = ", ".join(description.get("actions") or ()) or "(none)"
        lines += [
            f"{name}: {about}",
            f"  {thing_url}",
            f"  properties: {properties}",
            f"  actions: {actions}",
            "",
        ]
    lines.append("Describe a Thing's URL for its properties' and actions' details.")
    return "\n".join(lines)


def describe_thing(url: str, description: Mapping[str, Any]) -> str:
    """A Thing Description as a person reads it: one line per affordance."""
    title = description.get("title", url)
    lines = [f"{title} - {description['description']}" if description.get("description") else title]
    lines += [url, "", "Properties:"]
    properties: Mapping[str, Any] = description.get("properties") or {}
    for name, affordance in properties.items():
        access = "read-only" if affordance.get("readOnly") else "read/write"
        if affordance.get("observable"):
            access += ", observable"
        lines.append(f"  {name}: {describe_schema(affordance)} ({access}){_about(affordance)}")
    if not properties:
        lines.append("  (none)")
    lines += ["", "Actions:"]
    actions: Mapping[str, Any] = description.get("actions") or {}
    for name, affordance in actions.items():
        schema = affordance.get("input") or {}
        required = set(schema.get("required") or ())
        parameters = []
        for parameter, sub in (schema.get("properties") or {}).items():
            text = f"{parameter}: {describe_schema(sub)}"
            if parameter not in required and "default" in sub:
                text += f" = {json.dumps(sub['default'])}"
            parameters.append(text)
        output = describe_schema(affordance["output"]) if affordance.get("output") else "None"
        lines.append(f"  {name}({', '.join(parameters)}) -> {output}{_about(affordance)}")
    if not actions:
        lines.append("  (none)")
    return "\n".join(lines)


def _about(affordance: Mapping[str, Any]) -> str:
    text = affordance.get("description") or affordance.get("title")
    return f"\n      {text}" if text else ""


_BOUNDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
    ("minLength", "length >="),
    ("maxLength", "length <="),
    ("minItems", "items >="),
    ("maxItems", "items <="),
    ("multipleOf", "multiple of"),
    ("pattern", "matching"),
)


def describe_schema(schema: Mapping[str, Any]) -> str:
    """A short, readable summary of a DataSchema: ``number (>= 0, <= 10)``."""
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    options = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(options, list):
        return " | ".join(
            describe_schema(option) for option in options if isinstance(option, Mapping)
        )
    kind = schema.get("type", "any")
    text = " | ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        text += " {" + ", ".join(schema["properties"]) + "}"
    elif kind == "array" and isinstance(schema.get("items"), Mapping):
        text += f" of {describe_schema(schema['items'])}"
    bounds = [f"{words} {schema[key]}" for key, words in _BOUNDS if key in schema]
    return f"{text} ({', '.join(bounds)})" if bounds else text
