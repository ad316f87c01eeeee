"""The ``labthings-async`` command line: its parser, ``--version``, and a closed pipe.

Layer: cli. Each command lives in a module of its own and adds its parser
here; running one returns the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from .call import add_call_command
from .command import EXIT_FAILED
from .describe import add_describe_command
from .properties import add_property_commands
from .serve import add_serve_command
from .watch import add_watch_command

__all__ = ("main",)


def _version() -> str:
    try:
        return version("labthings-async")
    except PackageNotFoundError:  # Run from a checkout that was never installed.
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="labthings-async", description="Lab instruments on the network."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    add_call_command(commands)
    add_property_commands(commands)
    add_watch_command(commands)
    add_describe_command(commands)
    args = parser.parse_args(argv)
    try:
        status = int(args.run(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`describe URL | head -1`): what it read is all
        # it wanted. Python would print a traceback, then another at exit
        # when it flushes stdout again, so stdout now goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
