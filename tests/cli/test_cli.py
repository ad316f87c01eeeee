"""The ``labthings-async`` command, run as a user runs it: a process of its own."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from serving import free_port

import labthings_async as lt

COMMAND = str(Path(sys.executable).with_name("labthings-async"))
DEADLINE = 20.0

THING_MODULE = """
import labthings_async as lt


class Greeter(lt.Thing):
    greeting: str = lt.property(default="")

    def __init__(self, greeting: str = "hello", times: int = 1, marker: str = "") -> None:
        self.greeting = greeting * times
        self.marker = marker

    def teardown(self) -> None:
        if self.marker:
            with open(self.marker, "w") as file:
                file.write("torn down")

    @lt.action
    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}"


class Broken(lt.Thing):
    def setup(self) -> None:
        raise OSError("no camera on /dev/video0")
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory holding a Thing module, as a user's project would."""
    (tmp_path / "greeters.py").write_text(THING_MODULE)
    return tmp_path


def start(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``labthings-async serve ARGS`` on a free port; wait until it answers."""
    port = free_port()
    with (workdir / "stdout.txt").open("wb") as out, (workdir / "stderr.txt").open("wb") as err:
        process = subprocess.Popen(
            [COMMAND, "serve", *args, "--port", str(port)], cwd=workdir, stdout=out, stderr=err
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            httpx2.get(f"{url}/things/", timeout=1)
            return process, url
        except httpx2.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(
                    f"the server did not answer: {(workdir / 'stderr.txt').read_text()}"
                ) from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], signum: signal.Signals) -> float:
    """Send ``signum``; the process must exit with status 0. Returns how long it took."""
    began = time.monotonic()
    process.send_signal(signum)
    try:
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return time.monotonic() - began


def test_serve_a_config_file_and_stop_on_sigint(workdir: Path) -> None:
    marker = workdir / "torn-down.txt"
    config = {
        "things": {
            "plain": "greeters:Greeter",
            "custom": {
                "class": "greeters:Greeter",
                "args": ["hi"],
                "kwargs": {"times": 2, "marker": str(marker)},
            },
        },
        "settings_folder": "./settings",
    }
    (workdir / "lab.json").write_text(json.dumps(config))

    process, url = start(workdir, "lab.json")
    with httpx2.Client(base_url=url, timeout=10) as http:
        assert http.get("/things/").json() == {
            "plain": f"{url}/plain/",
            "custom": f"{url}/custom/",
        }
        assert http.get("/plain/greeting").json() == "hello"
        assert http.get("/custom/greeting").json() == "hihi"
        invoked = http.post("/custom/greet", json={"name": "Ada"}, headers={"Prefer": "wait=10"})
        assert invoked.status_code == 201
        assert invoked.json()["output"] == "hihi, Ada"

    assert stop(process, signal.SIGINT) < 5
    assert marker.read_text() == "torn down"
    errors = (workdir / "stderr.txt").read_text()
    assert "Traceback" not in errors
    assert errors.count("Running on") == 1


def test_serve_a_class_by_name_and_stop_on_sigterm(workdir: Path) -> None:
    process, url = start(workdir, "greeters:Greeter", "--name", "hello")
    with httpx2.Client(base_url=url, timeout=10) as http:
        assert http.get("/things/").json() == {"hello": f"{url}/hello/"}
        assert http.get("/hello/").json()["title"] == "Greeter"
        invoked = http.post("/hello/greet", json={"name": "Bo"}, headers={"Prefer": "wait=10"})
        assert invoked.json()["output"] == "hello, Bo"

    assert stop(process, signal.SIGTERM) < 5
    assert "Traceback" not in (workdir / "stderr.txt").read_text()


def test_serve_with_a_prefix_from_the_command_line(workdir: Path) -> None:
    process, url = start(workdir, "greeters:Greeter", "--prefix", "/api")
    try:
        with httpx2.Client(base_url=url, timeout=10) as http:
            assert http.get("/api/things/").json() == {"greeter": f"{url}/api/greeter/"}
    finally:
        stop(process, signal.SIGTERM)


@pytest.mark.parametrize(
    ("config", "args", "words"),
    [
        (None, ["missing:Thing"], "cannot import module 'missing'"),
        (None, ["greeters:Nothing"], "has no attribute 'Nothing'"),
        (None, ["greeters:Broken"], "no camera on /dev/video0"),
        ('{"things": {"cam": "greeters:Broken"}}', [], "setup of Thing 'cam'"),
        ('{"things": {"a": "greeters:Greeter"', [], "not valid JSON"),
        (
            '{"things": {"a": "greeters:Greeter"}, "colour": "red"}',
            [],
            "config file 'lab.json' has no key 'colour'; "
            "its keys are: application_config, host, options, port, prefix, things",
        ),
        (
            '{"things": {"a": "greeters:Greeter"}, "hots": "0.0.0.0"}',
            [],
            "has no key 'hots' (did you mean 'host'?)",
        ),
        (
            '{"things": {"a": {"class": "greeters:Greeter", "kwarg": {}}}}',
            [],
            "Thing 'a' in config file 'lab.json' has no key 'kwarg' (did you mean 'kwargs'?)",
        ),
        (
            '{"things": {"a": "greeters:Greeter"}, "options": {"max_thread": 4}}',
            [],
            "config file 'lab.json': ThingServer has no option 'max_thread' "
            "(did you mean 'max_threads'?); its options are: allowed_hosts, application_config, ",
        ),
        (
            '{"things": {"a": "greeters:Greeter"}, "options": {"prefix": "/api"}}',
            [],
            'put "prefix" at the top level, not in "options"',
        ),
        ('{"things": {"a": {"class": "greeters:Greeter", "kwargs": {"x": 1}}}}', [], "'x'"),
        ('{"things": {"a": "elsewhere:Greeter"}}', [], "cannot import module 'elsewhere'"),
        (None, ["nowhere.json"], "cannot read config file 'nowhere.json'"),
    ],
)
def test_startup_errors_print_one_line_and_exit_non_zero(
    workdir: Path, config: str | None, args: list[str], words: str
) -> None:
    if config is not None:
        (workdir / "lab.json").write_text(config)
        args = ["lab.json", *args]

    done = subprocess.run(
        [COMMAND, "serve", *args, "--port", str(free_port())],
        cwd=workdir,
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert done.returncode != 0
    output = (done.stdout + done.stderr).decode()
    assert "Traceback" not in output
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("labthings-async: ")
    assert words in lines[0]


def test_a_busy_port_prints_one_line_and_exits_non_zero(workdir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        done = subprocess.run(
            [COMMAND, "serve", "greeters:Greeter", "--port", str(port)],
            cwd=workdir,
            capture_output=True,
            timeout=30,
            check=False,
        )

    assert done.returncode != 0
    assert "Traceback" not in (done.stdout + done.stderr).decode()
    lines = done.stderr.decode().strip().splitlines()
    assert lines == [f"labthings-async: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_serve_with_cors_a_log_level_and_an_access_log(workdir: Path) -> None:
    process, url = start(
        workdir,
        "greeters:Greeter",
        "--cors",
        "http://lab.example",
        "--log-level",
        "warning",
        "--access-log",
    )
    try:
        with httpx2.Client(base_url=url, timeout=10) as http:
            allowed = http.get("/greeter/greeting", headers={"Origin": "http://lab.example"})
            assert allowed.headers["access-control-allow-origin"] == "http://lab.example"
            other = http.get("/greeter/greeting", headers={"Origin": "http://elsewhere.example"})
            assert "access-control-allow-origin" not in other.headers
    finally:
        stop(process, signal.SIGTERM)
    errors = (workdir / "stderr.txt").read_text()
    assert '"GET /greeter/greeting 1.1" 200' in errors
    # hypercorn's "Running on ..." is an INFO record: below the level asked for.
    assert "Running on" not in errors


def test_serve_writes_the_access_log_to_a_file_and_none_by_default(workdir: Path) -> None:
    process, url = start(workdir, "greeters:Greeter", "--access-log", "access.log")
    try:
        httpx2.get(f"{url}/greeter/greeting", timeout=10)
    finally:
        stop(process, signal.SIGTERM)
    assert '"GET /greeter/greeting 1.1" 200' in (workdir / "access.log").read_text()
    assert "GET /greeter/greeting" not in (workdir / "stderr.txt").read_text()

    process, url = start(workdir, "greeters:Greeter")
    try:
        httpx2.get(f"{url}/greeter/greeting", timeout=10)
    finally:
        stop(process, signal.SIGTERM)
    assert "GET /greeter/greeting" not in (workdir / "stderr.txt").read_text()
    assert "Running on" in (workdir / "stderr.txt").read_text()


# -- the README's command-line examples ----------------------------------------------------

README = Path(__file__).parents[2] / "README.md"


def readme_console() -> list[tuple[str, list[str]]]:
    """The README's shell session: each command with the lines it shows."""
    section = README.read_text().split("## Using a Thing from Python and the command line\n")[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    session: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            session.append((line.removeprefix("$ "), []))
        else:
            session[-1][1].append(line)
    return session


def test_the_readme_command_line_examples_show_what_the_commands_print(workdir: Path) -> None:
    process, url = start(
        workdir, "labthings_async.examples.microscope:Microscope", "--name", "microscope"
    )
    try:
        checked = []
        for command, shown in readme_console():
            words = shlex.split(command.replace("http://127.0.0.1:5000", url))
            # Progress, IDs and times differ from run to run; an abridged
            # listing ("...") is not the whole output.
            if words[1] in ("call", "watch") or "  ..." in shown:
                continue
            done = subprocess.run(
                [COMMAND, *words[1:]], capture_output=True, text=True, timeout=30, check=False
            )
            expected = [line.replace("http://127.0.0.1:5000", url) for line in shown]
            assert (done.stdout + done.stderr).splitlines() == expected, command
            checked.append(words[1])
    finally:
        stop(process, signal.SIGTERM)
    assert checked == ["get", "set", "set", "describe"]


LOOP_MODULE = """
import asyncio

import labthings_async as lt


class Probe(lt.Thing):
    @lt.action
    async def loop(self) -> str:
        return type(asyncio.get_running_loop()).__module__
"""


@pytest.mark.parametrize(("loop", "module"), [("asyncio", "asyncio"), ("uvloop", "uvloop")])
def test_serve_runs_on_the_event_loop_asked_for(workdir: Path, loop: str, module: str) -> None:
    (workdir / "probe.py").write_text(LOOP_MODULE)
    process, url = start(workdir, "probe:Probe", "--loop", loop)
    with httpx2.Client(base_url=url, timeout=10) as http:
        invoked = http.post("/probe/loop", headers={"Prefer": "wait=10"})
        assert invoked.json()["output"].startswith(module)
    assert stop(process, signal.SIGINT) < 5
    assert "Traceback" not in (workdir / "stderr.txt").read_text()


def test_an_unknown_event_loop_is_one_line_and_exit_status_2(workdir: Path) -> None:
    done = subprocess.run(
        [COMMAND, "serve", "greeters:Greeter", "--loop", "trio", "--port", str(free_port())],
        cwd=workdir,
        capture_output=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        "labthings-async: unknown event loop 'trio'; choose one of asyncio, uvloop"
    ]


def test_uvloop_not_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from labthings_async.server import run_to_the_end

    monkeypatch.setitem(sys.modules, "uvloop", None)  # As if it were not installed.
    ran = []

    async def main() -> None:
        ran.append(True)

    with pytest.raises(lt.ConfigError, match=r"pip install 'labthings-async\[uvloop\]'"):
        run_to_the_end(main(), "uvloop")
    assert ran == []
    run_to_the_end(main(), "asyncio")
    assert ran == [True]
