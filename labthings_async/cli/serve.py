"""``labthings-async serve``: serve Things from a config file or a class.

Layer: cli (imports the server to serve; never the manager or routes
directly). Startup problems print one line saying what is wrong and exit
non-zero; no traceback wall.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from ..config import ServerConfig, load_config, make_things
from ..errors import ConfigError, ThingSetupError, UnknownOptionError
from ..tokens import TokenStore

__all__ = ("LOG_LEVELS", "add_serve_command")

EXIT_CONFIG = 2
EXIT_STARTUP = 1
LOG_LEVELS = ("debug", "info", "warning", "error")


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the command line's subcommands."""
    serve = commands.add_parser(
        "serve",
        help="serve Things over HTTP",
        description=(
            "Serve Things over HTTP. TARGET is a JSON config file (LabThings-FastAPI's "
            'format: {"things": {"name": "module:Class"}}) or a Thing class as '
            "module:Class, importable from the current directory. Flags override the "
            "config file."
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
    serve.add_argument(
        "--cors",
        metavar="ORIGIN",
        action="append",
        help="let web pages from ORIGIN (e.g. http://localhost:8080, or *) call the API; "
        "repeat for more origins",
    )
    serve.add_argument(
        "--allowed-host",
        metavar="NAME",
        action="append",
        help="a host name clients may reach the server by (its Host header), besides what "
        "it is bound to; .example.org allows a domain, * any name; repeat for more",
    )
    serve.add_argument(
        "--tokens",
        metavar="FILE",
        help='require bearer tokens: FILE is a JSON object {"operate": [...], "observe": [...]} '
        "of tokens (or sha256:HEX digests of them); observe reads and watches, operate also "
        "invokes, writes and cancels",
    )
    serve.add_argument(
        "--certfile", metavar="FILE", help="serve HTTPS with this certificate (PEM) chain"
    )
    serve.add_argument("--keyfile", metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="the least severe log records printed: the server's and the actions' (default info)",
    )
    serve.add_argument(
        "--access-log",
        metavar="FILE",
        nargs="?",
        const="-",
        help="log every request: to the server's log on stderr, or appended to FILE",
    )
    serve.set_defaults(run=_serve)


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


def _server_options(config: ServerConfig, args: argparse.Namespace) -> dict[str, Any]:
    """ThingServer's keyword options: the config file's, then the flags'.

    Raises:
        ConfigError: The config file's options hold ``prefix``, which has a key of its own.
    """
    if "prefix" in config.options:
        raise ConfigError(
            f'config file {args.target!r}: put "prefix" at the top level, not in "options"'
        )
    options: dict[str, Any] = {**config.options, "prefix": config.prefix}
    if args.debug:
        options["debug"] = True
    if args.cors:
        options["cors_origins"] = args.cors
    if args.allowed_host:
        options["allowed_hosts"] = args.allowed_host
    if args.tokens:
        options["tokens"] = TokenStore.from_file(args.tokens)
    return options


def _serve(args: argparse.Namespace) -> int:
    from hypercorn.config import Config  # Imported here: `--help` stays fast.

    from ..server import ThingServer

    # The server's own log (and the Things' action logs) go to the terminal.
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = _server_config(args)
        things = make_things(config)
        options = _server_options(config, args)
        try:
            server = ThingServer(things, **options)
        except UnknownOptionError as error:
            # Only a config file's "options" can hold one: the flags are all known.
            raise ConfigError(f"config file {args.target!r}: {error}") from None
    except (ConfigError, ValueError, TypeError) as error:
        print(f"labthings-async: {error}", file=sys.stderr)
        return EXIT_CONFIG
    hypercorn_config = Config()
    if bool(args.certfile) != bool(args.keyfile):
        print("labthings-async: HTTPS needs both --certfile and --keyfile", file=sys.stderr)
        return EXIT_CONFIG
    hypercorn_config.certfile = args.certfile
    hypercorn_config.keyfile = args.keyfile
    if args.certfile:
        try:
            hypercorn_config.create_ssl_context()  # Fails here, in a line, if it cannot work.
        except OSError as error:
            print(
                f"labthings-async: cannot use the certificate {args.certfile!r} and key "
                f"{args.keyfile!r}: {error.strerror or error}",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    if args.access_log == "-":
        access = logging.getLogger("hypercorn.access")
        access.setLevel(logging.INFO)  # Asked for: shown whatever --log-level says.
        hypercorn_config.accesslog = access
    elif args.access_log:
        hypercorn_config.accesslog = args.access_log
    try:
        asyncio.run(server.serve(f"{config.host}:{config.port}", config=hypercorn_config))
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
