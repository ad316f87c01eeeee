"""What a LabThings-FastAPI Thing reads of its server: ``self._thing_server_interface``.

Layer: domain (stdlib). LabThings-FastAPI hands each Thing's constructor a
``thing_server_interface`` (``def __init__(self, thing_server_interface,
...)``, passed on with ``super().__init__(thing_server_interface)``) and its
code reads the server through it: the Thing's name and path, and the
``application_config`` of the config file. A server here hands one to a
constructor that takes it, and gives every Thing one when it takes the
Thing in, so such code runs unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from .errors import ManagerNotRunningError

__all__ = ("ServerSettings", "ThingServerInterface")


class ServerSettings(Protocol):
    """What the interface needs of the server (``ThingServer`` provides it)."""

    @property
    def prefix(self) -> str:
        """The path prefix of every route."""

    @property
    def application_config(self) -> Mapping[str, Any] | None:
        """The ``application_config`` the server was given."""


class ThingServerInterface:
    """One Thing's view of the server that serves it.

    Args:
        name: The Thing's name on the server.
        server: The server, or None until the Thing is added to one.
    """

    def __init__(self, name: str, server: ServerSettings | None = None) -> None:
        self._name = name
        self._server = server

    def __repr__(self) -> str:
        return f"<ThingServerInterface of {self._name!r}>"

    def attach(self, server: ServerSettings) -> None:
        """Connect the interface to the server that took its Thing in."""
        self._server = server

    @property
    def name(self) -> str:
        """The Thing's name on the server."""
        return self._name

    def _get_server(self) -> ServerSettings:
        if self._server is None:
            raise ManagerNotRunningError(
                f"Thing {self._name!r} has not been added to a ThingServer yet"
            )
        return self._server

    @property
    def path(self) -> str:
        """The Thing's path on the server, its Thing Description's: ``/{prefix}/{name}/``."""
        return f"{self._get_server().prefix}/{self._name}/"

    @property
    def application_config(self) -> Mapping[str, Any] | None:
        """A copy of the server's ``application_config`` (None if it has none)."""
        return copy.deepcopy(self._get_server().application_config)
