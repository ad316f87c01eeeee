"""A server may end its event streams after a while; the client resumes where it was.

Guards issue 14, point 11: property streams never ended, so a client that
reads a response to its end (a schema-driven fuzzer) never finished. With
``stream_lifetime`` the server ends each stream after that long, and a
client reconnecting with ``Last-Event-ID`` misses nothing.
"""

from __future__ import annotations

import re

from inprocess import in_process

import labthings_async as lt
from labthings_async.server import ThingServer


class Dial(lt.Thing):
    level: int = lt.property(default=0)


def test_a_stream_ends_after_its_lifetime_and_resumes_from_its_last_event() -> None:
    server = ThingServer({"dial": Dial()}, stream_lifetime=0.5, keepalive=0.1)
    with in_process(server.app) as http:
        http.put("/dial/level", json=1)
        with http.stream("GET", "/dial/level/events", headers={"Last-Event-ID": "0"}) as stream:
            first = "".join(stream.iter_text())  # Ends by itself: the server closed it.
        ids = re.findall(r"^id: (\d+)$", first, re.MULTILINE)
        assert ids, first
        assert "data: 1" in first
        http.put("/dial/level", json=2)
        with http.stream("GET", "/dial/level/events", headers={"Last-Event-ID": ids[-1]}) as stream:
            second = "".join(stream.iter_text())
        assert "data: 2" in second
        assert "data: 1" not in second


def test_without_a_lifetime_streams_are_not_ended_by_the_server() -> None:
    assert ThingServer({"dial": Dial()}).state.stream_lifetime is None
