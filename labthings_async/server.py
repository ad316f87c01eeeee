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
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.typing import ASGIFramework
from hypercorn.utils import wrap_app

from .config import (
    keyword_options,
    make_thing,
    parse_config,
    reject_unknown_options,
    thing_specs,
)
from .config import server_options as config_options
from .errors import ConfigError, UnsupportedFeatureError
from .http.app import RESERVED_NAMES, ThingApp
from .http.hosts import AllowedHosts, host_name
from .http.limits import ConnectionLimit
from .http.state import ServerState
from .manager import ActionManager
from .server_interface import ThingServerInterface
from .signals import SHUTDOWN_SIGNALS, shutdown_signals
from .thing import Thing
from .tokens import TokenStore

if TYPE_CHECKING:
    from .http.testing import TestClient

from .porting import lt_names

__all__ = ("EVENT_LOOPS", "ThingServer", "run_to_the_end")

ShutdownTrigger = Callable[[], Awaitable[Any]]

LEFTOVERS_TIMEOUT = 1.0
"""Seconds the tasks still on the loop after shutdown get to end once cancelled."""

EXIT_FAILED = 1

logger = logging.getLogger("labthings_async.server")


class ThingServer:
    """Serves a set of Things over HTTP.

    Args:
        things: The Things, by name (each name is a URL path segment).
        prefix: Path prefix of every route, e.g. ``/api``.
        body_limit: Largest request body accepted, in bytes.
        max_wait: Cap on ``Prefer: wait=N``, in seconds.
        sync_timeout: Longest wait for a ``?reply=output`` invocation.
        property_timeout: Longest wait for a functional property's getter or
            setter; a slower one is answered 504, and its thread abandoned.
        debug: Put tracebacks in 500 responses and in invocation logs.
        cors_origins: Origins whose web pages may call the API.
        keepalive: Seconds between keep-alive comments on idle event streams.
        stream_stall_timeout: Seconds an event stream waits for a client that
            has stopped reading; then it is cut off (the client, if it wakes,
            reconnects and resumes).
        panel: Serve the page for people: a live control panel at ``/`` (and
            each Thing's panel at its URL, to browsers) and API docs at
            ``/docs``. False serves the API alone.
        application_config: Anything the application's Things need; each
            reads a copy through ``self._thing_server_interface``, as in
            LabThings-FastAPI.
        allowed_hosts: The host names (``Host`` headers) the server answers
            to; ``*`` for any, ``.example.org`` for a domain and the names
            under it. By default, what it is bound to: the address a request
            reached, the bound host name (the machine's names for
            ``0.0.0.0``), and ``localhost`` on loopback. Others get 421.
        body_timeout: Seconds a request body may take to arrive; a slower
            one gets 408 and its connection is closed.
        max_streams: Most event streams open at once; another gets 503.
        stream_lifetime: Seconds after which the server ends an event stream;
            its client reconnects with ``Last-Event-ID`` and misses nothing
            still buffered. None (the default): a stream lasts until its
            client goes.
        max_connections: Most connections ``serve`` serves at once; another
            gets 503 and is closed. None: as many as the open-file limit
            allows (``serve`` raises it to the hard limit), at most 4,096.
        tokens: Require bearer tokens: a token file's path, its contents
            (``{"operate": [...], "observe": [...]}``) or a ``TokenStore``.
            None (the default): anyone who can reach the server may use it.
        **manager_options: ``max_threads``, ``max_pending``, ``retention``,
            ``max_retained``, ``log_len``, ``shutdown_grace`` and the other
            options of ``ActionManager``.

    ``things`` may also be LabThings-FastAPI's config, a mapping with a
    ``"things"`` key (``ThingServer({"things": {"stage": "mylab:Stage"}})``):
    it is read as ``from_config`` reads it.

    Raises:
        UnknownOptionError: An option it does not have (``max_thread=4``);
            the message names the valid ones and the nearest.
        TypeError: ``things`` holds something other than Thing instances
            (a class, say: ``from_things`` constructs those).

    Attributes:
        prefix: The path prefix of every route.
        application_config: What the Things read as their application config.
        allowed_hosts: The host names the server answers to.
        connections: The count of open connections ``serve`` keeps, and its limits.
        manager: The ActionManager running the invocations.
        state: What the routes share: the manager, the settings, the open streams.
        app: The Starlette app (an ASGI app; mount it, serve it, or test it
            with Starlette's ``TestClient``).
    """

    def __init__(
        self,
        things: Mapping[str, Any],
        *,
        prefix: str = "",
        body_limit: int = 1024 * 1024,
        max_wait: float = 30.0,
        sync_timeout: float = 300.0,
        property_timeout: float = 60.0,
        debug: bool = False,
        cors_origins: Sequence[str] = (),
        keepalive: float = 15.0,
        stream_stall_timeout: float = 30.0,
        panel: bool = True,
        application_config: Mapping[str, Any] | None = None,
        allowed_hosts: Sequence[str] | None = None,
        body_timeout: float = 30.0,
        max_streams: int = 1000,
        stream_lifetime: float | None = None,
        max_connections: int | None = None,
        tokens: TokenStore | Mapping[str, Sequence[str]] | str | Path | None = None,
        **manager_options: Any,
    ) -> None:
        if isinstance(things.get("things"), Mapping):  # LabThings-FastAPI's ThingServer(config)
            things, from_config = _read_config(things)
            prefix = from_config.pop("prefix", prefix)
            application_config = from_config.pop("application_config", application_config)
            manager_options = {**from_config, **manager_options}
        instances = {name: thing for name, thing in things.items() if isinstance(thing, Thing)}
        not_things = sorted(things.keys() - instances.keys())
        if not_things:
            raise TypeError(
                f"ThingServer takes Thing instances by name, but {not_things} are not; to "
                "construct Things from their classes or 'module:Class' names, use "
                "ThingServer.from_things({...}) (LabThings-FastAPI's way)"
            )
        reserved = RESERVED_NAMES & set(instances)
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
        self.application_config = application_config
        self.manager = ActionManager(instances, debug=debug, **manager_options)
        for name, thing in instances.items():
            interface = getattr(thing, "_thing_server_interface", None)
            if interface is None:
                interface = thing._thing_server_interface = ThingServerInterface(name)
            interface.attach(self, type(thing).__name__)
        self.state = ServerState(
            self.manager,
            body_limit=body_limit,
            max_wait=max_wait,
            sync_timeout=sync_timeout,
            property_timeout=property_timeout,
            debug=debug,
            keepalive=keepalive,
            stream_stall_timeout=stream_stall_timeout,
            panel=panel,
            body_timeout=body_timeout,
            max_streams=max_streams,
            stream_lifetime=stream_lifetime,
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

    @property
    def settings_folder(self) -> str | Path | None:
        """Where the Things' settings are kept (None: in memory only)."""
        return self.manager.settings_folder

    @classmethod
    def from_things(
        cls, things: Mapping[str, Any], debug: bool = False, **options: Any
    ) -> ThingServer:
        """A server for Things given as classes, ``module:Class`` names, configs or instances.

        LabThings-FastAPI's way to make a server: each class is constructed
        (given ``thing_server_interface`` if its constructor takes it); a
        config is ``{"class": ..., "args": [...], "kwargs": {...}}``.

        Args:
            things: Each Thing's name and what to make it from.
            debug: Put tracebacks in 500 responses.
            **options: ThingServer's options, or LabThings-FastAPI's config
                keys (``api_prefix``, ``application_config``...).

        Raises:
            ConfigError: A Thing cannot be made; the message says which and why.
        """
        specs = thing_specs(things, options, "ThingServer.from_things")
        made = {name: make_thing(name, spec) for name, spec in specs.items()}
        if "api_prefix" in options:
            options.setdefault("prefix", options.pop("api_prefix"))
        return cls(made, debug=debug, **options)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], debug: bool = False) -> ThingServer:
        """A server from a config (a file's contents, as a mapping), as ``serve`` makes one.

        Raises:
            ConfigError: The config is not valid, or a Thing cannot be made.
        """
        return cls(config, debug=debug)

    def test_client(self) -> TestClient:
        """A Starlette ``TestClient`` for the app; entered, it runs the Things.

        LabThings-FastAPI's method: ``with server.test_client() as client:``
        runs setup (and ``__enter__``), answers ``client.get(...)`` without
        a socket, and tears down at the end of the block. Needs ``httpx``, as
        Starlette's TestClient does.
        """
        from .http.testing import open_test_client  # Needs httpx, which serving does not.

        return open_test_client(self.app)

    def __repr__(self) -> str:
        state = "running" if self._active else "not running"
        return f"<ThingServer of {sorted(self.manager.things)} at {self.prefix or '/'} ({state})>"

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """Run the manager (and so the Things' setup and teardown) around the app.

        Re-entering while it is already running does nothing, so ``serve()``
        can start the Things itself, before binding, and the app's own
        lifespan inside hypercorn then finds them running.

        In a host app, it also hears the SIGINT or SIGTERM the host handles
        (see ``signals.py``): event streams and held requests end at once, so
        the host, which waits for open connections before the lifespan's
        shutdown, is not held up by them.
        """
        return self._run_things(hear_signals=True)

    @asynccontextmanager
    async def _run_things(self, *, hear_signals: bool) -> AsyncIterator[None]:
        if self._active:
            yield
            return
        self._active = True
        self.state.closing = False  # Served again after a shutdown.
        try:
            with shutdown_signals(self.begin_shutdown) if hear_signals else nullcontext():
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
        ready: Callable[[list[str]], object] | None = None,
    ) -> None:
        """Serve until ``shutdown_trigger`` returns (default: SIGINT or SIGTERM).

        Args:
            bind: ``host:port``, ``unix:PATH`` or ``fd://N``, or a list of them.
                The default is loopback only, never all interfaces.
            shutdown_trigger: An awaitable factory; when it returns, the server
                stops taking requests, releases held ones, and shuts down.
            config: A hypercorn Config for anything else (its bind is replaced).
            ready: Called once the Things are set up and the sockets bound,
                with the addresses bound (``host:port``), e.g. to print them.
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
        async with self._run_things(hear_signals=False):  # The trigger hears them.
            sockets = self._bind_now(config)
            if ready is not None:
                ready(_addresses(sockets))
            # hypercorn.asyncio.serve, given the sockets: bound here, and counting.
            await worker_serve(
                wrap_app(app, config.wsgi_max_body_size, None),
                config,
                sockets=sockets,
                shutdown_trigger=shutdown,
            )

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 5000,
        *,
        ready: Callable[[list[str]], object] | None = None,
        loop: str = "asyncio",
    ) -> None:
        """Serve on ``host:port`` until SIGINT or SIGTERM (blocking); ``ready`` as in ``serve``.

        ``loop`` is the event loop to run on (see ``run_to_the_end``). The
        loop then ends, however user code behaves.
        """
        run_to_the_end(self.serve(f"{host}:{port}", ready=ready), loop)

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


EVENT_LOOPS = ("asyncio", "uvloop")
"""The event loops a server can run on: Python's own (the default), or uvloop."""


