"""A Thing's settings and their file: loaded before the Thing is set up, saved when one changes.

Layer: domain (stdlib, msgspec, the setting declarations and the settings
file). The layout is LabThings-FastAPI's, so each reads the other's files:
``{settings_folder}/{thing name}/Settings-{class name}.json`` holds one JSON
object of every setting of the Thing by name, keys sorted, indented four
spaces, as LabThings writes it.

Loading never stops the server. A missing file, one that cannot be read or
is not a JSON object, a value that does not fit its setting and a name that
is no setting each get a warning naming the file and the setting, and the
settings concerned keep their defaults. A file with any such problem is kept
aside under a new name (``SettingsFile.keep_aside``); if some of its values
did load, they are written back at once, so they survive even if the server
stops before the next save.
"""

from __future__ import annotations

import json
import logging
import reprlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

import msgspec

from .errors import InvalidInputError, SettingsError
from .setting import DataSetting, FunctionalSetting
from .settings_file import SettingsFile

__all__ = ("SettingsHost", "SettingsStore", "encode_settings", "settings_path")

SettingDescriptor = DataSetting | FunctionalSetting[Any]


class SettingsHost(Protocol):
    """What the store needs of a Thing (``Thing`` provides it)."""

    settings: ClassVar[Mapping[str, SettingDescriptor]]

    @property
    def name(self) -> str:
        """The Thing's name on the server."""

    @property
    def logger(self) -> logging.Logger:
        """Where warnings about its settings file go."""


def settings_path(folder: str | Path, thing_name: str, class_name: str) -> Path:
    """Where a Thing's settings are kept: LabThings-FastAPI's layout."""
    return Path(folder) / thing_name / f"Settings-{class_name}.json"


def encode_settings(values: Mapping[str, Any]) -> bytes:
    """Settings as LabThings-FastAPI writes them: a JSON object, keys sorted, indented four.

    Raises:
        TypeError: A value JSON cannot carry.
        ValueError: A value that is not a finite number.
    """
    plain = {name: msgspec.to_builtins(values[name]) for name in sorted(values)}
    return json.dumps(plain, indent=4, ensure_ascii=False, allow_nan=False).encode()


