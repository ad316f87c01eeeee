"""ThingServer: Things, an ActionManager and the app, served by hypercorn.

Layer: server (the only module besides the CLI that imports hypercorn). The
lifespan starts the manager, which sets up the Things, and stops it in
reverse. For a host app that mounts ours, ``server.lifespan()`` is the async
context manager to compose into its own lifespan, since Starlette does not run
a mounted app's lifespan.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.typing import ASGIFramework
from hypercorn.utils import wrap_app

from .config import keyword_options, reject_unknown_options
from .http.app import RESERVED_NAMES, ThingApp
from .http.hosts import AllowedHosts, host_name
from .http.limits import ConnectionLimit
from .http.state import ServerState
from .manager import ActionManager
from .thing import Thing
from .tokens import TokenStore

__all__ = ("ThingServer",)

ShutdownTrigger = Callable[[], Awaitable[Any]]
logger = logging.getLogger("labthings_async.server")


class ThingServer:
    """Serves a set of Things over HTTP.

    Args:
        things: The Things, by name (each name is a URL path segment).
        prefix: Path prefix of every route, e.g. ``/api``.
        body_limit: Largest request body accepted, in bytes.
        max_wait: Cap on ``Prefer: wait=N``, in seconds.
        sync_timeout: Longest wait for a ``?reply=output`` invocation.
        debug: Put tracebacks in 500 responses and in invocation logs.
        cors_origins: Origins whose web pages may call the API.
        keepalive: Seconds between keep-alive comments on idle event streams.
        allowed_hosts: The host names (``Host`` headers) the server answers
            to; ``*`` for any, ``.example.org`` for a domain and the names
            under it. By default, what it is bound to: the address a request
            reached, the bound host name (the machine's names for
            ``0.0.0.0``), and ``localhost`` on loopback. Others get 421.
        body_timeout: Seconds a request body may take to arrive; a slower
            one gets 408 and its connection is closed.
        max_streams: Most event streams open at once; another gets 503.
        max_connections: Most connections ``serve`` serves at once; another
            gets 503 and is closed. None: as many as the open-file limit
            allows (``serve`` raises it to the hard limit), at most 4,096.
        tokens: Require bearer tokens: a token file's path, its contents
            (``{"operate": [...], "observe": [...]}``) or a ``TokenStore``.
            None (the default): anyone who can reach the server may use it.
        **manager_options: ``max_threads``, ``max_pending``, ``retention``,
            ``max_retained``, ``log_len``, ``shutdown_grace`` and the other
            options of ``ActionManager``.

    Raises:
        UnknownOptionError: An option it does not have (``max_thread=4``);
            the message names the valid ones and the nearest.

    Attributes:
        prefix: The path prefix of every route.
        allowed_hosts: The host names the server answers to.
        connections: The count of open connections ``serve`` keeps, and its limits.
        manager: The ActionManager running the invocations.
        state: What the routes share: the manager, the settings, the open streams.
        app: The Starlette app (an ASGI app; mount it, serve it, or test it
            with Starlette's ``TestClient``).
    """

    def __init__(
        self,
        things: Mapping[str, Thing],
        *,
        prefix: str = "",
        body_limit: int = 1024 * 1024,
        max_wait: float = 30.0,
        sync_timeout: float = 300.0,
        debug: bool = False,
        cors_origins: Sequence[str] = (),
        keepalive: float = 15.0,
        allowed_hosts: Sequence[str] | None = None,
        body_timeout: float = 30.0,
        max_streams: int = 1000,
        max_connections: int | None = None,
        tokens: TokenStore | Mapping[str, Sequence[str]] | str | Path | None = None,
        **manager_options: Any,
    ) -> None:
        reserved = RESERVED_NAMES & set(things)
        if reserved:
            raise ValueError(
                f"{sorted(reserved)} cannot name a Thing: the server uses those paths itself"
            )
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"prefix {prefix!r} must start with '/' and not end with one")
        accepted = keyword_options(ThingServer, ActionManager, leave_out=["things"])
        reject_unknown_options(manager_options, accepted, owner="ThingServer")
        self._active = False
        self.prefix = prefix
        self.manager = ActionManager(things, debug=debug, **manager_options)
        self.state = ServerState(
            self.manager,
            body_limit=body_limit,
            max_wait=max_wait,
            sync_timeout=sync_timeout,
            debug=debug,
            keepalive=keepalive,
            body_timeout=body_timeout,
            max_streams=max_streams,
            tokens=_token_store(tokens),
        )
        self.allowed_hosts = AllowedHosts(allowed_hosts)
        self.connections = ConnectionLimit(max_connections)
        self.app = ThingApp(
            self.state,
            prefix=prefix,
            lifespan=self.lifespan,
            cors_origins=cors_origins,
            allowed_hosts=self.allowed_hosts,
            connections=self.connections,
        )

    def __repr__(self) -> str:
        state = "running" if self._active else "not running"
        return f"<ThingServer of {sorted(self.manager.things)} at {self.prefix or '/'} ({state})>"

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the manager (and so the Things' setup and teardown) around the app.

        Re-entering while it is already running does nothing, so ``serve()``
        can start the Things itself, before binding, and the app's own
        lifespan inside hypercorn then finds them running.
        """
        if self._active:
            yield
            return
        self._active = True
        try:
            async with self.manager:
                yield
        finally:
            self._active = False

    def begin_shutdown(self) -> None:
        """Close event streams and held requests so connections can close (loop thread)."""
        self.state.begin_shutdown()

    async def serve(
        self,
        bind: str | Sequence[str] = "127.0.0.1:5000",
        *,
        shutdown_trigger: ShutdownTrigger | None = None,
        config: Config | None = None,
    ) -> None:
        """Serve until ``shutdown_trigger`` returns (default: SIGINT or SIGTERM).

        Args:
            bind: ``host:port``, ``unix:PATH`` or ``fd://N``, or a list of them.
                The default is loopback only, never all interfaces.
            shutdown_trigger: An awaitable factory; when it returns, the server
                stops taking requests, releases held ones, and shuts down.
            config: A hypercorn Config for anything else (its bind is replaced).
        """
        config = config or Config()
        config.bind = [bind] if isinstance(bind, str) else list(bind)
        for address in config.bind:
            if address.startswith(("unix:", "fd://")):
                continue
            self.allowed_hosts.add_bind(address)
            if self.state.tokens is None and _reachable_from_the_network(address):
                logger.warning(
                    "serving on %s, which is reachable from the network, WITHOUT "
                    "AUTHENTICATION: anyone who can reach it can drive the hardware. Give "
                    "it tokens (labthings-async serve --tokens FILE) and TLS (--certfile, "
                    "--keyfile), or bind it to 127.0.0.1",
                    address,
                )
        if config.errorlog == "-" and logging.getLogger().handlers:
            # The program has configured logging: log through it. hypercorn's own
            # stderr handler would print every line a second time, via the root.
            config.errorlog = logging.getLogger("hypercorn.error")
        trigger = shutdown_trigger or _signal_trigger()

        async def shutdown() -> None:
            await trigger()
            self.begin_shutdown()

        app: ASGIFramework = self.app  # type: ignore[assignment]
        # Start the Things before binding, so a failing setup is a plain
        # ThingSetupError here rather than a lifespan failure inside hypercorn.
        async with self.lifespan():
            sockets = self._bind_now(config)
            # hypercorn.asyncio.serve, given the sockets: bound here, and counting.
            await worker_serve(
                wrap_app(app, config.wsgi_max_body_size, None),
                config,
                sockets=sockets,
                shutdown_trigger=shutdown,
            )

    def run(self, host: str = "127.0.0.1", port: int = 5000) -> None:
        """Serve on ``host:port`` until SIGINT or SIGTERM (blocking)."""
        asyncio.run(self.serve(f"{host}:{port}"))

    def _bind_now(self, config: Config) -> Sockets:
        """Bind the sockets here, each counting the connections it accepts.

        hypercorn binds only after it has started the app's lifespan, and a bind
        that fails (a busy port) leaves that lifespan task behind, to be cancelled
        at loop shutdown with a traceback wall. Bound here, a busy port is a plain
        ``OSError`` from ``serve()``. The open-file limit is raised first, and
        the connection limits fitted to it.

        Raises:
            OSError: A socket cannot be bound.
        """
        sockets = config.create_sockets()
        self.connections.fit_to_process()
        counting = self.connections.listening
        return Sockets(
            secure_sockets=[counting(sock) for sock in sockets.secure_sockets],
            insecure_sockets=[counting(sock) for sock in sockets.insecure_sockets],
            quic_sockets=sockets.quic_sockets,
        )


def _token_store(
    tokens: TokenStore | Mapping[str, Sequence[str]] | str | Path | None,
) -> TokenStore | None:
    if tokens is None or isinstance(tokens, TokenStore):
        return tokens
    if isinstance(tokens, str | Path):
        return TokenStore.from_file(tokens)
    return TokenStore(tokens)


def _reachable_from_the_network(address: str) -> bool:
    """True if a ``host:port`` bind may be reached from beyond this machine."""
    host = host_name(address)
    if host in ("localhost", "ip6-localhost") or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # A name, which may stand for any interface.


def _signal_trigger() -> ShutdownTrigger:
    """A trigger that fires on SIGINT or SIGTERM."""

    async def wait_for_signal() -> None:
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, received.set)
        try:
            await received.wait()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return wait_for_signal
