"""Another site's web page cannot make the server do anything (cross-site request forgery).

Guards issue 14, point 6: a POST with a ``text/plain`` or form body, or with
no body at all, ran the action, and a browser sends any of those from any
page the user visits without asking the server first. Now a body must be
declared JSON (415 otherwise), and a state-changing request that a browser
marks as coming from another origin is refused (403) unless that origin was
allowed with ``--cors``. Programs, which send no ``Origin``, are unaffected.
"""

from __future__ import annotations

from typing import Any

import pytest
from inprocess import in_process

import labthings_async as lt
from labthings_async.server import ThingServer

EVIL = "http://evil.example"


class Valve(lt.Thing):
    open_percent: int = lt.property(default=0)

    @lt.action
    def open(self, percent: int = 100) -> int:
        self.open_percent = percent
        return percent


# What a page can make a browser send to another origin without a CORS
# preflight: a form (three encodings), or a fetch() with no body.
SIMPLE_POSTS: list[dict[str, Any]] = [
    {"content": b"percent=100", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {
        "content": b'--b\r\nContent-Disposition: form-data; name="percent"\r\n\r\n100\r\n--b--\r\n',
        "headers": {"Content-Type": "multipart/form-data; boundary=b"},
    },
    {"content": b'{"percent": 100}', "headers": {"Content-Type": "text/plain"}},
    {"content": b"", "headers": {"Content-Type": "text/plain"}},
    {"content": b"", "headers": {}},
]


@pytest.mark.parametrize("request_options", SIMPLE_POSTS)
@pytest.mark.parametrize(
    "browser_headers",
    [{"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_no_request_another_site_can_send_runs_an_action(
    request_options: dict[str, Any], browser_headers: dict[str, str]
) -> None:
    with in_process(ThingServer({"valve": Valve()}).app) as http:
        headers = {**request_options["headers"], **browser_headers}
        reply = http.post("/valve/open", content=request_options["content"], headers=headers)
        assert reply.status_code in (403, 415), reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        assert http.get("/action_invocations/").json() == []


def test_a_cross_site_request_is_refused_saying_who_sent_it() -> None:
    with in_process(ThingServer({"valve": Valve()}).app) as http:
        reply = http.post("/valve/open", headers={"Origin": EVIL})
        assert reply.status_code == 403
        problem = reply.json()
        assert problem["title"] == "Cross-site request refused"
        assert EVIL in problem["detail"]
        assert "--cors" in problem["detail"]
        # Writing a property and cancelling are refused alike.
        put = http.put(
            "/valve/open_percent",
            json=50,
            headers={"Origin": EVIL, "Content-Type": "application/json"},
        )
        assert put.status_code == 403
        assert http.get("/valve/open_percent").json() == 0


def test_the_servers_own_page_and_programs_still_change_state() -> None:
    with in_process(ThingServer({"valve": Valve()}).app) as http:
        # The server's own page: its Origin is the server's.
        own = http.post(
            "/valve/open",
            json={"percent": 10},
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        )
        assert own.status_code == 201, own.text
        # A program sends no Origin, and may POST with no body at all.
        bare = http.post("/valve/open")
        assert bare.status_code == 201, bare.text
        written = http.put("/valve/open_percent", json=5)
        assert written.status_code == 204


def test_an_origin_allowed_with_cors_may_change_state() -> None:
    allowed = "http://lab-dashboard.example:8080"
    server = ThingServer({"valve": Valve()}, cors_origins=[allowed])
    with in_process(server.app) as http:
        reply = http.post("/valve/open", json={"percent": 20}, headers={"Origin": allowed})
        assert reply.status_code == 201, reply.text
        assert reply.headers["access-control-allow-origin"] == allowed
        other = http.post("/valve/open", json={"percent": 20}, headers={"Origin": EVIL})
        assert other.status_code == 403
