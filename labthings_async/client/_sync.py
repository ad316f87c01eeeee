"""The blocking Thing client: ``ThingClient``, for scripts and notebooks.

Layer: client (stdlib, httpx2, and the client modules below it; never the
manager, routes, server, Starlette or hypercorn). Like the async client, it
only performs I/O, with an ``httpx2.Client``; what to send, what replies mean
and the multi-step flows are shared with it (``remote_thing``,
``remote_invocation``, ``remote_events``, ``client_base``), and
``client_drivers.SyncDriver`` performs them.

Properties are attributes (``client.speed``, ``client.speed = 3``) and actions
methods (``client.move_to(x=1, y=2)``), as with LabThings-FastAPI's
ThingClient. A handle from ``start_action`` follows its invocation in a
thread of its own, so its status is live while the caller does other work.

A blocking call interrupted by Ctrl-C (``KeyboardInterrupt``, which is also
what a notebook's "interrupt kernel" raises) cancels the invocation on the
server, says what came of it on the ``labthings_async.client`` logger, and
re-raises the ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

import httpx2

from ..models import LogEntry, Progress, StatusChange
from ._base import ThingClientBase
from ._blob import RemoteBlob, blob_link
from ._drivers import SyncDriver
from ._interrupt import HeldInterrupt
from ._invocation import (
    CancelOutcome,
    InvocationEvent,
    InvocationState,
    InvocationView,
    cancel_outcome,
    describe_cancel,
    invoking,
)
from ._observation import Observation
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

__all__ = ("ActionHandle", "ThingClient")

logger = logging.getLogger("labthings_async.client")


class ActionHandle(InvocationView):
    """A running invocation, followed in a background thread; made by ``start_action``.

    ``status``, ``progress`` and ``log`` are kept up to date as events arrive,
    and callbacks run in that thread. ``for event in handle`` yields every
    ``InvocationEvent`` from the start, then live, and ends when it does.

    Attributes:
        cancellation: What came of the last ``cancel_and_wait`` (or of the
            cancel an interrupted ``result()`` made); None if there was none.
    """

    def __init__(self, state: InvocationState, driver: SyncDriver, flow: Generator[Any]) -> None:
        super().__init__(state)
        self._driver = driver
        self.cancellation: CancelOutcome | None = None
        self._changed = threading.Condition()
        self._finished = threading.Event()
        state.listeners.append(self._wake)
        if state.finished:
            # Nothing to follow: the rest of the flow only lets its stream go.
            flow.close()
            self._finished.set()
        else:
            thread = threading.Thread(
                target=self._follow,
                args=(flow,),
                name=f"follow {state.action} {state.id}",
                daemon=True,
            )
            thread.start()

    def _wake(self, event: InvocationEvent | None = None) -> None:
        with self._changed:
            self._changed.notify_all()

    def _follow(self, flow: Generator[Any]) -> None:
        """Run the rest of the invocation's flow: following it, once it is named."""
        try:
            with contextlib.closing(flow):
                for _ in flow:
                    pass
        except Exception as error:  # Kept for result(), which raises it.
            self._state.fail(error)
        finally:
            self._finished.set()
            self._wake()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the invocation to finish and return its output.

        Interrupted by Ctrl-C, it cancels the invocation on the server, waits
        up to the ``cancel_wait`` setting for it to end, logs what came of it
        (also kept in ``cancellation``), and re-raises the ``KeyboardInterrupt``.

        Args:
            timeout: Seconds to wait; None waits as long as it takes. When it
                runs out the invocation goes on (on the server, and here).

        Raises:
            ClientTimeoutError: It had not finished within ``timeout``.
            ActionFailedError: The action raised.
            ActionCancelledError: It was cancelled.
            ClientError: Following it failed (the server went away, say).
        """
        try:
            finished = self._finished.wait(timeout)
        except KeyboardInterrupt:
            self.cancel_after_interrupt()
            raise
        if not finished:
            raise self._not_finished(timeout)
        output = self._state.outcome()
        link = blob_link(output, self._state.output_schema)
        return output if link is None else RemoteBlob(link, self._driver.http)

    def cancel(self) -> bool:
        """Ask the server to cancel the invocation (nothing happens if it has finished).

        Returns:
            True if the server took the request; False if the invocation had
            already finished.
        """
        response = self._driver.send(Request("DELETE", self._state.cancel_url()))
        return accept_cancel(self._state, response)

    def cancel_and_wait(self, timeout: float = 10.0) -> CancelOutcome:
        """Ask the server to cancel the invocation, and wait up to ``timeout`` s for it to end.

        Returns:
            What came of it: ``CANCELLED``, ``FINISHED_FIRST`` (nothing to
            cancel), ``IGNORED`` (the action completed or failed anyway),
            ``STILL_RUNNING``, or ``UNCONFIRMED`` (following it failed).

        Raises:
            ClientError: The request could not be sent.
        """
        accepted = self.cancel()
        self._finished.wait(timeout)
        self.cancellation = cancel_outcome(self._state, accepted)
        return self.cancellation

    def cancel_after_interrupt(self) -> None:
        """Cancel because the caller was interrupted, and log what came of it.

        What ``result()`` does when Ctrl-C interrupts it; call it from your own
        ``except KeyboardInterrupt:`` around other waiting. It asks the server
        to cancel, waits up to the ``cancel_wait`` setting for the invocation
        to end (a second Ctrl-C stops the wait), keeps the outcome in
        ``cancellation`` and logs it on the ``labthings_async.client`` logger.
        It acts once: called again, or for a finished invocation, it does nothing.
        """
        if self.cancellation is not None or self._state.finished:
            return
        wait = self._driver.settings.cancel_wait
        logger.info("cancelling invocation %s of %r...", self.id, self.action)
        try:
            outcome = self.cancel_and_wait(wait)
        except ClientError as error:
            outcome = self.cancellation = CancelOutcome.UNCONFIRMED
            logger.warning(describe_cancel(self._state, outcome, wait, str(error)))
            return
        except KeyboardInterrupt:
            outcome = self.cancellation = CancelOutcome.UNCONFIRMED
            logger.warning(
                describe_cancel(self._state, outcome, wait, "interrupted again while waiting")
            )
            return
        # A warning even when all went well: something happened on the server
        # because of the interrupt, and the caller should hear of it.
        logger.warning(describe_cancel(self._state, outcome, wait, str(self._state.failure)))

    def events(self) -> Iterator[InvocationEvent]:
        """Every event of the invocation: those already seen, then live, to the end."""
        index = 0
        events = self._state.events
        while True:
            with self._changed:
                while index >= len(events) and not self._finished.is_set():
                    self._changed.wait()
                if index >= len(events):
                    return
            index += 1
            yield events[index - 1]

    def __iter__(self) -> Iterator[InvocationEvent]:
        return self.events()


class ThingClient(ThingClientBase):
    """A Thing on a server, used from blocking code. Build one with ``from_url(...)``.

    Properties are attributes and actions are methods::

        stage = ThingClient.from_url("http://127.0.0.1:5000/stage/")
        stage.speed = 3
        stage.move(to=42)

    Args:
        url: The Thing's URL (where its Thing Description is).
        description: The Thing Description.
        http: An ``httpx2.Client`` to use (the caller closes it); by default
            the client makes and closes its own.
        **settings: The options of ``ClientSettings`` (``timeout``,
            ``invoke_wait``, ``use_event_streams``...).
    """

    def __init__(
        self,
        url: str,
        description: Mapping[str, Any],
        *,
        http: httpx2.Client | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(url, description, ClientSettings(**settings))
        self._owns_http = http is None
        self._http = http if http is not None else _new_http(self._settings)
        self._driver = SyncDriver(self._http, self._settings)

    @classmethod
    def from_url(
        cls, url: str, *, http: httpx2.Client | None = None, **settings: Any
    ) -> ThingClient:
        """Fetch the Thing Description at ``url`` and make a client for that Thing.

        Raises:
            ServerUnavailableError: The server cannot be reached.
            NotFoundError: There is no Thing Description at ``url``.
        """
        options = ClientSettings(**settings)
        http_client = http if http is not None else _new_http(options)
        try:
            driver = SyncDriver(http_client, options)
            description = parse_description(driver.send(description_request(url)), url)
        except BaseException:
            if http is None:
                http_client.close()
            raise
        client = cls(url, description, http=http_client, **settings)
        client._owns_http = http is None
        return client

    def close(self) -> None:
        """Close the connections, if the client made them (not an ``http`` it was given).

        Close it once the handles you care about have finished: a handle still
        following its invocation loses its connection with it.
        """
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ThingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def read_property(self, name: str) -> Any:
        """The property's current value (also ``client.<name>``)."""
        return property_value(self._driver.send(self._thing.read_request(name)), name)

    def write_property(self, name: str, value: Any) -> None:
        """Set the property, once ``value`` is checked (also ``client.<name> = value``).

        Raises:
            PropertyNotWritableError: The property is read-only (nothing sent).
            InvalidArgumentsError: ``value`` does not fit (nothing sent).
        """
        property_written(self._driver.send(self._thing.write_request(name, value)), name)

    def invoke_action(
        self, name: str, arguments: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """Invoke an action and return its output when it finishes (also ``client.<name>(...)``).

        Arguments (a mapping, keywords, or both) are checked against the TD
        before anything is sent.

        Raises:
            InvalidArgumentsError: The arguments do not fit the action's input.
            ActionFailedError: The action raised.
            ActionCancelledError: It was cancelled.
            NotFoundError: The Thing has no such action.
            ServerUnavailableError: The server could not be reached.
        """
        with HeldInterrupt() as held:
            wait = self._settings.invoke_wait
            handle = self._start(name, {**(arguments or {}), **kwargs}, wait)
            try:
                held.release()
                return handle.result()
            except KeyboardInterrupt:
                handle.cancel_after_interrupt()
                raise

    def start_action(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        /,
        *,
        on_progress: Callable[[Progress], object] | None = None,
        on_log: Callable[[LogEntry], object] | None = None,
        **kwargs: Any,
    ) -> ActionHandle:
        """Invoke an action and return at once with a handle on the invocation.

        Args:
            name: The action.
            arguments: Its arguments as a mapping (for names that clash with
                this method's own keywords); keyword arguments are added.
            on_progress: Called with each ``Progress`` report, in the handle's thread.
            on_log: Called with each ``LogEntry``, in the handle's thread.
            **kwargs: The action's arguments.
        """
        handle: ActionHandle | None = None
        try:
            with HeldInterrupt() as held:
                handle = self._start(
                    name, {**(arguments or {}), **kwargs}, 0.0, on_progress, on_log
                )
                held.release()
                started = handle
        except KeyboardInterrupt:
            # Held until the handle exists, or landing after release() while the
            # handler is still being restored: either way the invocation is ours
            # to cancel, never left running unseen.
            if handle is not None:
                handle.cancel_after_interrupt()
            raise
        return started

    def observe_property(self, name: str) -> Observation[Any]:
        """Each new value of the property, as it changes (an endless iterator).

        Close it when done, or use it as a context manager::

            with client.observe_property("speed") as speeds:
                for speed in speeds:
                    ...

        Raises:
            NotFoundError: No such property (at once), or the server offers
                no stream of it (when iterated).
            ServerUnavailableError: The server went away and stayed away.
        """
        url = property_stream_url(self._thing, name)
        values = self._driver.iterate(observe_property_flow(self._thing, name, self._settings))
        return Observation(values, f"property {name!r}", url)

    def observe_invocations(
        self, *, only_this_thing: bool = False, action: str | None = None
    ) -> Observation[StatusChange]:
        """Every status change of the server's invocations, live (a closable iterator).

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
        return Observation(values, "invocations", url)

    def _call_action(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.invoke_action(name, arguments)

    def _start(
        self,
        name: str,
        arguments: Mapping[str, Any],
        wait: float,
        on_progress: Callable[[Progress], object] | None = None,
        on_log: Callable[[LogEntry], object] | None = None,
    ) -> ActionHandle:
        """Invoke, and make the handle that follows the invocation (call it under a hold).

        Without ``wait`` the POST asks for the invocation's event stream, so
        one request invokes and follows it; with one it asks the server to
        hold the reply (``Prefer: wait``), so a quick action comes back
        finished. Returns once the server has named the invocation.
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
        flow = self._driver.iterate(invoking(request, state, self._settings, stream=wait == 0))
        next(flow)  # Until the server has named the invocation (a failure is raised).
        return ActionHandle(state, self._driver, flow)

    def __getattr__(self, name: str) -> Any:
        thing = self.__dict__.get("_thing")
        if thing is not None and not name.startswith("_") and name in thing.properties:
            return self.read_property(name)
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        thing = self.__dict__.get("_thing")
        if thing is not None and not name.startswith("_") and name in thing.properties:
            self.write_property(name, value)
        else:
            super().__setattr__(name, value)


def _new_http(settings: ClientSettings) -> httpx2.Client:
    return httpx2.Client(
        timeout=settings.timeout, limits=http_limits(), headers=auth_headers(settings.token)
    )
