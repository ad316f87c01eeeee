"""HTTPS through hypercorn, and a loud warning when a server is exposed without tokens.

Guards issue 14, point 12: tokens sent in the clear can be read off the
network, so the server serves TLS (``--certfile``, ``--keyfile``); and a
server bound to a network address with no tokens says so at start-up.
Tested with a self-signed certificate made for the test.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from serving import free_port

COMMAND = str(Path(sys.executable).with_name("labthings-async"))
TOKEN = "tls-operator-2b8e41"

THING_MODULE = """
import labthings_async as lt


class Shutter(lt.Thing):
    open: bool = lt.property(default=False)

    @lt.action
    def toggle(self) -> bool:
        self.open = not self.open
        return self.open
"""


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed to make the test's certificate")
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "shutters.py").write_text(THING_MODULE)
    (tmp_path / "tokens.json").write_text(json.dumps({"operate": [TOKEN]}))
    return tmp_path


@pytest.fixture
def serving(workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(20)


def start(
    workdir: Path, serving: list[subprocess.Popen[bytes]], *args: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """``labthings-async serve shutters:Shutter ARGS``: the process, and the file of its log."""
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [COMMAND, "serve", "shutters:Shutter", *args],
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    serving.append(process)
    return process, log


def wait_for_line(path: Path, words: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = path.read_text()
        if words in text:
            return text
        if process.poll() is not None:
            pytest.fail(f"the server exited: {text}")
        time.sleep(0.05)
    pytest.fail(f"the server never logged {words!r}: {path.read_text()}")


def test_serve_https_with_a_token(
    workdir: Path, certificate: tuple[Path, Path], serving: list[subprocess.Popen[bytes]]
) -> None:
    cert, key = certificate
    port = free_port()
    process, log = start(
        workdir, serving, "--port", str(port),
        "--certfile", str(cert), "--keyfile", str(key), "--tokens", "tokens.json",
    )  # fmt: skip
    wait_for_line(log, "Running on https://", process)
    trusted = ssl.create_default_context(cafile=str(cert))
    with httpx2.Client(verify=trusted, timeout=10) as http:
        url = f"https://127.0.0.1:{port}/shutter/"
        description = http.get(url).json()
        assert description["base"] == url  # The links say https.
        assert description["security"] == ["bearer_sc"]
        headers = {"Authorization": f"Bearer {TOKEN}", "Prefer": "wait=5"}
        invoked = http.post(f"{url}toggle", headers=headers)
        assert invoked.status_code == 201
        assert invoked.json()["output"] is True
        assert invoked.headers["location"].startswith("https://")
        assert http.post(f"{url}toggle").status_code == 401
    with httpx2.Client(timeout=10) as plain, pytest.raises(httpx2.TransportError):
        plain.get(f"http://127.0.0.1:{port}/shutter/")  # No plain HTTP on that port.
    assert "WITHOUT AUTHENTICATION" not in log.read_text()


def test_half_a_certificate_is_refused_in_one_line(
    workdir: Path, certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    result = subprocess.run(
        [COMMAND, "serve", "shutters:Shutter", "--certfile", str(cert)],
        cwd=workdir, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "labthings-async: HTTPS needs both --certfile and --keyfile"


def test_a_server_on_the_network_without_tokens_says_so_loudly(
    workdir: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    process, log = start(workdir, serving, "--host", "0.0.0.0", "--port", str(free_port()))
    text = wait_for_line(log, "WITHOUT AUTHENTICATION", process)
    [line] = [line for line in text.splitlines() if "WITHOUT AUTHENTICATION" in line]
    assert "WARNING" in line
    assert "--tokens FILE" in line


def test_a_loopback_server_without_tokens_stays_quiet(
    workdir: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    process, log = start(workdir, serving, "--port", str(free_port()))
    text = wait_for_line(log, "Running on http://", process)
    assert "WITHOUT AUTHENTICATION" not in text
