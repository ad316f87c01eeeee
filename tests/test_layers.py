"""The package's layering (DESIGN.md "Layers") and each module's ``__all__``.

Runtime imports only: imports under ``if TYPE_CHECKING:`` are for annotations
and may point anywhere.
"""

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import labthings_async

PACKAGE = labthings_async.__name__
PACKAGE_DIR = Path(labthings_async.__file__).parent

BOTTOM = 0  # stdlib and msgspec only
SCHEMA = 1  # pure functions over types
DECLARATIONS = 2  # Things, actions, properties; no I/O, no starlette
INVOCATION = 3  # state machine and fan-out; anyio, no starlette
MANAGER = 4  # the asyncio service
HTTP = 5  # starlette appears here first
SERVER = 6  # hypercorn appears here
CLIENT = 7  # client side: never the manager or the routes
ROOT = 8  # the package root (re-exports only) and examples written as user code

LAYERS: dict[str, int] = {
    "errors": BOTTOM,
    "models": BOTTOM,
    "validation": BOTTOM,
    "eventsource": BOTTOM,
    "td_validation": BOTTOM,
    "schema": SCHEMA,
    # context holds the current-invocation variable and the cancel hook, which
    # action and dependencies need to supply parameters: it imports only errors.
    "context": DECLARATIONS,
    "action": DECLARATIONS,
    "properties": DECLARATIONS,
    "dependencies": DECLARATIONS,
    "thing": DECLARATIONS,
    "td": DECLARATIONS,
    "hub": INVOCATION,
    "invocation": INVOCATION,
    "retention": INVOCATION,
    "logs": INVOCATION,
    "manager": MANAGER,
    "sse": HTTP,
    "routes": HTTP,
    "routes_things": HTTP,
    "routes_invocations": HTTP,
    "routes_events": HTTP,
    "routes_wot": HTTP,
    "app": HTTP,
    "problem": HTTP,
    "endpoint": HTTP,
    "wire": HTTP,
    "property_access": HTTP,
    "state": HTTP,
    "openapi": HTTP,
    "server": SERVER,
    "config": SERVER,
    "client": CLIENT,
    "client_base": CLIENT,
    "client_drivers": CLIENT,
    "client_errors": CLIENT,
    "client_replies": CLIENT,
    "client_protocol": CLIENT,
    "client_sync": CLIENT,
    "remote_events": CLIENT,
    "remote_invocation": CLIENT,
    "remote_thing": CLIENT,
    "cli_client": CLIENT,
    "cli": CLIENT,
    "example": ROOT,
    "__init__": ROOT,
}

SERVER_SIDE = {"manager", "routes", "server", "app", "sse", "state"}
"""What client code must never import, directly or through another module."""


def module_names() -> list[str]:
    """Every module of the package, by its top-level name under the package."""
    found = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        relative = path.relative_to(PACKAGE_DIR)
        found.add(relative.parts[0].removesuffix(".py"))
    return sorted(found)


