"""The start-up banner of ``labthings-async serve``: where to point a browser."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx2

from labthings_async.cli.serve import banner
from labthings_async.config import load_config

COMMAND = str(Path(sys.executable).with_name("labthings-async"))
DEADLINE = 30.0


def test_the_banner_lists_the_panel_the_docs_and_each_thing() -> None:
    text = banner(["127.0.0.1:5000"], prefix="/api", things=["stage", "camera"], panel=True)
    assert text.splitlines() == [
        "labthings-async: serving 2 Things at http://127.0.0.1:5000/api",
        "  Control panel  http://127.0.0.1:5000/api/",
        "  API docs       http://127.0.0.1:5000/api/docs",
        "  stage          http://127.0.0.1:5000/api/stage/",
        "  camera         http://127.0.0.1:5000/api/camera/",
        "Press Ctrl-C to stop.",
    ]


def test_the_banner_without_the_panel_on_every_interface() -> None:
    text = banner(["0.0.0.0:8000"], prefix="", things=["stage"], panel=False)
    assert text.splitlines() == [
        "labthings-async: serving 1 Thing at http://127.0.0.1:8000 (on every network interface)",
        "  stage  http://127.0.0.1:8000/stage/",
        "Press Ctrl-C to stop.",
    ]


def test_the_readme_shows_what_make_serve_prints() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    shown = re.search(r"`make serve`[^`]* prints where everything is:\n\n((?:    .*\n)+)", readme)
    assert shown is not None, "the README's banner example is gone"
    served = load_config(Path(__file__).parents[2] / "labthings_async/examples/rig.json")
    printed = banner(["127.0.0.1:5000"], prefix="", things=list(served.things), panel=True)
    # The README leaves out the last line, "Press Ctrl-C to stop."
    assert [line[4:] for line in shown.group(1).splitlines()] == printed.splitlines()[:-1]


def test_serve_prints_addresses_that_answer(tmp_path: Path) -> None:
    # Port 0: the banner must say the port the OS chose, not the one asked for.
    process = subprocess.Popen(
        [
            COMMAND,
            "serve",
            "labthings_async.examples.microscope:Microscope",
            "--name",
            "scope",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert done.wait(DEADLINE), f"no banner; printed {lines!r}"
        rows = [re.fullmatch(r"  (.+?)\s{2,}(\S+)", line) for line in lines[1:-1]]
        urls = {row.group(1): row.group(2) for row in rows if row is not None}
        assert set(urls) == {"Control panel", "API docs", "scope"}
        assert ":0/" not in urls["scope"]
        with httpx2.Client(timeout=10) as http:
            panel = http.get(urls["Control panel"], headers={"Accept": "text/html"})
            assert panel.status_code == 200 and "<html" in panel.text
            assert http.get(urls["API docs"]).status_code == 200
            assert http.get(urls["scope"]).json()["title"] == "Microscope"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0
        reader.join(DEADLINE)
        assert process.stdout is not None
        process.stdout.close()
