"""What the client commands share: the URL argument, values, connecting, and exit statuses.

Layer: cli (stdlib; the client, imported when a command runs so ``--help``
stays fast). Every failure a user can cause or meet prints one line saying
what went wrong, on stderr, and exits non-zero:

- 1: the action failed, or was cancelled by someone else;
- 2: bad arguments, or no such Thing, action or property;
- 3: the server cannot be reached, or refused the request;
- 4: interrupted, but the invocation was not cancelled: it ignored the cancel,
  had not stopped in time, or the server could not be told;
- 130: interrupted (Ctrl-C), 143: terminated (SIGTERM); a running ``call`` is
  cancelled on the server first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client._sync import ThingClient

__all__ = (
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_CANCELLED",
    "EXIT_TERMINATED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "PROG",
    "TOKEN_VARIABLE",
    "Command",
    "add_token_argument",
    "connect",
    "connect_or_index",
    "fail",
    "guarded",
    "http_url",
    "interrupted",
    "parse_arguments",
    "parse_value",
    "print_json",
    "server_things",
    "sigterm_as_ctrl_c",
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_NOT_CANCELLED = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

PROG = "labthings-async"

Command = Callable[[argparse.Namespace], int]


def http_url(text: str) -> str:
    """A URL argument (argparse ``type``): ``http://`` is assumed when it has no scheme.

    As curl does: the server speaks plain HTTP unless it was set up for TLS,
    so ``localhost:5000/stage/`` means ``http://localhost:5000/stage/``.

    Raises:
        argparse.ArgumentTypeError: It has a scheme other than http or https.
    """
    scheme, separator, _ = text.partition("://")
    if not separator:
        return f"http://{text}"
    if scheme.lower() not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def parse_value(raw: str, schema: Mapping[str, Any] | None = None) -> Any:
    """A value from the command line: JSON when it parses as JSON, else the string itself.

    Where the schema wants a string, the text is taken as it is, so
    ``label=123`` sets the string ``"123"``.
    """
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(value, str) and schema is not None and _wants_string(schema):
        return raw
    return value


def _wants_string(schema: Mapping[str, Any]) -> bool:
    choices = schema.get("enum")
    if isinstance(choices, list) and choices:
        return all(isinstance(choice, str) for choice in choices)
    return schema.get("type") == "string"


def parse_arguments(
    tokens: Sequence[str], schemas: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """``key=value`` tokens as action arguments, each value read by ``parse_value``.

    Args:
        tokens: The tokens.
        schemas: The action's parameters' schemas, by name.

    Raises:
        ValueError: A token is not ``key=value``.
    """
    arguments: dict[str, Any] = {}
    for token in tokens:
        key, equals, raw = token.partition("=")
        if not equals or not key:
            raise ValueError(f"argument {token!r} is not of the form key=value")
        arguments[key] = parse_value(raw, (schemas or {}).get(key))
    return arguments


def print_json(value: Any) -> None:
    """Print a value as JSON on stdout, as the commands' output."""
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


def fail(message: str, status: int) -> int:
    """Print ``labthings-async: message`` on stderr; return ``status``."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return status


TOKEN_VARIABLE = "LABTHINGS_TOKEN"
"""The environment variable a client command reads its token from, without ``--token``."""


def add_token_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--token`` to a client command (its default: ``LABTHINGS_TOKEN``, if set)."""
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE) or None,
        help=f"the bearer token for a server that wants one (default: ${TOKEN_VARIABLE}); "
        "the environment keeps it out of the shell's history and the process list",
    )


def connect(url: str, **options: Any) -> ThingClient:
    """A blocking client for the Thing at ``url``."""
    from ..client._sync import ThingClient

    return ThingClient.from_url(url, **options)


def connect_or_index(url: str, **options: Any) -> ThingClient | dict[str, str]:
    """A client for the Thing at ``url``; or, if ``url`` is a server's root, its Things' URLs.

    Raises:
        NotFoundError: ``url`` is neither a Thing's nor a server's.
        ServerUnavailableError: The server cannot be reached.
    """
    from ..client.errors import RequestFailedError
    from ..errors import NotFoundError

    try:
        return connect(url, **options)
    except (NotFoundError, RequestFailedError) as not_a_thing:
        things = server_things(url, options.get("token"))
        if things is None:
            raise NotFoundError(
                f"{url} is neither a Thing (no Thing Description) nor a server (no "
                "things/ index); give a Thing's URL, such as http://host:5000/my_thing/, "
                "or a server's, such as http://host:5000/"
            ) from not_a_thing
        return things


def server_things(url: str, token: str | None = None) -> dict[str, str] | None:
    """The Things of the server whose root is ``url`` (name to URL), or None if it is not one.

    Raises:
        ServerUnavailableError: The server cannot be reached.
    """
    import httpx2

    from ..client._drivers import SyncDriver
    from ..client._sansio import ClientSettings, Request, auth_headers, http_limits

    settings = ClientSettings(token=token)
    with httpx2.Client(
        timeout=settings.timeout, limits=http_limits(), headers=auth_headers(token)
    ) as http:
        response = SyncDriver(http, settings).send(Request("GET", f"{_slashed(url)}things/"))
    try:
        index = response.json() if response.status_code == 200 else None
    except ValueError:
        return None
    if not isinstance(index, dict) or not all(isinstance(url, str) for url in index.values()):
        return None
    return index


def _slashed(url: str) -> str:
    return url if url.endswith("/") else f"{url}/"


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[threading.Event]:
    """Within it, SIGTERM does what Ctrl-C does; the event yielded says whether it came.

    It is turned into a SIGINT, so whatever holds or handles Ctrl-C (the
    client holds it while the request that starts an invocation is in
    flight) treats it alike.
    """
    terminated = threading.Event()

    def terminate(signum: int, frame: FrameType | None) -> None:
        terminated.set()
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(terminated: threading.Event) -> int:
    """Say that the command was stopped, and return its exit status: 143 SIGTERM, 130 Ctrl-C."""
    if terminated.is_set():
        return fail("terminated", EXIT_TERMINATED)
    return fail("interrupted", EXIT_INTERRUPTED)


def guarded(command: Command) -> Command:
    """Turn the client's errors into one-line messages and exit statuses."""

    def run(args: argparse.Namespace) -> int:
        from ..client.errors import ActionCancelledError, ActionFailedError
        from ..errors import InvalidInputError, LabThingsError, NotFoundError, ReadOnlyPropertyError

        try:
            return command(args)
        except (InvalidInputError, NotFoundError, ReadOnlyPropertyError) as error:
            return fail(str(error), EXIT_USAGE)
        except (ActionFailedError, ActionCancelledError) as error:
            return fail(str(error), EXIT_FAILED)
        except LabThingsError as error:
            return fail(str(error), EXIT_UNAVAILABLE)
        except KeyboardInterrupt:
            return fail("interrupted", EXIT_INTERRUPTED)

    return run
