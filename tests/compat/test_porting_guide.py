"""docs/porting.md: its example runs as shown, and every LabThings-FastAPI name is accounted for."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import labthings_fastapi
import labthings_fastapi.exceptions
import pytest

import labthings_async as lt

GUIDE = Path(__file__).parents[2] / "docs" / "porting.md"
README = Path(__file__).parents[2] / "README.md"


def section(title: str) -> str:
    return GUIDE.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_ported_thing_runs_and_prints_what_the_guide_shows(tmp_path: Path) -> None:
    text = section("A LabThings-FastAPI Thing, ported")
    (example,) = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    (shown,) = re.findall(r"It prints\n\n```\n(.*?)```", text, re.DOTALL)
    script = tmp_path / "stage.py"
    script.write_text(example)
    ran = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == shown


def test_the_readme_links_the_guide() -> None:
    assert "(docs/porting.md)" in README.read_text()


@pytest.mark.parametrize("name", sorted(labthings_fastapi.__all__))
def test_every_top_level_labthings_name_works_or_says_what_to_write(name: str) -> None:
    if hasattr(lt, name):
        return
    with pytest.raises(AttributeError, match=r"docs/porting\.md"):
        getattr(lt, name)


LABTHINGS_EXCEPTIONS = sorted(
    name
    for name, value in vars(labthings_fastapi.exceptions).items()
    if inspect.isclass(value) and issubclass(value, BaseException)
)


@pytest.mark.parametrize("name", LABTHINGS_EXCEPTIONS)
def test_every_labthings_exception_is_ours_or_says_what_to_catch(name: str) -> None:
    if hasattr(lt.exceptions, name):
        assert issubclass(getattr(lt.exceptions, name), BaseException)
        return
    with pytest.raises(AttributeError, match=rf"has no {name} .*: (catch|nothing to catch)"):
        getattr(lt.exceptions, name)


def test_the_cancel_signal_keeps_labthings_class_hierarchy() -> None:
    theirs = labthings_fastapi.exceptions.InvocationCancelledError
    ours = lt.exceptions.InvocationCancelledError
    assert [klass.__name__ for klass in theirs.__mro__] == [
        klass.__name__ for klass in ours.__mro__
    ]
