"""Bodies that are not JSON text at all are the client's fault: 400, saying so, never a 500.

Guards issue 14, point 7: JSON nested past the decoder's depth raised
``RecursionError`` and a string of invalid UTF-8 ``UnicodeDecodeError``, and
both reached clients as 500s.
"""

from __future__ import annotations

import pytest
from inprocess import in_process

import labthings_async as lt
from labthings_async.server import ThingServer

DEEP = b"[" * 5000 + b"]" * 5000
NOT_UTF8 = b'{"label": "\xff\xfe"}'


class Labeller(lt.Thing):
    label: str = lt.property(default="")
    count: int = lt.property(default=0)

    @lt.action
    def stamp(self, label: str = "") -> str:
        return label


@pytest.mark.parametrize(
    ("method", "path", "body", "reason"),
    [
        ("POST", "/labeller/stamp", DEEP, "nested too deep"),
        ("POST", "/labeller/stamp", NOT_UTF8, "not UTF-8"),
        ("PUT", "/labeller/count", DEEP, "nested too deep"),
        ("PUT", "/labeller/label", b'"\xc3\x28"', "not UTF-8"),
        ("PUT", "/labeller/count", b'{"a": ' * 3000 + b"1" + b"}" * 3000, "nested too deep"),
    ],
)
def test_undecodable_bodies_are_400_problems_naming_what_was_wrong(
    method: str, path: str, body: bytes, reason: str
) -> None:
    server = ThingServer({"labeller": Labeller()})
    with in_process(server.app) as http:
        reply = http.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 400, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["title"] == "Malformed JSON"
        assert "is not valid JSON" in problem["detail"]
        assert reason in problem["detail"]
        assert "Traceback" not in reply.text
        # Nothing was started or changed by the refused body.
        assert http.get("/action_invocations/").json() == []
        assert http.get("/labeller/count").json() == 0


class Counter(lt.Thing):
    @lt.action
    def count(self, times: int, items: list[int] | None = None) -> list[int]:
        return [times, *(items or [])]


def test_a_whole_number_written_with_a_fraction_is_an_integer_as_the_schema_says() -> None:
    """Guards issue 14, point 11: the published schema (JSON Schema's ``integer``)
    allows ``5.0``, so the server must too; schemathesis found it refused."""
    with in_process(ThingServer({"counter": Counter()}).app) as http:
        wait = {"Prefer": "wait=10"}
        done = http.post("/counter/count", json={"times": 5.0, "items": [1.0, 2]}, headers=wait)
        assert done.status_code == 201, done.text
        assert done.json()["output"] == [5, 1, 2]
        for refused in ({"times": 5.5}, {"times": "5"}, {"times": True}):
            reply = http.post("/counter/count", json=refused)
            assert reply.status_code == 422, (refused, reply.text)
            assert reply.json()["errors"][0]["path"] == "$.times"
