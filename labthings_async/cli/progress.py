"""Showing an invocation as it runs: a progress bar and log lines, on a terminal or a stream.

Layer: cli (stdlib, and the client's wording of percentages).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from ..client._invocation import format_percent
from .command import PROG

if TYPE_CHECKING:
    from ..models import LogEntry, Progress

__all__ = ("ProgressDisplay",)


class ProgressDisplay:
    """Progress as a bar and log records as lines, on a terminal or a plain stream.

    On a terminal the bar is redrawn in place and log lines print above it;
    elsewhere (a file, a pipe) each progress report is a line of its own.
    Callbacks arrive from the thread following the invocation, so writes are
    serialised.
    """

    WIDTH = 30

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._bar = ""
        self._lock = threading.Lock()

    def progress(self, report: Progress) -> None:
        """Show a progress report."""
        percent = report.percent
        filled = 0 if percent is None else round(self.WIDTH * max(0.0, min(percent, 100.0)) / 100)
        bar = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {format_percent(percent):>4}"
        if report.message:
            bar = f"{bar} {report.message}"
        with self._lock:
            if self._tty:
                self._bar = bar
                self._stream.write(f"\r\x1b[2K{bar}")
            else:
                self._stream.write(f"{bar}\n")
            self._stream.flush()

    def log(self, record: LogEntry) -> None:
        """Show a log record of the invocation, above the bar."""
        self._line(f"{record.levelname}: {record.message}", keep_bar=True)

    def say(self, message: str) -> None:
        """Print a line of the command's own in place of the bar, which is done with."""
        self._line(f"{PROG}: {message}", keep_bar=False)

    def close(self) -> None:
        """End the bar's line."""
        with self._lock:
            if self._bar:
                self._stream.write("\n")
                self._bar = ""
            self._stream.flush()

    @contextmanager
    def client_messages(self) -> Iterator[None]:
        """Within it, what the client logs (``cancelling...``, ``cancelled...``) is said here."""
        client_logger = logging.getLogger("labthings_async.client")
        handler = _SayHandler(self)
        level = client_logger.level
        client_logger.addHandler(handler)
        client_logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            client_logger.removeHandler(handler)
            client_logger.setLevel(level)

    def _line(self, text: str, *, keep_bar: bool) -> None:
        with self._lock:
            if self._bar:
                self._stream.write("\r\x1b[2K")
            self._stream.write(f"{text}\n")
            if not keep_bar:
                self._bar = ""
            if self._bar:
                self._stream.write(self._bar)
            self._stream.flush()


class _SayHandler(logging.Handler):
    def __init__(self, display: ProgressDisplay) -> None:
        super().__init__(logging.INFO)
        self._display = display

    def emit(self, record: logging.LogRecord) -> None:
        self._display.say(record.getMessage())
