"""``labthings-async serve``: serve Things from a config file or a class.

Layer: cli (imports the server to serve; never the manager or routes
directly). Startup problems print one line saying what is wrong and exit
non-zero; no traceback wall. SIGINT and SIGTERM shut the server down; the
process then exits, whatever user code left behind (``run_to_the_end``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ..config import ServerConfig, load_config, make_things, parse_config, server_options
from ..errors import ConfigError, ThingSetupError, UnknownOptionError
from ..tokens import TokenStore

__all__ = ("LOG_LEVELS", "add_serve_command", "banner")

EXIT_CONFIG = 2
EXIT_STARTUP = 1
EXIT_INTERRUPTED = 130
LOG_LEVELS = ("debug", "info", "warning", "error")


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the command line's subcommands."""
    serve = commands.add_parser(
        "serve",
        help="serve Things over HTTP",
        description=(
            "Serve Things over HTTP. TARGET is a JSON config file (LabThings-FastAPI's "
            'format: {"things": {"name": "module:Class"}}) or a Thing class as '
            "module:Class, importable from the current directory; or, as "
            "LabThings-FastAPI's labthings-server takes it, -c CONFIG.json or -j JSON. "
            "Flags override the config file."
        ),
    )
    serve.add_argument("target", metavar="TARGET", nargs="?", help="CONFIG.json or module:Class")
    serve.add_argument(
        "-c", "--config", metavar="FILE", help="a JSON config file (as labthings-server -c)"
    )
    serve.add_argument(
        "-j", "--json", metavar="JSON", help="the config itself, as JSON (as labthings-server -j)"
    )
    serve.add_argument(
        "--fallback",
        action="store_true",
        help="LabThings-FastAPI's error page when the Things cannot start: not available "
        "here (serve prints why and exits non-zero)",
    )
    serve.add_argument(
        "--name",
        help="the Thing's name when TARGET is a class (default: its class name in lower case)",
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--prefix", help="path prefix for every route, e.g. /api")
    serve.add_argument(
        "--debug",
        action="store_true",
        help="put tracebacks in 500 responses, and log at debug level (as labthings-server "
        "--debug does) unless --log-level says otherwise",
    )
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
        default=None,
        help="the least severe log records printed: the server's and the actions' (default info)",
    )
    serve.add_argument(
        "--loop",
        default="asyncio",
        metavar="LOOP",
        help="the event loop: asyncio, Python's own (default), or uvloop, which runs fewer "
        "instructions per request (pip install 'labthings-async[uvloop]'; Linux and macOS)",
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
    """The config the arguments name: TARGET, ``-c FILE`` or ``-j JSON`` (exactly one).

    Raises:
        ConfigError: None of them, or more than one, or the one given is not a valid config.
    """
    given = [
        flag
        for flag, value in (("TARGET", args.target), ("-c", args.config), ("-j", args.json))
        if value
    ]
    if len(given) != 1:
        said = "none" if not given else " and ".join(given)
        raise ConfigError(
            "give one of TARGET (CONFIG.json or module:Class), -c CONFIG.json or -j JSON; "
            f"got {said}"
        )
    target: str = args.target or ""
    if args.json:
        config = parse_config(args.json.encode(), "the -j configuration")
    elif args.config or target.endswith(".json"):
        config = load_config(args.config or target)
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


def _server_options(config: ServerConfig, args: argparse.Namespace) -> dict[str, Any]:
    """ThingServer's keyword options: the config's, then the flags'.

    Raises:
        ConfigError: The config's options hold a key that has a place of its own.
    """
    try:
        options = server_options(config)
    except ConfigError as error:
        raise ConfigError(f"{_where(args)}: {error}") from None
    if args.debug:
        options["debug"] = True
    if args.cors:
        options["cors_origins"] = args.cors
    if args.allowed_host:
        options["allowed_hosts"] = args.allowed_host
    if args.tokens:
        options["tokens"] = TokenStore.from_file(args.tokens)
    return options


def _where(args: argparse.Namespace) -> str:
    """The config, as messages name it."""
    if args.json:
        return "the -j configuration"
    return f"config file {args.config or args.target!r}"


def _serve(args: argparse.Namespace) -> int:
    from hypercorn.config import Config  # Imported here: `--help` stays fast.

    from ..server import ThingServer, run_to_the_end

    if args.fallback:
        print(
            "labthings-async: --fallback (LabThings-FastAPI's error page when the Things "
            "cannot start) is not available: serve prints why it cannot start and exits "
            "non-zero, so run it under a supervisor that shows or restarts it",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    level = args.log_level or ("debug" if args.debug else "info")
    # The server's own log (and the Things' action logs) go to the terminal.
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = _server_config(args)
        things = make_things(config)
        options = _server_options(config, args)
        try:
            server = ThingServer(things, **options)
        except UnknownOptionError as error:
            # Only a config's "options" can hold one: the flags are all known.
            raise ConfigError(f"{_where(args)}: {error}") from None
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

    def show_banner(addresses: list[str]) -> None:
        text = banner(
            addresses, prefix=config.prefix, things=list(things), panel=server.state.panel
        )
        print(text, flush=True)

    try:
        run_to_the_end(
            server.serve(
                f"{config.host}:{config.port}", config=hypercorn_config, ready=show_banner
            ),
            args.loop,
        )
    except ConfigError as error:  # The loop asked for is not installed.
        print(f"labthings-async: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:  # Ctrl-C before the server was up: setup was cancelled.
        print("labthings-async: interrupted while starting", file=sys.stderr)
        return EXIT_INTERRUPTED
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
