"""What a LabThings-FastAPI Thing reads of its server: ``self._thing_server_interface``.

Layer: domain (stdlib). LabThings-FastAPI hands each Thing's constructor a
``thing_server_interface`` (``def __init__(self, thing_server_interface,
...)``, passed on with ``super().__init__(thing_server_interface)``) and its
code reads the server through it: the Thing's name and path, its settings
folder, and the ``application_config`` of the config file. A server here hands one to a
constructor that takes it, and gives every Thing one when it takes the
Thing in, so such code runs unchanged.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from .errors import ManagerNotRunningError, UnsupportedFeatureError
from .settings_store import settings_path

__all__ = ("ServerSettings", "ThingServerInterface")


class ServerSettings(Protocol):
    """What the interface needs of the server (``ThingServer`` provides it)."""

    @property
    def prefix(self) -> str:
        """The path prefix of every route."""

    @property
    def application_config(self) -> Mapping[str, Any] | None:
        """The ``application_config`` the server was given."""

    @property
    def settings_folder(self) -> str | Path | None:
        """Where the Things' settings are kept (None: in memory only)."""


class ThingServerInterface:
    """One Thing's view of the server that serves it.

    Args:
        name: The Thing's name on the server.
        server: The server, or None until the Thing is added to one.
        class_name: The Thing's class name, which names its settings file.
    """

    def __init__(
        self, name: str, server: ServerSettings | None = None, class_name: str | None = None
    ) -> None:
        self._name = name
        self._server = server
        self._class_name = class_name

    def __repr__(self) -> str:
        return f"<ThingServerInterface of {self._name!r}>"

    def attach(self, server: ServerSettings, class_name: str) -> None:
        """Connect the interface to the server that took its Thing in."""
        self._server = server
        self._class_name = class_name

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

    @property
    def settings_folder(self) -> str:
        """This Thing's own folder for files it keeps: ``{settings_folder}/{name}``.

        Raises:
            UnsupportedFeatureError: The server keeps settings in memory only.
        """
        return os.fspath(Path(self._server_folder()) / self._name)

    @property
    def settings_file_path(self) -> str:
        """The file this Thing's settings are kept in (LabThings-FastAPI's layout)."""
        thing_class = self._class_name or self._name
        return os.fspath(settings_path(self._server_folder(), self._name, thing_class))

    def _server_folder(self) -> str | Path:
        folder = self._get_server().settings_folder
        if folder is None:
            raise UnsupportedFeatureError(
                f"Thing {self._name!r} has no settings folder: the server was made with "
                "settings_folder=None, which keeps settings in memory only"
            )
        return folder
