"""Capturing log records into the log of the invocation that emitted them.

Layer: invocation (stdlib). One handler sits on the parent of every Thing's
logger. It routes each record to the invocation it was logged in: the one an
invocation-bound logger tagged it with, else the current invocation of the
thread or task (a context variable, so concurrent invocations of one Thing keep
separate logs). Records logged outside any invocation pass through untouched.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime

from .context import current_invocation
from .models import LogEntry
from .thing import LOGGER_PREFIX

__all__ = ("InvocationLogHandler", "install_log_capture", "log_entry")


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


class InvocationLogHandler(logging.Handler):
    """Appends each record logged during an invocation to that invocation's log."""

    def emit(self, record: logging.LogRecord) -> None:
        """Route one record (never raises into the action)."""
        invocation = getattr(record, "labthings_invocation", None) or current_invocation()
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
