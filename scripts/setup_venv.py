"""Build the project's virtual environment once, however many ``make`` targets ask at once.

Usage: ``python3 scripts/setup_venv.py VENV STAMP [EXTRA ...]``

Makes VENV (if it is missing) with this project installed in it, editable,
and the requirements of each EXTRA of ``pyproject.toml``; then touches STAMP.
Everything happens under an exclusive lock on ``VENV/.lock``, and STAMP is
checked again once the lock is held, so ``make serve & make test`` from a
fresh clone build one environment, one after the other, instead of two on
top of each other. The project itself is installed only when ``pyproject.toml``
has changed since it last was (``VENV/.installed-project``): an extra's
requirements are installed on their own, so adding the test tools never
reinstalls the package under a server that is already running from it.

Standard library only: it runs before the environment exists.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

# The one place an older Python can get to: say so, rather than fail importing tomllib.
if sys.version_info < (3, 11):  # noqa: UP036
    raise SystemExit(
        f"labthings-async needs Python 3.11 or newer; {sys.executable} is "
        f"{sys.version.split()[0]}: run `make PYTHON=python3.11 ...`"
    )

import tomllib

PROJECT = Path(__file__).resolve().parents[1]
PYPROJECT = PROJECT / "pyproject.toml"


def fresh(stamp: Path) -> bool:
    """True if ``stamp`` was touched after ``pyproject.toml`` last changed."""
    return stamp.exists() and stamp.stat().st_mtime >= PYPROJECT.stat().st_mtime


def pip(venv: Path, *args: str) -> None:
    """Run the environment's own pip, quietly."""
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--quiet", *args], check=True)


def extra_requirements(extras: list[str]) -> list[str]:
    """The requirements the extras add, as ``pyproject.toml`` lists them."""
    with PYPROJECT.open("rb") as file:
        optional = tomllib.load(file)["project"].get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"setup_venv: no extra {unknown[0]!r}; the extras are {sorted(optional)}")
    return sorted({requirement for extra in extras for requirement in optional[extra]})


def build(venv: Path, stamp: Path, extras: list[str]) -> None:
    """Make ``venv`` hold the project and ``extras``, then touch ``stamp`` (lock held)."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip(venv, "install", "--upgrade", "pip")
    project_stamp = venv / ".installed-project"
    if not fresh(project_stamp):
        pip(venv, "install", "--editable", str(PROJECT))
        project_stamp.touch()
    requirements = extra_requirements(extras)
    if requirements:
        pip(venv, "install", *requirements)
    stamp.touch()


def main(argv: list[str]) -> None:
    """Build the environment ``argv`` asks for, unless another run already has."""
    if len(argv) < 2:
        raise SystemExit(__doc__.split("\n\n")[1] if __doc__ else "usage: VENV STAMP [EXTRA ...]")
    venv, stamp, extras = Path(argv[0]), Path(argv[1]), argv[2:]
    venv.mkdir(parents=True, exist_ok=True)
    with (venv / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"setup_venv: waiting for another set-up of {venv} to finish...", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not fresh(stamp):
            build(venv, stamp, extras)


if __name__ == "__main__":
    main(sys.argv[1:])
