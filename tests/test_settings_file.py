"""Tests for labthings_async.settings_file: atomic, durable writes, and bad files kept aside.

The kill tests run ``benchmarks.settings_kill`` (smoke-sized by default, 1,000
cycles under ``-m stress``): a real process saving settings in a loop,
killed with SIGKILL again and again, the file checked after every kill.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labthings_async.settings_file import SettingsFile

REPOSITORY = Path(__file__).resolve().parents[1]


def test_write_makes_the_folder_and_replaces_the_file(tmp_path: Path) -> None:
    file = SettingsFile(tmp_path / "stage" / "Settings-Stage.json")
    file.write(b'{"a": 1}')
    file.write(b'{"a": 2}')
    assert file.read() == b'{"a": 2}'
    assert os.listdir(tmp_path / "stage") == ["Settings-Stage.json"]


def test_read_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert SettingsFile(tmp_path / "Settings-Stage.json").read() is None


def test_a_written_file_is_as_readable_as_one_open_makes(tmp_path: Path) -> None:
    # A temporary file from mkstemp would be 0o600; the settings file keeps open()'s mode.
    umask = os.umask(0o022)
    try:
        SettingsFile(tmp_path / "Settings-Stage.json").write(b"{}")
        with open(tmp_path / "plain.json", "w") as plain:
            plain.write("{}")
    finally:
        os.umask(umask)
    mode = (tmp_path / "Settings-Stage.json").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.json").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_what_was_there_and_no_temporary(tmp_path: Path) -> None:
    # A folder where the file should be: the rename over it fails after the data is written.
    blocker = tmp_path / "Settings-Stage.json"
    blocker.mkdir()
    (blocker / "inside").write_bytes(b"kept")
    with pytest.raises(OSError):
        SettingsFile(blocker).write(b'{"a": 1}')
    assert os.listdir(tmp_path) == ["Settings-Stage.json"]
    assert (blocker / "inside").read_bytes() == b"kept"


def test_keep_aside_renames_with_a_new_suffix_each_time(tmp_path: Path) -> None:
    file = SettingsFile(tmp_path / "Settings-Stage.json")
    file.write(b"first")
    first = file.keep_aside()
    file.write(b"second")
    second = file.keep_aside()
    assert re.fullmatch(r"Settings-Stage\.json\.invalid-\d{8}T\d{6}Z(-\d+)?", first.name)
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")
    assert not file.path.exists()


def test_leftovers_of_interrupted_writes_are_removed_and_nothing_else(tmp_path: Path) -> None:
    file = SettingsFile(tmp_path / "Settings-Stage.json")
    file.write(b"{}")
    leftover = tmp_path / ".Settings-Stage.json.0123abcd.tmp"
    other = tmp_path / ".Settings-Camera.json.0123abcd.tmp"
    leftover.write_bytes(b'{"half')
    other.write_bytes(b"not ours")
    assert file.remove_leftovers() == [leftover]
    assert sorted(os.listdir(tmp_path)) == [other.name, "Settings-Stage.json"]


def kill_cycles(cycles: int, writer: str, tmp_path: Path) -> dict[str, int]:
    report = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.settings_kill",
            "--cycles",
            str(cycles),
            "--writer",
            writer,
            "--folder",
            str(tmp_path),
            "--json",
            str(report),
        ],
        cwd=REPOSITORY,
        check=True,
        timeout=cycles * 2 + 60,
        stdout=subprocess.DEVNULL,
    )
    result: dict[str, int] = json.loads(report.read_text())
    return result


def test_kill_9_during_writes_leaves_the_old_file_or_the_new(tmp_path: Path) -> None:
    report = kill_cycles(30, "ours", tmp_path)
    assert report["cycles"] == 30
    assert report["mid_write"] > 0, "no kill landed inside a write: the test tested nothing"
    assert (report["broken"], report["lost"], report["mixed"], report["set_aside"]) == (0, 0, 0, 0)


def test_the_kill_test_catches_a_writer_that_truncates_first(tmp_path: Path) -> None:
    # LabThings-FastAPI 0.3.0's way (open "w", then write): the same kills break its files.
    report = kill_cycles(30, "naive", tmp_path)
    assert report["broken"] > 0


@pytest.mark.stress
def test_kill_9_a_thousand_times_loses_nothing(tmp_path: Path) -> None:
    report = kill_cycles(1000, "ours", tmp_path)
    assert report["cycles"] == 1000
    assert report["mid_write"] > 100
    assert (report["broken"], report["lost"], report["mixed"], report["set_aside"]) == (0, 0, 0, 0)
