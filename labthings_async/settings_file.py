"""A settings file: written atomically and durably, and kept aside when it is bad.

Layer: domain (stdlib only). A write goes to a new temporary file in the same
folder, is flushed and synced to disk, then renamed over the old file, and
the folder is synced so the rename itself survives a crash. A process killed
at any moment (``kill -9``) leaves the old file or the new one, never a
mixture or a truncated file; a temporary file it leaves behind is removed
the next time the file is loaded. A file that cannot be used is renamed with
a suffix rather than overwritten, so nothing is lost without a trace.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

__all__ = ("SettingsFile",)

_TEMPORARY_SUFFIX = ".tmp"


class SettingsFile:
    """One settings file on disk.

    Args:
        path: Where the file is (its folder is made when it is first written).

    Attributes:
        path: Where the file is.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<SettingsFile {str(self.path)!r}>"

    def read(self) -> bytes | None:
        """The file's bytes, or None when there is no file.

        Raises:
            OSError: It exists but cannot be read.
        """
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        """Replace the file's contents with ``data``, atomically and durably.

        Raises:
            OSError: The folder cannot be made, or the file written (disk
                full, no permission); the old file is left as it was.
        """
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{self.path.name}.{uuid.uuid4().hex}{_TEMPORARY_SUFFIX}"
        # Mode 0o666 less the umask, as open() gives: the file is as readable as before.
        descriptor = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666
        )
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(descriptor, view) :]
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _sync_folder(folder)

    def keep_aside(self) -> Path:
        """Rename the file out of the way, to a name no file has yet; returns the new path.

        The new name is the old one with ``.invalid-`` and the UTC time added
        (``Settings-Stage.json.invalid-20260101T120000Z``).

        Raises:
            OSError: It cannot be renamed.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.invalid-{stamp}")
        number = 1
        while aside.exists():
            number += 1
            aside = self.path.with_name(f"{self.path.name}.invalid-{stamp}-{number}")
        os.replace(self.path, aside)
        _sync_folder(self.path.parent)
        return aside

    def remove_leftovers(self) -> list[Path]:
        """Remove the temporary files of writes that never finished; returns what was removed.

        A process killed in the middle of ``write`` leaves one behind; the
        file itself is intact.
        """
        removed: list[Path] = []
        prefix = f".{self.path.name}."
        try:
            entries = list(self.path.parent.iterdir())
        except OSError:
            return removed
        for entry in entries:
            if entry.name.startswith(prefix) and entry.name.endswith(_TEMPORARY_SUFFIX):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
        return removed


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        descriptor = os.open(folder, flags)
    except OSError:
        return  # A platform that cannot open a folder (Windows) cannot sync one either.
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
