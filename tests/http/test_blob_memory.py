"""A large file blob is streamed from disk: the server's memory stays flat while it is sent."""

from __future__ import annotations

import os
from pathlib import Path

import httpx2
import pytest
from script_server import script_process

SIZE = 1 << 30  # 1 GiB, sparse: no disk is used, and reading it costs no disk I/O.
HEADROOM = 64 << 20


def peak_memory(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


@pytest.mark.timeout(180)
def test_a_one_gigabyte_file_is_served_without_being_read_into_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    large = tmp_path / "large.bin"
    with large.open("wb") as file:
        file.truncate(SIZE)
    monkeypatch.setenv("LABTHINGS_TEST_BLOB", str(large))
    script = Path(__file__).with_name("blob_server.py")
    with script_process(script, "") as (root, process), httpx2.Client(timeout=60) as http:
        reply = http.post(f"{root}/files/large?reply=output")
        assert reply.status_code == 200, reply.text
        href = reply.json()["href"]
        http.get(href, headers={"Range": "bytes=0-1023"})  # Warm the path up.
        before = peak_memory(process.pid)
        received = 0
        with http.stream("GET", href) as download:
            assert download.headers["content-length"] == str(SIZE)
            for chunk in download.iter_bytes():
                received += len(chunk)
        after = peak_memory(process.pid)
    assert received == SIZE
    assert after - before < HEADROOM, f"the server's peak memory grew {after - before} bytes"
    assert os.path.getsize(large) == SIZE
