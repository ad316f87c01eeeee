"""``scripts/setup_venv.py``: what makes ``make serve & make test`` safe to run at once.

The script runs for real; the environment it works on has a stand-in
``bin/python`` that records the pip commands it is given, so the tests see
what would be installed without a package index.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).parents[1]
SCRIPT = PROJECT / "scripts" / "setup_venv.py"
DEADLINE = 30.0


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """An environment whose python records its arguments in ``pip.log``."""
    path = tmp_path / ".venv"
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> "{path / "pip.log"}"\n')
    python.chmod(0o755)
    return path


def pip_commands(venv: Path) -> list[str]:
    log = venv / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def setup(venv: Path, stamp: str, *extras: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(venv), str(venv / stamp), *extras],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def test_the_first_set_up_installs_the_project(venv: Path) -> None:
    done = setup(venv, ".installed-serve")
    assert done.returncode == 0, done.stderr
    assert pip_commands(venv) == [f"-m pip --quiet install --editable {PROJECT}"]
    assert (venv / ".installed-serve").exists()


def test_an_extra_is_added_without_reinstalling_the_project(venv: Path) -> None:
    assert setup(venv, ".installed-serve").returncode == 0
    done = setup(venv, ".installed", "test")
    assert done.returncode == 0, done.stderr
    added = pip_commands(venv)[1:]
    assert len(added) == 1
    assert added[0].startswith("-m pip --quiet install ")
    assert "--editable" not in added[0]
    assert "pytest>=8.4" in added[0].split()
    # Both are done now: neither runs pip again.
    assert setup(venv, ".installed-serve").returncode == 0
    assert setup(venv, ".installed", "test").returncode == 0
    assert len(pip_commands(venv)) == 2


def test_a_second_set_up_waits_for_the_first_then_finds_it_done(venv: Path) -> None:
    with (venv / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # A set-up in progress.
        second = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(venv), str(venv / ".installed-serve")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert second.stdout is not None
            waiting = second.stdout.readline()
            assert waiting == f"setup_venv: waiting for another set-up of {venv} to finish...\n"
            assert second.poll() is None
            (venv / ".installed-serve").touch()  # The first one finishes...
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)  # ...and lets go.
        _, err = second.communicate(timeout=DEADLINE)
    assert second.returncode == 0, err
    assert pip_commands(venv) == []  # It found the work done.


def test_an_unknown_extra_is_refused(venv: Path) -> None:
    done = setup(venv, ".installed", "tset")
    assert done.returncode == 1
    assert done.stderr.startswith("setup_venv: no extra 'tset'; the extras are ")


def test_a_changed_pyproject_installs_the_project_again(venv: Path) -> None:
    assert setup(venv, ".installed-serve").returncode == 0
    older = (PROJECT / "pyproject.toml").stat().st_mtime - 10
    for stamp in (".installed-serve", ".installed-project"):
        os.utime(venv / stamp, (older, older))
    assert setup(venv, ".installed-serve").returncode == 0
    assert pip_commands(venv) == [f"-m pip --quiet install --editable {PROJECT}"] * 2
