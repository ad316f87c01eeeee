"""``labthings-async watch``: every status change of a server's invocations, live.

Layer: cli (stdlib; the client, imported when the command runs). URL is a
Thing's (its server is watched) or the server's own root.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .command import EXIT_USAGE, PROG, add_token_argument, connect_or_index, fail, guarded, http_url

if TYPE_CHECKING:
    import httpx2

    from ..client import Observation
    from ..models import StatusChange

__all__ = ("add_watch_command",)


def add_watch_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``watch`` to the command line's subcommands."""
    watch = commands.add_parser(
        "watch",
        help="show the invocations of a server as they happen",
        description=(
            "Print a line for every status change of every invocation on the server "
            "at URL (a Thing's URL, or the server's root), live, until Ctrl-C."
        ),
    )
    watch.add_argument(
        "url", metavar="URL", type=http_url, help="a Thing's URL, or the server's root URL"
    )
    watch.add_argument(
        "--only-this-thing", action="store_true", help="only this Thing's invocations"
    )
    watch.add_argument("--action", help="only the invocations of this action")
    add_token_argument(watch)
    watch.set_defaults(run=_watch)


@guarded
def _watch(args: argparse.Namespace) -> int:
    import httpx2

    from ..client._drivers import SyncDriver
    from ..client._observation import Observation
    from ..client._observe import invocations_stream_url, observe_invocations_flow, thing_name
    from ..client._sansio import ClientSettings, auth_headers, http_limits

    settings = ClientSettings(token=args.token)
    with httpx2.Client(
        timeout=settings.timeout,
        limits=http_limits(),
        headers=auth_headers(args.token),
        event_hooks={"response": [_announce]},
    ) as http:
        target = connect_or_index(args.url, http=http, token=args.token)
        if isinstance(target, dict):
            if args.only_this_thing:
                return fail(
                    f"--only-this-thing needs a Thing's URL; {args.url} is a server's", EXIT_USAGE
                )
            root = args.url if args.url.endswith("/") else f"{args.url}/"
            url = invocations_stream_url(root, action=args.action)
        else:
            url = invocations_stream_url(
                target.thing.server_url(),
                thing=thing_name(target.thing) if args.only_this_thing else None,
                action=args.action,
            )
        driver = SyncDriver(http, settings)
        with Observation(
            driver.iterate(observe_invocations_flow(url, settings)), "invocations", url
        ) as changes:
            return _print_changes(changes)


def _print_changes(changes: Observation[StatusChange]) -> int:
    try:
        for change in changes:
            moment = change.time_completed or change.time_started or change.time_requested
            print(
                f"{moment:%H:%M:%S.%f}"[:-3]
                + f"  {change.status.value:<9}  {change.action}  {change.id}",
                flush=True,
            )
    except KeyboardInterrupt:
        return 0
    return 0


def _announce(response: httpx2.Response) -> None:
    path = response.request.url.path
    if path.endswith("/action_invocations/events") and response.status_code == 200:
        print(
            f"{PROG}: watching invocations at {response.request.url} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
