"""The LabThings rig module, served on LabThings-FastAPI 0.3.0 or ported and served here.

``lt_rig.py`` is LabThings code. Served on LabThings, it runs as written, in
LabThings' own server (``serve_labthings.py``); served here, its source with
``labthings_fastapi`` replaced by ``labthings_async`` (and nothing else) is
written to the server's folder and served by our ThingServer on hypercorn
(``serve_ours.py``). Both read the same config file, in LabThings' format,
and each runs in a subprocess on a socket the test binds first, so its URL
is known before it starts (a request waits in the socket's queue until the
server accepts it).
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
from PIL import Image

__all__ = (
    "FRAMEWORKS",
    "LT_RIG",
    "RigServer",
    "decoded",
    "port_source",
    "read_frames",
    "rig_config",
    "wait_for_status",
)

HERE = Path(__file__).parent
LT_RIG = HERE / "lt_rig.py"
FRAMEWORKS = ("labthings_fastapi", "labthings_async")
"""Where the rig runs: on LabThings-FastAPI 0.3.0 itself, or ported here."""

STOP_TIMEOUT = 30.0


def port_source(source: str) -> str:
    """LabThings code with its imports pointed here: the one change a user makes."""
    return source.replace("labthings_fastapi", "labthings_async")


def rig_config(settings_folder: Path) -> dict[str, Any]:
    """The rig's config, in LabThings' format, which both servers read."""
    return {
        "things": {
            "stage": "lt_rig:Stage",
            "camera": "lt_rig:Camera",
            "scanner": "lt_rig:Scanner",
        },
        "enable_global_lock": True,
        "settings_folder": str(settings_folder),
    }


class RigServer:
    """The rig served by ``framework`` in a subprocess; ``restart`` serves it again.

    Args:
        framework: ``labthings_fastapi`` or ``labthings_async``.
        folder: Where the config, the server's log and (here) the ported module go.
        settings_folder: Where the server keeps the settings.
    """

    def __init__(self, framework: str, folder: Path, settings_folder: Path) -> None:
        self.framework = framework
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "rig.json"
        self.config.write_text(json.dumps(rig_config(settings_folder)))
        if framework == "labthings_async":
            (folder / "lt_rig.py").write_text(port_source(LT_RIG.read_text()))
            self._command = [sys.executable, str(HERE / "serve_ours.py"), str(self.config)]
            self._cwd = folder
        else:
            self._command = [sys.executable, str(HERE / "serve_labthings.py"), str(self.config)]
            self._cwd = HERE
        self._log = folder / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        """Start the server; ``url`` is its root (no trailing slash)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            with self._log.open("ab") as log:
                self._process = subprocess.Popen(
                    [*self._command, str(sock.fileno())],
                    pass_fds=[sock.fileno()],
                    cwd=self._cwd,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        """Stop the server as Ctrl-C would (SIGTERM), and wait until it has."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(STOP_TIMEOUT)
            self._process = None

    def restart(self) -> None:
        """Stop the server, then start a new one from the same config."""
        self.stop()
        self.start()

    def log(self) -> str:
        """What the server wrote to stderr: its log, or why it failed."""
        return self._log.read_text(errors="replace")


def read_frames(chunks: Iterator[bytes], boundary: bytes = b"--frame") -> Iterator[bytes]:
    """The JPEG frames of a ``multipart/x-mixed-replace`` stream, as a browser reads them.

    Each part is a boundary line, headers (``Content-Type: image/jpeg``;
    LabThings sends no ``Content-Length``), a blank line and the JPEG, which
    ends at the next boundary. A frame is yielded once the next one begins.
    """
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            start = buffer.find(boundary + b"\r\n")
            next_start = buffer.find(b"\r\n" + boundary + b"\r\n", start + 1)
            if start < 0 or next_start < 0:
                break
            head, _, body = buffer[start:next_start].partition(b"\r\n\r\n")
            assert b"Content-Type: image/jpeg" in head, f"a part with headers {head!r}"
            yield body
            buffer = buffer[next_start + 2 :]


def decoded(jpeg: bytes) -> Image.Image:
    """A JPEG frame as a Pillow image (it fails if the bytes are no JPEG)."""
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image


def wait_for_status(url: str, wanted: set[str], timeout: float = 30.0) -> dict[str, Any]:
    """Poll an invocation until its status is one of ``wanted``; return it."""
    deadline = time.monotonic() + timeout
    while True:
        invocation: dict[str, Any] = httpx2.get(url, timeout=timeout).json()
        if invocation["status"] in wanted:
            return invocation
        assert time.monotonic() < deadline, f"still {invocation['status']} after {timeout} s"
        time.sleep(0.05)