def run_to_the_end(main: Coroutine[Any, Any, None], loop: str = "asyncio") -> None:
    """Run ``main`` on a new event loop of the kind named, then end, even if tasks will not.

    ``uvloop`` (the ``uvloop`` extra; Linux and macOS) runs some 12-18% fewer
    instructions per request than Python's own loop, though the benchmarks
    measured no lower CPU time (see their README); ``asyncio`` runs everywhere.

    ``asyncio.run`` cancels the tasks still on the loop when ``main`` ends,
    then waits for every one of them: a task user code started that ignores
    its cancellation would keep the process alive for good. The server has
    shut down by then (its abandoned invocations closed, its threads daemon
    threads); what remains gets ``LEFTOVERS_TIMEOUT`` seconds, and if any is
    still there the process exits at once, saying so.

    Raises:
        ConfigError: ``loop`` is not one of ``EVENT_LOOPS``, or uvloop is not installed.
    """
    runner = asyncio.Runner(loop_factory=_loop_factory(main, loop))
    try:
        runner.run(main)
    finally:
        stuck = runner.run(_end_leftovers())
        if stuck:
            logger.warning(
                "%d task(s) left on the event loop ignored their cancellation; exiting "
                "without them: %s",
                len(stuck),
                ", ".join(sorted(task.get_name() for task in stuck)),
            )
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_FAILED if sys.exc_info()[0] is not None else 0)
        runner.close()


