"""Capturing log records into the log of the invocation that emitted them.

Layer: domain (stdlib). One handler sits on the parent of every Thing's
logger. It routes each record to the invocation it was logged in: the one an
invocation-bound logger tagged it with, else the current invocation of the
thread or task (a context variable, so concurrent invocations of one Thing keep
separate logs). Records logged outside any invocation pass through untouched,
and so do records tagged ``NOT_CAPTURED``: lines for the server's console
about an invocation, rather than lines of it.

What a captured record carries to clients is decided here too: unless the
server is in debug mode, no traceback and no name of a server file (the
server's own log keeps the record whole).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from .context import current_invocation
from .models import LogEntry
from .porting import lt_names
from .thing import LOGGER_PREFIX

__all__ = (
    "NOT_CAPTURED",
    "InvocationLogHandler",
    "exception_entry",
    "install_log_capture",
    "invocation_logger",
    "log_entry",
    "without_server_details",
)

_TAG = "labthings_invocation"
"""The record attribute naming the invocation a record belongs to."""

NOT_CAPTURED: Mapping[str, Any] = {_TAG: None}
"""``extra=`` for a record that must not land in any invocation's log."""

_UNTAGGED = object()


def log_entry(record: logging.LogRecord) -> LogEntry:
    """The wire form of a log record (LabThings' field names)."""
    exception_type = None
    formatted = None
    if record.exc_info and record.exc_info[1] is not None:
        exception_type = type(record.exc_info[1]).__name__
        formatted = "".join(traceback.format_exception(*record.exc_info))
    return LogEntry(
        message=record.getMessage(),
        levelname=record.levelname,
        levelno=record.levelno,
        name=record.name,
        filename=record.filename,
        lineno=record.lineno,
        created=datetime.fromtimestamp(record.created, UTC),
        exception_type=exception_type,
        traceback=formatted,
    )


def without_server_details(entry: LogEntry) -> LogEntry:
    """``entry`` as a client may see it outside debug mode: no traceback, no file, no line.

    The exception's type and the message stay: they say what went wrong
    without showing how the server's code is laid out.
    """
    if entry.traceback is None and not entry.filename and not entry.lineno:
        return entry
    return msgspec.structs.replace(entry, filename="", lineno=0, traceback=None)


def exception_entry(logger: logging.Logger, message: str, error: BaseException) -> LogEntry:
    """A record of ``error`` and its traceback, placed where it was raised, as ``logger``'s."""
    frames = traceback.extract_tb(error.__traceback__)
    pathname, lineno = (frames[-1].filename, frames[-1].lineno or 0) if frames else ("", 0)
    record = logger.makeRecord(
        logger.name,
        logging.ERROR,
        pathname,
        lineno,
        message,
        (),
        (type(error), error, error.__traceback__),
    )
    return log_entry(record)


def invocation_logger(parent: logging.Logger, invocation: object) -> logging.Logger:
    """A child of ``parent`` whose records land in ``invocation``'s log, from any thread."""
    # Not registered with logging.getLogger, so it is freed with the invocation.
    logger = logging.Logger(f"{parent.name}.invocation")
    logger.parent = parent

    def tag(record: logging.LogRecord) -> bool:
        setattr(record, _TAG, invocation)
        return True

    logger.addFilter(tag)
    return logger


class InvocationLogHandler(logging.Handler):
    """Appends each record logged during an invocation to that invocation's log."""

    def emit(self, record: logging.LogRecord) -> None:
        """Route one record (never raises into the action)."""
        invocation = record.__dict__.get(_TAG, _UNTAGGED)
        if invocation is _UNTAGGED:
            invocation = current_invocation()
        if invocation is None:
            return
        try:
            invocation.add_log(log_entry(record))
        except Exception:  # A broken log call must not break the action.
            self.handleError(record)


def install_log_capture() -> logging.Logger:
    """Attach the capture handler to the Things' parent logger (idempotent).

    The parent logger is set to INFO when nobody has configured it, so an
    action's ``logger.info(...)`` reaches its invocation log as LabThings users
    expect.
    """
    parent = logging.getLogger(LOGGER_PREFIX)
    if not any(isinstance(handler, InvocationLogHandler) for handler in parent.handlers):
        parent.addHandler(InvocationLogHandler())
    if parent.level == logging.NOTSET:
        parent.setLevel(logging.INFO)
    return parent


if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
