"""``labthings-async get`` and ``set``: read and write a Thing's properties.

Layer: cli (stdlib; the client, imported when a command runs).
"""

from __future__ import annotations

import argparse

from .command import add_token_argument, connect, guarded, http_url, parse_value, print_json

__all__ = ("add_property_commands",)


def add_property_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``get`` and ``set`` to the command line's subcommands."""
    get = commands.add_parser(
        "get",
        help="print a property's value (or every property's)",
        description=(
            "Print the value of PROPERTY of the Thing at URL as JSON; without "
            "PROPERTY, every readable property's, as one JSON object."
        ),
        epilog="exit status: 0 done, 2 no such property, 3 server unreachable",
    )
    get.add_argument("url", metavar="URL", type=http_url, help="the Thing's URL")
    get.add_argument("property", metavar="PROPERTY", nargs="?", help="the property's name")
    add_token_argument(get)
    get.set_defaults(run=_get)

    put = commands.add_parser(
        "set",
        help="set a property",
        description=(
            "Set PROPERTY of the Thing at URL to VALUE, once VALUE is checked against "
            "the Thing Description. VALUE is read as JSON when it parses as JSON "
            "(3, true, '[1, 2]'), else as a string; for a string property it is "
            "always the string as written."
        ),
        epilog="exit status: 0 done, 2 no such property, read-only, or an invalid value, "
        "3 server unreachable",
    )
    put.add_argument("url", metavar="URL", type=http_url, help="the Thing's URL")
    put.add_argument("property", metavar="PROPERTY", help="the property's name")
    put.add_argument("value", metavar="VALUE", help="the new value")
    add_token_argument(put)
    put.set_defaults(run=_set)


@guarded
def _get(args: argparse.Namespace) -> int:
    with connect(args.url, token=args.token) as thing:
        if args.property is not None:
            print_json(thing.read_property(args.property))
            return 0
        readable = [
            name
            for name, affordance in thing.thing.properties.items()
            if not affordance.get("writeOnly")
        ]
        print_json({name: thing.read_property(name) for name in readable})
    return 0


@guarded
def _set(args: argparse.Namespace) -> int:
    with connect(args.url, token=args.token) as thing:
        schema = thing.thing.property_affordance(args.property)
        thing.write_property(args.property, parse_value(args.value, schema))
    return 0