class SettingsStore:
    """Loads and saves the settings of one Thing.

    Saves are one at a time, each of every setting's current value, so the
    file always ends up with the latest values whichever threads assign them.

    Args:
        thing: The Thing.
        path: Its settings file.

    Attributes:
        file: The settings file.
    """

    def __init__(self, thing: SettingsHost, path: Path) -> None:
        self._thing = thing
        self.file = SettingsFile(path)
        self._lock = threading.Lock()
        self._refusal: str | None = None

    def __repr__(self) -> str:
        return f"<SettingsStore of {self._thing.name!r} in {str(self.file.path)!r}>"

    # -- loading ---------------------------------------------------------------------

    def load(self) -> None:
        """Read the file and give each setting its saved value, warning of any problem.

        Values are put in place without events or saves. Never raises for
        what is in the file.
        """
        path = self.file.path
        logger = self._thing.logger
        self.file.remove_leftovers()
        try:
            raw = self.file.read()
        except OSError as error:
            logger.warning(
                "settings file %s cannot be read (%s); every setting of Thing %r keeps its default",
                path,
                error.strerror or error,
                self._thing.name,
            )
            self._keep_aside()
            return
        if raw is None:
            logger.warning(
                "settings file %s does not exist (yet); every setting of Thing %r keeps its "
                "default until one is set",
                path,
                self._thing.name,
            )
            return
        try:
            entries = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        except msgspec.DecodeError as error:
            logger.warning(
                "settings file %s is not a JSON object (%s); every setting of Thing %r keeps "
                "its default",
                path,
                error,
                self._thing.name,
            )
            self._keep_aside()
            return
        loaded: dict[str, msgspec.Raw] = {}
        problems = False
        settings = type(self._thing).settings
        for name, value in entries.items():
            descriptor = settings.get(name)
            if descriptor is None:
                logger.warning(
                    "settings file %s: %r is not a setting of %s (its settings are %s); "
                    "the value is not loaded",
                    path,
                    name,
                    type(self._thing).__name__,
                    sorted(settings),
                )
                problems = True
            elif self._load_one(descriptor, name, value):
                loaded[name] = value
            else:
                problems = True
        if problems:
            aside = self._keep_aside()
            if aside is not None and loaded:
                self._write_back(loaded)

    def _load_one(self, descriptor: SettingDescriptor, name: str, raw: msgspec.Raw) -> bool:
        """Give one setting its saved value; False (with a warning) if the value does not fit."""
        path = self.file.path
        if not isinstance(descriptor, DataSetting):
            keeps = "its setter is not called"
        elif descriptor.default_factory is None:
            keeps = f"it keeps its default, {reprlib.repr(descriptor.default)}"
        else:
            keeps = "it keeps its default"
        try:
            value = descriptor.decode(bytes(raw))
        except InvalidInputError as error:
            where = f"$.{name}{error.path[1:]}"
            self._thing.logger.warning(
                "settings file %s: setting %r: %s - at `%s`; %s",
                path,
                name,
                error.reason,
                where,
                keeps,
            )
            return False
        try:
            descriptor.load(self._thing, value)
        except Exception as error:
            # The file is fine: the Thing's own setter failed, so keep the file as it is.
            self._thing.logger.warning(
                "settings file %s: setting %r: its setter raised %s: %s; %s",
                path,
                name,
                type(error).__name__,
                error,
                keeps,
            )
        return True

    def _keep_aside(self) -> Path | None:
        """Rename the bad file out of the way; if that fails, refuse to overwrite it."""
        path = self.file.path
        try:
            aside = self.file.keep_aside()
        except FileNotFoundError:
            return None
        except OSError as error:
            self._refusal = (
                f"the settings file {path} could not be read or was invalid, and could not "
                f"be kept aside ({error.strerror or error}); it is not overwritten until it "
                "is moved away"
            )
            self._thing.logger.error("%s", self._refusal)
            return None
        self._thing.logger.warning("settings file %s is kept as %s", path, aside)
        return aside

    def _write_back(self, loaded: Mapping[str, msgspec.Raw]) -> None:
        """Write the values that loaded from a file kept aside, so they are on disk again."""
        try:
            self.file.write(
                encode_settings({name: json.loads(bytes(raw)) for name, raw in loaded.items()})
            )
        except OSError as error:
            self._thing.logger.error(
                "settings file %s: the values that loaded could not be written back (%s); "
                "they are in the file kept aside",
                self.file.path,
                error.strerror or error,
            )

    # -- saving ----------------------------------------------------------------------

    def save(self) -> None:
        """Write every setting's current value to the file, atomically and durably.

        Raises:
            SettingsError: A value cannot be read or encoded, or the file
                cannot be written; the message names the file and why.
        """
        path = self.file.path
        with self._lock:
            if self._refusal is not None:
                raise SettingsError(
                    f"settings of Thing {self._thing.name!r} not saved: {self._refusal}"
                )
            values: dict[str, Any] = {}
            for name, descriptor in type(self._thing).settings.items():
                try:
                    values[name] = descriptor.read(self._thing)
                except Exception as error:
                    raise SettingsError(
                        f"settings of Thing {self._thing.name!r} not saved to {path}: reading "
                        f"setting {name!r} raised {type(error).__name__}: {error}"
                    ) from error
            try:
                data = encode_settings(values)
            except (TypeError, ValueError) as error:
                raise SettingsError(
                    f"settings of Thing {self._thing.name!r} not saved to {path}: {error}"
                ) from error
            try:
                self.file.write(data)
            except OSError as error:
                raise SettingsError(
                    f"settings of Thing {self._thing.name!r} not saved to {path}: "
                    f"{error.strerror or error}"
                ) from error