def module_files(name: str) -> list[Path]:
    path = PACKAGE_DIR / f"{name}.py"
    return [path] if path.exists() else sorted((PACKAGE_DIR / name).rglob("*.py"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs, skipping ``if TYPE_CHECKING:`` bodies."""
    if isinstance(tree, ast.If) and _is_type_checking(tree.test):
        for node in tree.orelse:
            yield from runtime_imports(node)
        return
    if isinstance(tree, ast.Import | ast.ImportFrom):
        yield tree
        return
    for child in ast.iter_child_nodes(tree):
        yield from runtime_imports(child)


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """The package modules (``""`` for the root) and the other top-level packages imported."""
    internal: set[str] = set()
    external: set[str] = set()
    for path in module_files(name):
        package_parts = [PACKAGE, *path.relative_to(PACKAGE_DIR).parts[:-1]]
        for node in runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level == 0:
                assert node.module is not None
                targets = [node.module]
                if node.module == PACKAGE:
                    targets = [f"{PACKAGE}.{alias.name}" for alias in node.names]
            else:
                base = package_parts[: len(package_parts) - node.level + 1]
                if node.module:
                    targets = [".".join([*base, node.module])]
                else:
                    targets = [".".join([*base, alias.name]) for alias in node.names]
            for target in targets:
                parts = target.split(".")
                if parts[0] == "__future__":
                    continue
                if parts[0] != PACKAGE:
                    external.add(parts[0])
                elif len(parts) > 1 and parts[1] in module_names():
                    internal.add(parts[1])
                else:
                    internal.add("")  # the root package itself
    internal.discard(name)
    return internal, external


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in module_names() if name not in LAYERS]
    assert not unplaced, (
        f"modules {unplaced} have no layer: add each to LAYERS in {__name__} "
        "(see DESIGN.md, 'Layers')"
    )


@pytest.mark.parametrize("name", module_names())
def test_imports_point_down_the_layers(name: str) -> None:
    layer = LAYERS.get(name)
    if layer is None:
        pytest.fail(f"module {name!r} has no layer: add it to LAYERS in {__name__}")
    internal, _ = imports_of(name)
    if name != "__init__":
        assert "" not in internal or layer == ROOT, (
            f"{name} imports the root package; import the module that defines the name"
        )
    upward = sorted(
        f"{other} ({LAYERS.get(other, '?')})"
        for other in internal - {""}
        if LAYERS.get(other, ROOT + 1) > layer
    )
    assert not upward, f"{name} (layer {layer}) imports from higher layers: {upward}"


@pytest.mark.parametrize("name", module_names())
def test_starlette_and_hypercorn_stay_in_their_layers(name: str) -> None:
    _, external = imports_of(name)
    layer = LAYERS.get(name, -1)
    if "starlette" in external:
        assert layer >= HTTP, f"{name} imports starlette below the HTTP layer"
    if "hypercorn" in external:
        assert name in {"server", "cli"}, f"{name} imports hypercorn; only server and cli may"


def _closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for other in imports_of(current)[0] - {""}:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


@pytest.mark.parametrize("name", [name for name in module_names() if LAYERS.get(name) == CLIENT])
def test_client_side_never_imports_the_server_side(name: str) -> None:
    internal, _ = imports_of(name)
    direct = {other for other in internal if other == "manager" or other.startswith("routes")}
    assert not direct, f"{name} imports {sorted(direct)}"
    if name != "cli":  # the CLI also serves, through the server module
        reached = {
            other for other in _closure(name) if other in SERVER_SIDE or other.startswith("routes")
        }
        assert not reached, f"{name} reaches server-side modules {sorted(reached)}"


def test_the_layer_check_sees_runtime_imports_only() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import starlette\n"
        "from . import errors\n"
        "from .hub import Topic\n"
        "if TYPE_CHECKING:\n"
        "    from .manager import ActionManager\n"
        "else:\n"
        "    from .models import Link\n"
        "def f():\n"
        "    from labthings_async.thing import Thing\n"
    )
    found = set()
    for node in runtime_imports(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module or node.names[0].name)
        else:
            found.add(node.names[0].name)
    assert found == {"typing", "starlette", "errors", "hub", "models", "labthings_async.thing"}


# -- __all__ --------------------------------------------------------------------------


def public_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.iter_modules(labthings_async.__path__)
        if not info.name.startswith("_")
    ]


def defined_public_names(module: ModuleType) -> set[str]:
    """Public classes and functions whose home is ``module``."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }


@pytest.mark.parametrize("name", public_modules())
def test_all_lists_exactly_what_the_module_offers(name: str) -> None:
    module = importlib.import_module(f"{PACKAGE}.{name}")
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, tuple), f"{name}.__all__ must be a tuple"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    missing = [export for export in exported if not hasattr(module, export)]
    assert not missing, f"{name}.__all__ names {missing}, which {name} does not have"
    unlisted = sorted(defined_public_names(module) - set(exported))
    assert not unlisted, (
        f"{name} defines public {unlisted} but leaves them out of __all__: "
        "export them or give them a leading underscore"
    )


def root_reexports() -> dict[str, str]:
    """Each name the root imports, and the module it comes from."""
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                names[alias.asname or alias.name] = node.module or ""
    return names


def test_root_only_reexports() -> None:
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom):
            continue
        assert isinstance(node, ast.Assign), f"the root defines {ast.dump(node)[:60]}"
        assert [ast.unparse(target) for target in node.targets] == ["__all__"]


def test_root_all_equals_its_reexports() -> None:
    assert isinstance(labthings_async.__all__, tuple)
    reexports = root_reexports()
    assert sorted(labthings_async.__all__) == sorted(reexports)
    for name, module in reexports.items():
        source = importlib.import_module(f"{PACKAGE}.{module}")
        assert getattr(labthings_async, name) is getattr(source, name)
        assert name in source.__all__, f"the root re-exports {name}, not in {module}.__all__"
