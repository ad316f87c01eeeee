"""LabThings-FastAPI's module paths: ``from labthings_fastapi.X import Y`` with only the
package renamed gives the same object as ``lt.Y``, or fails at once saying what to write.

Checked against LabThings-FastAPI itself (installed with the test extra), so the
tables cannot name a module or a name it never had.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import labthings_fastapi
import pytest

import labthings_async as lt
from labthings_async.porting import AT_THE_TOP, INSTEAD, MODULES

AT_THE_TOP_CASES = [(path, name) for path, names in AT_THE_TOP.items() for name in names]


def lt_module(path: str) -> object:
    """LabThings-FastAPI's module ``labthings_fastapi.<path>``."""
    return importlib.import_module(f"labthings_fastapi.{path}")


def import_from(path: str, name: str) -> object:
    """``from labthings_async.<path> import <name>``, written as a user writes it."""
    namespace: dict[str, object] = {}
    exec(f"from labthings_async.{path} import {name} as found", namespace)
    return namespace["found"]


def lt_modules_with(name: str) -> list[str]:
    """Every LabThings-FastAPI module path with a public ``name``, the top level as ''."""
    paths = [""] if name in labthings_fastapi.__all__ else []
    for module in pkgutil.walk_packages(labthings_fastapi.__path__, "labthings_fastapi."):
        if ".example_things" in module.name:
            continue
        if hasattr(importlib.import_module(module.name), name):
            paths.append(module.name.removeprefix("labthings_fastapi."))
    return paths


@pytest.mark.parametrize(("path", "name"), AT_THE_TOP_CASES)
def test_a_name_at_the_top_here_imports_from_its_labthings_path(path: str, name: str) -> None:
    assert hasattr(lt_module(path), name), f"LabThings-FastAPI's {path} has no {name}"
    assert import_from(path, name) is getattr(lt, name)


@pytest.mark.parametrize("path", MODULES)
def test_a_labthings_module_without_a_module_here_imports(path: str) -> None:
    lt_module(path)  # LabThings-FastAPI has it...
    package = Path(lt.__file__).parent
    assert not (package / f"{path}.py").exists()  # ...and this package has no file of it.
    module = importlib.import_module(f"labthings_async.{path}")
    assert module.__all__ == AT_THE_TOP[path]
    assert f"labthings_fastapi.{path}" in (module.__doc__ or "")


# `from labthings_async import cli` imports this package's own command line.
@pytest.mark.parametrize("name", sorted(name for name in INSTEAD if name != "cli"))
def test_each_name_without_a_counterpart_says_what_to_write_wherever_it_is_imported_from(
    name: str,
) -> None:
    # Names of earlier LabThings-FastAPI versions (ThingProperty...) were at its top level.
    paths = lt_modules_with(name) or [""]
    for path in paths:
        module = f"labthings_async.{path}".rstrip(".")
        try:
            if importlib.util.find_spec(module) is None:
                continue  # A LabThings-FastAPI internal path with no module here at all.
        except ModuleNotFoundError:
            continue  # Nor its parent (labthings_fastapi.middleware...).
        with pytest.raises(ImportError) as imported:
            exec(f"from {module} import {name}", {})
        assert INSTEAD[name] in str(imported.value)
        # Asked for as an attribute, the same advice, as the AttributeError
        # hasattr and getattr with a default rely on.
        with pytest.raises(AttributeError, match=r"docs/porting\.md"):
            getattr(importlib.import_module(module), name)
        assert not hasattr(importlib.import_module(module), name)


def test_a_name_that_was_never_labthings_fails_as_python_says() -> None:
    with pytest.raises(ImportError, match="cannot import name 'proprety' from"):
        import_from("properties", "proprety")
    with pytest.raises(AttributeError, match="has no attribute 'proprety'"):
        lt.proprety  # noqa: B018


def test_any_other_name_in_a_labthings_only_module_is_refused_with_the_guide() -> None:
    with pytest.raises(ImportError, match="not part of labthings_async's API"):
        import_from("invocations", "InvocationModel")


def test_setting_from_labthings_properties_module_is_ours() -> None:
    # LabThings-FastAPI's documented spelling of a persisted setting.
    setting = import_from("properties", "setting")

    class Stage(lt.Thing):
        speed: float = setting(default=1.0)  # type: ignore[operator]

    assert type(Stage.__dict__["speed"]) is type(lt.setting(default=1.0))
