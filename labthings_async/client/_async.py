"""The asyncio Thing client: ``AsyncThingClient`` and its action handles.

Layer: client (stdlib, httpx2, and the client modules below it; never the
manager, routes, server, Starlette or hypercorn). Requests, what replies mean
and the multi-step flows come from the modules it shares with the sync client
(``_thing``, ``_invocation``, ``_observe``, ``_base``); ``_drivers.AsyncDriver``
performs them.

A call that waits for its action (``await client.move(...)``,
``invoke_action``) owns the invocation: when the task awaiting it is
cancelled (``asyncio.timeout``, ``wait_for``, a task group giving up), it
cancels the invocation on the server too, as the sync client does on Ctrl-C,
logs what came of it, and lets the cancellation go on. A handle from
``start_action`` is the caller's to cancel: cancelling a wait on it leaves
the invocation running.

One ``httpx2.AsyncClient`` carries every request, with connection limits wide
enough for many invocations followed at once (each open event stream holds a
connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

import httpx2

from ..models import LogEntry, Progress, StatusChange
from ._base import ThingClientBase
from ._blob import AsyncRemoteBlob, blob_link
from ._drivers import AsyncDriver
from ._invocation import (
    CancelOutcome,
    InvocationEvent,
    InvocationState,
    InvocationView,
    cancel_outcome,
    describe_cancel,
    follow_invocation,
    invoking,
)
from ._observation import AsyncObservation
from ._observe import (
    invocations_stream_url,
    observe_invocations_flow,
    observe_property_flow,
    property_stream_url,
    thing_name,
)
from ._sansio import (
    ClientSettings,
    Request,
    auth_headers,
    http_limits,
)
from ._thing import (
    accept_cancel,
    description_request,
    invoke_prepared,
    parse_description,
    property_value,
    property_written,
)
from .errors import ClientError

__all__ = ("AsyncActionHandle", "AsyncThingClient", "remote_output")

logger = logging.getLogger("labthings_async.client")


class AsyncActionHandle(InvocationView):
    """A running invocation, followed in the background; made by ``start_action``.

    ``status``, ``progress`` and ``log`` are kept up to date as events arrive.
    ``async for event in handle`` yields every ``InvocationEvent`` from the
    start, then live, and ends when the invocation does.

    Attributes:
        cancellation: What came of the last ``cancel_and_wait``; None if there was none.
    """

    def __init__(
        self, state: InvocationState, driver: AsyncDriver, flow: AsyncGenerator[Any]
    ) -> None:
        super().__init__(state)
        self._driver = driver
        self.cancellation: CancelOutcome | None = None
        self._changed = asyncio.Event()
        state.listeners.append(self._wake)
        self._task = asyncio.get_running_loop().create_task(self._follow(flow))

    def _wake(self, event: InvocationEvent | None = None) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _follow(self, flow: AsyncGenerator[Any]) -> None:
        """Run the rest of the invocation's flow: following it, once it is named."""
        try:
            async with contextlib.aclosing(flow):
                async for _ in flow:
                    pass
        except asyncio.CancelledError:
            self._state.fail(
                ClientError(f"stopped following invocation {self.id}: the client closed")
            )
            raise
        except Exception as error:  # Kept for result(), which raises it.
            self._state.fail(error)
        finally:
            self._wake()

    # `timeout=` as concurrent.futures has it: the sync and async handles match.
    async def result(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Wait for the invocation to finish and return its output.

        Args:
            timeout: Seconds to wait; None waits as long as it takes. When it
                runs out the invocation goes on (on the server, and here).

        Raises:
            ClientTimeoutError: It had not finished within ``timeout``.
            ActionFailedError: The action raised.
            ActionCancelledError: It was cancelled.
            ClientError: Following it failed (the server went away, say).
        """
        if not self._task.done():
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                raise self._not_finished(timeout)
        return remote_output(self._state, self._driver.http)

    async def cancel(self) -> bool:
        """Ask the server to cancel the invocation (nothing happens if it has finished).

        Returns:
            True if the server took the request; False if the invocation had
            already finished.
        """
        response = await self._driver.send(Request("DELETE", self._state.cancel_url()))
        return accept_cancel(self._state, response)

    # `timeout=` as the sync handle has it.
    async def cancel_and_wait(self, timeout: float = 10.0) -> CancelOutcome:  # noqa: ASYNC109
        """Ask the server to cancel the invocation, and wait up to ``timeout`` s for it to end.

        Returns:
            What came of it: ``CANCELLED``, ``FINISHED_FIRST`` (nothing to
            cancel), ``IGNORED`` (the action completed or failed anyway),
            ``STILL_RUNNING``, or ``UNCONFIRMED`` (following it failed).

        Raises:
            ClientError: The request could not be sent.
        """
        accepted = await self.cancel()
        if not self._task.done():
            await asyncio.wait({self._task}, timeout=timeout)
        self.cancellation = cancel_outcome(self._state, accepted)
        return self.cancellation

    async def events(self) -> AsyncGenerator[InvocationEvent]:
        """Every event of the invocation: those already seen, then live, to the end."""
        index = 0
        while True:
            if index < len(self._state.events):
                index += 1
                yield self._state.events[index - 1]
            elif self._task.done():
                return
            else:
                await self._changed.wait()

    def __aiter__(self) -> AsyncIterator[InvocationEvent]:
        return self.events()

    def stop_following(self) -> None:
        """Stop following the invocation here (it goes on on the server)."""
        self._task.cancel()


class AsyncThingClient(ThingClientBase):
    """A Thing on a server, used from asyncio. Build one with ``await from_url(...)``.

    Actions are also methods: ``await client.move_to(x=1, y=2)`` is
    ``await client.invoke_action("move_to", x=1, y=2)``.

    Args:
        url: The Thing's URL (where its Thing Description is).
        description: The Thing Description.
        http: An ``httpx2.AsyncClient`` to use (the caller closes it); by
            default the client makes and closes its own.
        **settings: The options of ``ClientSettings`` (``timeout``,
            ``invoke_wait``, ``use_event_streams``...).
    """

    def __init__(
        self,
        url: str,
        description: Mapping[str, Any],
        *,
        http: httpx2.AsyncClient | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(url, description, ClientSettings(**settings))
        self._owns_http = http is None
        self._http = http if http is not None else _new_http(self._settings)
        self._driver = AsyncDriver(self._http, self._settings)
        self._handles: set[AsyncActionHandle] = set()
        self._cleanups: set[asyncio.Future[None]] = set()
        """Cancels on the server that outlived their callers (see ``invoke_action``)."""

    @classmethod
    async def from_url(
        cls, url: str, *, http: httpx2.AsyncClient | None = None, **settings: Any
    ) -> AsyncThingClient:
        """Fetch the Thing Description at ``url`` and make a client for that Thing.

        Raises:
            ServerUnavailableError: The server cannot be reached.
            NotFoundError: There is no Thing Description at ``url``.
        """
        options = ClientSettings(**settings)
        http_client = http if http is not None else _new_http(options)
        try:
            driver = AsyncDriver(http_client, options)
            description = parse_description(await driver.send(description_request(url)), url)
        except BaseException:
            if http is None:
                await http_client.aclose()
            raise
        client = cls(url, description, http=http_client, **settings)
        client._owns_http = http is None
        return client

    async def aclose(self) -> None:
        """Stop following invocations and close the connections (if the client made them).

        A cancel still on its way to the server, for a call whose caller gave
        up, is waited for first (each is bounded by the ``cancel_wait`` setting).
        """
        for handle in tuple(self._handles):
            handle.stop_following()
        await asyncio.gather(*self._cleanups, return_exceptions=True)
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncThingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def read_property(self, name: str) -> Any:
        """The property's current value."""
        return property_value(await self._driver.send(self._thing.read_request(name)), name)

    async def write_property(self, name: str, value: Any) -> None:
        """Set the property, once ``value`` is checked against its schema.

        Raises:
            PropertyNotWritableError: The property is read-only (nothing sent).
            InvalidArgumentsError: ``value`` does not fit (nothing sent).
        """
        response = await self._driver.send(self._thing.write_request(name, value))
        property_written(response, name)

    async def invoke_action(
        self, name: str, arguments: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """Invoke an action and return its output when it finishes.

        Arguments (a mapping, keywords, or both) are checked against the TD
        before anything is sent.

        Raises:
            InvalidArgumentsError: The arguments do not fit the action's input.
            ActionFailedError: The action raised.
            ActionCancelledError: It was cancelled.
            NotFoundError: The Thing has no such action.
            ServerUnavailableError: The server could not be reached.
            asyncio.CancelledError: The caller was cancelled; so is the
                invocation on the server (see the module's docstring).
        """
        wait = self._settings.invoke_wait
        state, flow = self._invoking(name, {**(arguments or {}), **kwargs}, wait)
        # Shielded: cancelled while the request that starts it is in flight,
        # the call still learns the invocation's ID, so it can cancel it.
        named = asyncio.ensure_future(anext(flow))
        try:
            await asyncio.shield(named)
        except asyncio.CancelledError:
            # In a task of its own, kept: cancelled again meanwhile (a task
            # group, then a timeout), the caller goes at once, and the
            # invocation is still cancelled once it is named.
            cleanup = asyncio.ensure_future(self._cancel_once_named(named, flow, state))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)
            await asyncio.shield(cleanup)
            raise
        except BaseException:
            await flow.aclose()
            raise
        async with contextlib.aclosing(flow):
            try:
                async for _ in flow:
                    pass
            except asyncio.CancelledError:
                await flow.aclose()
                await self._cancel_on_the_server(state)
                raise
        return remote_output(state, self._driver.http)

    async def _cancel_once_named(
        self, named: asyncio.Future[Any], flow: AsyncGenerator[Any], state: InvocationState
    ) -> None:
        """Wait for the server to name the invocation, then cancel it there.

        Nothing is cancelled if the server refused it or could not be
        reached: no invocation is known to exist.
        """
        try:
            await named
        except Exception:
            return
        finally:
            await flow.aclose()
        await self._cancel_on_the_server(state)

    async def _cancel_on_the_server(self, state: InvocationState) -> None:
        """Cancel an invocation whose caller was cancelled, wait for it to end, and log it.

        Waits at most the ``cancel_wait`` setting, then says what came of it
        on the ``labthings_async.client`` logger, as the sync client does
        after a Ctrl-C.
        """
        if state.finished:
            return
        wait = self._settings.cancel_wait
        logger.info("cancelling invocation %s of %r...", state.id, state.action)
        accepted: bool | None = None
        try:
            async with asyncio.timeout(wait):
                response = await self._driver.send(Request("DELETE", state.cancel_url()))
                accepted = accept_cancel(state, response)
                await self._driver.run(follow_invocation(state, self._settings))
        except TimeoutError:
            if accepted is None:
                state.fail(ClientError(f"the server did not answer the cancel within {wait} s"))
        except Exception as error:  # Following failed: the outcome is unconfirmed.
            state.fail(error)
        outcome = CancelOutcome.UNCONFIRMED if accepted is None else cancel_outcome(state, accepted)
        # A warning even when all went well: something happened on the server
        # because the caller was cancelled, and the caller should hear of it.
        logger.warning(describe_cancel(state, outcome, wait, str(state.failure)))

    async def start_action(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        /,
        *,
        on_progress: Callable[[Progress], object] | None = None,
        on_log: Callable[[LogEntry], object] | None = None,
        **kwargs: Any,
    ) -> AsyncActionHandle:
        """Invoke an action and return at once with a handle on the invocation.

        Args:
            name: The action.
            arguments: Its arguments as a mapping (for names that clash with
                this method's own keywords); keyword arguments are added.
            on_progress: Called with each ``Progress`` report, on the loop.
            on_log: Called with each ``LogEntry``, on the loop.
            **kwargs: The action's arguments.
        """
        arguments = {**(arguments or {}), **kwargs}
        state, flow = self._invoking(name, arguments, 0.0, on_progress, on_log)
        try:
            await anext(flow)  # Until the server has named the invocation.
        except BaseException:
            await flow.aclose()
            raise
        handle = AsyncActionHandle(state, self._driver, flow)
        self._handles.add(handle)
        handle._task.add_done_callback(lambda _: self._handles.discard(handle))
        return handle

    def observe_property(self, name: str) -> AsyncObservation[Any]:
        """Each new value of the property, as it changes (an endless async iterator).

        Close it when done, or use it as an async context manager::

            async with client.observe_property("speed") as speeds:
                async for speed in speeds:
                    ...

        Raises:
            NotFoundError: No such property (at once), or the server offers
                no stream of it (when iterated).
            ServerUnavailableError: The server went away and stayed away.
        """
        url = property_stream_url(self._thing, name)
        values = self._driver.iterate(observe_property_flow(self._thing, name, self._settings))
        return AsyncObservation(values, f"property {name!r}", url)

    def observe_invocations(
        self, *, only_this_thing: bool = False, action: str | None = None
    ) -> AsyncObservation[StatusChange]:
        """Every status change of the server's invocations, live (a closable async iterator).

        Args:
            only_this_thing: Only this Thing's invocations, not the whole server's.
            action: Only the invocations of this action.
        """
        url = invocations_stream_url(
            self._thing.server_url(),
            thing=thing_name(self._thing) if only_this_thing else None,
            action=action,
        )
        values = self._driver.iterate(observe_invocations_flow(url, self._settings))
        return AsyncObservation(values, "invocations", url)

    def _call_action(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.invoke_action(name, arguments)

    def __getattr__(self, name: str) -> Any:
        thing = self.__dict__.get("_thing")
        if thing is not None and not name.startswith("_") and name in thing.properties:
            raise AttributeError(
                f"{name!r} is a property: read it with `await client.read_property({name!r})` "
                "(attributes cannot be awaited); the blocking ThingClient has it as an attribute"
            )
        return super().__getattr__(name)

    def _invoking(
        self,
        name: str,
        arguments: Mapping[str, Any],
        wait: float,
        on_progress: Callable[[Progress], object] | None = None,
        on_log: Callable[[LogEntry], object] | None = None,
    ) -> tuple[InvocationState, AsyncGenerator[Any]]:
        """The invocation's state, and its flow (see ``invoking``), not yet started.

        Without ``wait`` the POST asks for the invocation's event stream, so
        one request invokes and follows it; with one it asks the server to
        hold the reply (``Prefer: wait``), so a quick action comes back
        finished.
        """
        request, state = invoke_prepared(
            self._thing,
            name,
            arguments,
            self._settings,
            wait=wait,
            on_progress=on_progress,
            on_log=on_log,
        )
        flow = invoking(request, state, self._settings, stream=wait == 0)
        return state, self._driver.iterate(flow)


def remote_output(state: InvocationState, http: httpx2.AsyncClient) -> Any:
    """The output of a finished invocation; a blob as an ``AsyncRemoteBlob``, not yet downloaded.

    Raises:
        ActionFailedError: The action raised.
        ActionCancelledError: It was cancelled.
    """
    output = state.outcome()
    link = blob_link(output, state.output_schema)
    return output if link is None else AsyncRemoteBlob(link, http)


def _new_http(settings: ClientSettings) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        timeout=settings.timeout, limits=http_limits(), headers=auth_headers(settings.token)
    )
