"""The README's first commands and its in-process example are true."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def section(title: str) -> str:
    text = README.read_text()
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make serve", "make test"]
    makefile = (README.parent / "Makefile").read_text()
    assert "\nserve:" in makefile and "\ntest:" in makefile


def test_the_in_process_example_runs_as_shown(tmp_path: Path) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", section("A Thing, used in-process"), re.DOTALL)
    script = tmp_path / "example.py"
    script.write_text(example)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("status {") and "'pending'" in lines[0]
    assert sum(line.startswith("progress ") for line in lines) >= 1
    assert any(line.startswith("log {") and "moved to 42" in line for line in lines)
    assert lines[-3].startswith("status {") and "'completed'" in lines[-3]
    assert lines[-2:] == ["completed 42", "['moved to 42']"]


def test_the_settings_slots_and_locks_example_runs_as_shown(tmp_path: Path) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", section("Settings, slots and locks"), re.DOTALL)
    script = tmp_path / "example.py"
    script.write_text(example)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    frames = str(["frame from left", "frame from right"] * 2)
    assert result.stdout.splitlines() == [
        "run 1: backlash 0.0",
        frames,
        "run 2: backlash 0.5",
        frames,
    ]
    saved = (tmp_path / "settings" / "stage" / "Settings-Stage.json").read_text()
    assert saved == '{\n    "backlash": 0.5\n}'


def test_the_instrument_data_example_runs() -> None:
    (example,) = re.findall(
        r"```python\n(.*?)```", section("Files, images, camera streams and arrays"), re.DOTALL
    )
    namespace: dict[str, object] = {}
    exec(compile(example, "README example", "exec"), namespace)
    from inprocess import in_process

    import labthings_async as lt

    camera = namespace["Camera"]()  # type: ignore[operator]
    with in_process(lt.ThingServer({"camera": camera}).app) as http:
        camera.frame_arrived(b"\xff\xd8 a JPEG \xff\xd9")
        assert http.get("/camera/stream/frame").content == b"\xff\xd8 a JPEG \xff\xd9"
        link = http.post("/camera/capture?reply=output").json()
        assert http.get(link["href"]).content.startswith(b"\x89PNG")
        spectrum = http.post("/camera/spectrum?reply=output", json={"exposure": 2})
        assert spectrum.json() == [0.0, 0.5, 1.0, 1.5, 2.0]
        assert http.post("/camera/double?reply=output", json={"values": [1, 2]}).json() == [2, 4]
        raw = http.post("/camera/raw?reply=output").json()
        assert raw["media_type"] == "application/x-npy"
