"""The server answers only to its own names, and closes a connection whose framing is ambiguous.

Guards issue 14, point 9: any ``Host`` header was trusted and reflected into
the Thing Description's ``base`` and ``id``, every ``href`` and ``Location``
(DNS rebinding, poisoned links); and a request with both ``Content-Length``
and ``Transfer-Encoding`` left its connection open, which RFC 9112 §6.1
forbids (request smuggling).
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import httpx2
import pytest
from conftest import ServeThings
from inprocess import in_process

import labthings_async as lt
from labthings_async.http.hosts import AllowedHosts
from labthings_async.server import ThingServer


class Lamp(lt.Thing):
    on: bool = lt.property(default=False)

    @lt.action
    def switch(self, on: bool = True) -> bool:
        self.on = on
        return on


async def _raw(port: int, request: bytes) -> tuple[bytes, bool]:
    """Send raw bytes; the first response, and whether the server then closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().partition(b"content-length: ")[2].partition(b"\r")[0])
            body = await reader.readexactly(length)
        try:
            async with asyncio.timeout(3):
                closed = await reader.read(65536) == b""
        except TimeoutError:
            closed = False  # Still open, waiting for another request.
    finally:
        writer.close()
    return head + body, closed


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example"])
def test_a_spoofed_host_is_421_and_never_reaches_the_links(host: str) -> None:
    server = ThingServer({"lamp": Lamp()})
    with in_process(server.app) as http:
        for reply in (
            http.get("/lamp/", headers={"Host": host}),
            http.get("/things/", headers={"Host": host}),
            http.post("/lamp/switch", json={}, headers={"Host": host}),
        ):
            assert reply.status_code == 421, reply.text
            assert reply.headers["content-type"] == "application/problem+json"
            assert "evil.example" not in reply.headers.get("location", "")
            problem = reply.json()
            assert problem["title"] == "Host not allowed"
            assert "--allowed-host" in problem["detail"]
        assert http.get("/action_invocations/").json() == []
        assert http.get("/lamp/").json()["base"] == "http://testserver/lamp/"


async def test_a_real_server_answers_to_its_address_and_localhost_only(
    serve_things: ServeThings,
) -> None:
    root = await serve_things(ThingServer({"lamp": Lamp()}))
    port = urlsplit(root).port
    async with httpx2.AsyncClient(timeout=10) as http:
        for name in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            reply = await http.get(f"{root}/lamp/", headers={"Host": name})
            assert reply.status_code == 200, (name, reply.text)
            assert reply.json()["base"] == f"http://{name}/lamp/"
        # A rebinding attacker's name resolves to this machine, but is not its name.
        rebound = await http.post(
            f"{root}/lamp/switch", json={}, headers={"Host": f"attacker.example:{port}"}
        )
        assert rebound.status_code == 421
        assert "location" not in rebound.headers
        assert (await http.get(f"{root}/action_invocations/")).json() == []


def test_configured_names_domains_and_any() -> None:
    server = ThingServer(
        {"lamp": Lamp()}, allowed_hosts=["microscope.lab.example.org", ".cluster.example"]
    )
    with in_process(server.app) as http:
        for host, status in [
            ("microscope.lab.example.org", 200),
            ("MICROSCOPE.lab.example.org:8080", 200),
            ("node7.cluster.example", 200),
            ("cluster.example", 200),
            ("evilcluster.example", 421),
            ("testserver", 421),  # Named explicitly, the names are all there is.
        ]:
            assert http.get("/lamp/", headers={"Host": host}).status_code == status, host
    anything = ThingServer({"lamp": Lamp()}, allowed_hosts=["*"])
    with in_process(anything.app) as http:
        assert http.get("/lamp/", headers={"Host": "whatever.example"}).status_code == 200


def test_bound_to_every_interface_the_machine_answers_to_its_own_names() -> None:
    allowed = AllowedHosts()
    allowed.add_bind("0.0.0.0:5000")
    scope = {"server": ("192.0.2.7", 5000)}
    hostname = socket.gethostname()
    assert allowed.allows(hostname, scope)
    assert allowed.allows(f"{hostname}.local:5000", scope)
    assert allowed.allows("192.0.2.7:5000", scope)  # The address it was reached at.
    assert not allowed.allows("127.0.0.1", scope)  # Not reached on loopback.
    assert not allowed.allows("attacker.example", scope)
    named = AllowedHosts()
    named.add_bind("microscope.local:5000")
    assert named.allows("microscope.local:5000", {"server": ("127.0.0.1", 5000)})


async def test_content_length_with_transfer_encoding_is_refused_and_the_connection_closed(
    serve_things: ServeThings,
) -> None:
    root = await serve_things(ThingServer({"lamp": Lamp()}))
    port = urlsplit(root).port
    assert port is not None
    smuggling = (
        b"POST /lamp/switch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n"
        b"POST /lamp/switch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    received, closed = await _raw(port, smuggling)
    assert received.startswith(b"HTTP/1.1 400 "), received
    assert b"application/problem+json" in received
    assert b"Transfer-Encoding" in received  # The detail names the two headers.
    assert closed, "the connection must close after the response (RFC 9112 6.1)"
    assert received.count(b"HTTP/1.1 ") == 1  # The smuggled request was never served.
    async with httpx2.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{root}/action_invocations/")).json() == []