def _loop_factory(
    main: Coroutine[Any, Any, None], loop: str
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the event loop named (None: asyncio's own); ``main`` closed if there is none."""
    if loop == "asyncio":
        return None
    if loop != "uvloop":
        main.close()
        raise ConfigError(f"unknown event loop {loop!r}; choose one of {', '.join(EVENT_LOOPS)}")
    try:
        import uvloop
    except ImportError:
        main.close()
        raise ConfigError(
            "the uvloop event loop is not installed: pip install 'labthings-async[uvloop]'"
        ) from None
    return uvloop.new_event_loop


async def _end_leftovers() -> set[asyncio.Task[Any]]:
    """Cancel every other task on the loop; those still running ``LEFTOVERS_TIMEOUT`` s later."""
    this = asyncio.current_task()
    leftovers = {task for task in asyncio.all_tasks() if task is not this}
    for task in leftovers:
        task.cancel()
    if not leftovers:
        return set()
    _, pending = await asyncio.wait(leftovers, timeout=LEFTOVERS_TIMEOUT)
    return pending


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


def _read_config(config: Mapping[str, Any]) -> tuple[dict[str, Thing], dict[str, Any]]:
    """LabThings-FastAPI's ``ThingServer(config)``: the Things made, and the options."""
    # The Things may be given as classes, which a config file cannot hold: made apart.
    where = "the config given to ThingServer"
    parsed = parse_config({**config, "things": {}}, where)
    if parsed.host != "127.0.0.1" or parsed.port != 5000:
        raise UnsupportedFeatureError(
            "a config given to ThingServer(...) cannot say where to listen; pass host and "
            "port to server.run(...) or serve(...) instead"
        )
    specs = thing_specs(config["things"], parsed.options, where)
    things = {name: make_thing(name, spec) for name, spec in specs.items()}
    return things, config_options(parsed)


def _addresses(sockets: Sockets) -> list[str]:
    """The addresses bound, as ``host:port`` (``unix:PATH`` for a Unix socket)."""
    return [_address(sock) for sock in (*sockets.secure_sockets, *sockets.insecure_sockets)]


def _address(sock: socket.socket) -> str:
    name = sock.getsockname()
    if isinstance(name, str):
        return f"unix:{name}"
    host, port = name[0], name[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _signal_trigger() -> ShutdownTrigger:
    """A trigger that fires on SIGINT or SIGTERM."""

    async def wait_for_signal() -> None:
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        for signum in SHUTDOWN_SIGNALS:
            loop.add_signal_handler(signum, received.set)
        try:
            await received.wait()
        finally:
            for signum in SHUTDOWN_SIGNALS:
                loop.remove_signal_handler(signum)

    return wait_for_signal


if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
