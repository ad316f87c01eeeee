"""The README's "Running it safely" section is true: its token file and its commands work.

Guards issue 14's README section: a token file copied from it must load, and
give each token the role the section says.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from labthings_async.tokens import Role, TokenStore

README = Path(__file__).parents[2] / "README.md"


def section() -> str:
    return README.read_text().split("## Running it safely\n", 1)[1].split("\n## ", 1)[0]


def test_the_token_file_shown_loads_with_the_roles_described(tmp_path: Path) -> None:
    (shown,) = re.findall(r"```json\n(.*?)```", section(), re.DOTALL)
    path = tmp_path / "tokens.json"
    path.write_text(shown)
    store = TokenStore.from_file(path)
    assert store.role_of("a-long-random-token") is Role.OPERATE
    assert store.role_of("watch-only-token") is Role.OBSERVE  # Given as its digest.
    assert "watch-only-token" not in json.dumps(json.loads(shown))


def test_the_command_that_prints_a_digest_prints_the_entry_shown() -> None:
    (command,) = re.findall(r'`(python -c "from labthings_async.tokens import [^`]*)`', section())
    command = command.replace("TOKEN", "watch-only-token")
    code = command.removeprefix('python -c "').removesuffix('"')
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert printed in section()


def test_every_serve_flag_the_section_names_exists() -> None:
    help_text = subprocess.run(
        [str(Path(sys.executable).with_name("labthings-async")), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for flag in ("--tokens", "--certfile", "--keyfile", "--allowed-host", "--cors", "--debug"):
        assert flag in section()
        assert flag in help_text
