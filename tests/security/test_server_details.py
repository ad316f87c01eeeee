"""No traceback and no server file name reaches a client unless the server is in debug mode.

Guards issue 14, point 8: each failed invocation's log carried the full
traceback, with the server's file paths, to every client, in the invocation
and in its event stream. The exception's type and message still reach the
client; the server's own log keeps the traceback.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from inprocess import in_process

import labthings_async as lt
from labthings_async.server import ThingServer


class Leaky(lt.Thing):
    @lt.action
    def fail(self) -> None:
        self.logger.warning("about to open the valve")
        raise ValueError("the valve is stuck")

    @lt.action
    async def fail_async(self) -> None:
        try:
            raise KeyError("no such valve")
        except KeyError:
            self.logger.exception("looked for the valve")
            raise


def _failed(http: Any, action: str) -> tuple[dict[str, Any], str]:
    """The finished invocation's JSON and the text of its event stream."""
    invocation = http.post(f"/leaky/{action}", json={}, headers={"Prefer": "wait=10"}).json()
    assert invocation["status"] == "error"
    with http.stream("GET", f"/action_invocations/{invocation['id']}/events") as stream:
        events = "".join(stream.iter_text())
    return invocation, events


@pytest.mark.parametrize("action", ["fail", "fail_async"])
def test_a_failed_invocation_shows_clients_what_failed_but_not_where(
    action: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = ThingServer({"leaky": Leaky()})
    with caplog.at_level(logging.DEBUG), in_process(server.app) as http:
        invocation, events = _failed(http, action)
    for text in (json.dumps(invocation), events):
        assert "Traceback" not in text
        assert "test_server_details" not in text  # This file raised the error.
        assert __file__ not in text
        assert re.search(r"\.py\b", text) is None, "no source file is named"
    records = invocation["log"]
    assert records, "the log still says what happened"
    assert all(record["traceback"] is None for record in records)
    assert all(record["filename"] == "" and record["lineno"] == 0 for record in records)
    failure = records[-1]
    assert failure["exception_type"] in ("ValueError", "KeyError")
    assert failure["message"].startswith(f"action {action} failed: ")
    assert invocation["error"]["title"] in ("ValueError", "KeyError")
    # The server's own log keeps the whole exception, traceback included.
    [kept] = [r for r in caplog.records if r.getMessage().startswith(f"action {action} failed")]
    assert kept.levelname == "ERROR"
    assert "Traceback (most recent call last)" in kept.getMessage()
    assert f"in {action}" in kept.getMessage()


def test_in_debug_mode_the_log_keeps_the_traceback_and_where_it_was_raised() -> None:
    server = ThingServer({"leaky": Leaky()}, debug=True)
    with in_process(server.app) as http:
        invocation, events = _failed(http, "fail")
    failure = invocation["log"][-1]
    assert failure["traceback"].startswith("Traceback")
    assert failure["filename"] == "test_server_details.py"
    assert "Traceback" in events
