"""The ``labthings-async`` command line.

Layer: client/CLI (imports the server to serve; never the manager or routes
directly). Startup problems print one line saying what is wrong and exit
non-zero; no traceback wall.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..config import ConfigError, ServerConfig, load_config, make_things
from ..errors import ThingSetupError
from .client import add_client_commands

__all__ = ("banner", "main")

EXIT_CONFIG = 2
EXIT_STARTUP = 1


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve Things over HTTP",
        description=(
            "Serve Things over HTTP. TARGET is a JSON config file (LabThings-FastAPI's "
            'format: {"things": {"name": "module:Class"}}) or a Thing class as '
            "module:Class, importable from the current directory."
        ),
    )
    serve.add_argument("target", metavar="TARGET", help="CONFIG.json or module:Class")
    serve.add_argument(
        "--name",
        help="the Thing's name when TARGET is a class (default: its class name in lower case)",
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--prefix", help="path prefix for every route, e.g. /api")
    serve.add_argument("--debug", action="store_true", help="put tracebacks in 500 responses")


def _server_config(args: argparse.Namespace) -> ServerConfig:
    target: str = args.target
    if target.endswith(".json"):
        config = load_config(target)
    else:
        name = args.name or target.rpartition(":")[2].rpartition(".")[2].lower()
        config = ServerConfig(things={name: target})
    if args.host:
        config.host = args.host
    if args.port is not None:
        config.port = args.port
    if args.prefix is not None:
        config.prefix = args.prefix
    return config


_WILDCARD_HOSTS = {"0.0.0.0", "[::]"}


def banner(addresses: Sequence[str], *, prefix: str, things: Sequence[str], panel: bool) -> str:
    """What ``serve`` prints once it listens: where the panel, the docs and each Thing are.

    Args:
        addresses: The addresses bound, as ``host:port``.
        prefix: The path prefix of every route.
        things: The Things' names.
        panel: Whether the control panel and API docs are served.
    """
    roots = []
    everywhere = False
    for address in addresses:
        if address.startswith("unix:"):
            roots.append(address)  # No URL a browser could open; say where it is.
            continue
        host, _, port = address.rpartition(":")
        if host in _WILDCARD_HOSTS:
            # Reachable from this machine at loopback, from others at its own name.
            everywhere = True
            host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        roots.append(f"http://{host}:{port}{prefix}")
    count = f"{len(things)} Thing" + ("" if len(things) == 1 else "s")
    where = " (on every network interface)" if everywhere else ""
    lines = [f"labthings-async: serving {count} at {', '.join(roots)}{where}"]
    rows = [("Control panel", f"{roots[0]}/"), ("API docs", f"{roots[0]}/docs")] if panel else []
    rows += [(name, f"{roots[0]}/{name}/") for name in things]
    width = max(len(label) for label, _ in rows) if rows else 0
    lines += [f"  {label.ljust(width)}  {url}" for label, url in rows]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    from ..server import ThingServer  # Imported here: `--help` stays fast.

    try:
        config = _server_config(args)
        things = make_things(config)
        server = ThingServer(things, prefix=config.prefix, debug=args.debug, **config.options)
    except (ConfigError, ValueError, TypeError) as error:
        print(f"labthings-async: {error}", file=sys.stderr)
        return EXIT_CONFIG

    def show_banner(addresses: list[str]) -> None:
        text = banner(
            addresses, prefix=config.prefix, things=list(things), panel=server.state.panel
        )
        print(text, flush=True)

    try:
        server.run(config.host, config.port, ready=show_banner)
    except ThingSetupError as error:
        print(f"labthings-async: cannot start: {error}", file=sys.stderr)
        return EXIT_STARTUP
    except OSError as error:
        print(
            f"labthings-async: cannot listen on {config.host}:{config.port}: {error.strerror}",
            file=sys.stderr,
        )
        return EXIT_STARTUP
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="labthings-async", description="Lab instruments on the network."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve_parser(commands)
    add_client_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "serve":
        # The server's own log (and the Things' action logs) go to the terminal.
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        return _serve(args)
    if hasattr(args, "run"):  # call, watch, describe (cli_client)
        return int(args.run(args))
    parser.error(f"unknown command {args.command!r}")
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
