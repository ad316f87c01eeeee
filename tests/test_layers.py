"""The package's layering, read from the folders, and each module's ``__all__``.

A folder is a layer (DESIGN.md, "Layers, as folders"): the domain lies flat at
the root of the package; ``wot``, ``http``, ``client`` and ``cli`` are adapters
above it. A few rules say which layer may import which, and no import circle is
allowed anywhere, imports under ``if TYPE_CHECKING:`` included.
"""

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import labthings_async

PACKAGE = labthings_async.__name__
PACKAGE_DIR = Path(labthings_async.__file__).parent

ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "wot": {"domain", "wot"},
    "http": {"domain", "wot", "http"},
    "server": {"domain", "http"},
    "client": {"client", "wire vocabulary"},
    "cli": {"cli", "client", "server", "domain"},
    "examples": {"root", "examples"},
    # LabThings-FastAPI's module paths (outputs.blob, types.numpy): re-exports of the domain.
    "outputs": {"domain", "outputs"},
    "types": {"domain", "types"},
    "root": {"domain", "wot", "http", "server", "client", "cli", "outputs", "root"},
}
"""Which layers each layer may import from."""

WIRE_VOCABULARY = {"errors", "models", "porting"}
"""The domain modules a client may use: the words of the wire (and the table of
LabThings-FastAPI's names, for its client's), no machinery."""

THIRD_PARTY_HOMES = {
    "starlette": {"http"},
    "hypercorn": {"server", "cli"},
    # The client runs its own threads and asyncio tasks; it needs no server machinery.
    "anyio": {"domain", "http", "server", "examples"},
}
"""Libraries only some layers may import."""


def module_of(path: Path) -> str:
    """``labthings_async.http.app`` for ``.../labthings_async/http/app.py``."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_of(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def layer_of(module: str) -> str:
    """The layer a module belongs to: its folder, or for root modules the domain."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if len(parts) == 2 and (PACKAGE_DIR / f"{parts[1]}.py").exists():
        return "server" if parts[1] == "server" else "domain"
    return parts[1]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def all_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, inside functions and ``if TYPE_CHECKING:`` included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """The package modules and the other top-level packages ``module`` imports."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    internal: set[str] = set()
    external: set[str] = set()
    for node in all_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            # `from .x import y` may import the submodule x.y, or the name y of x.
            targets = [stem, *(f"{stem}.{alias.name}" for alias in node.names)]
        for target in targets:
            top = target.split(".")[0]
            if top == "__future__":
                continue
            if top != PACKAGE:
                external.add(top)
            elif target in MODULES:
                internal.add(target)
    internal.discard(module)
    return internal, external


def test_every_module_has_a_layer_with_rules() -> None:
    unknown = sorted(module for module in MODULES if layer_of(module) not in ALLOWED)
    assert not unknown, (
        f"modules {unknown} are in a folder no rule in {__name__}.ALLOWED covers: "
        "add the folder as a layer there (and to DESIGN.md)"
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    layer = layer_of(module)
    internal, external = imports_of(module)
    allowed = ALLOWED.get(layer, set())
    wrong = []
    for other in sorted(internal):
        other_layer = layer_of(other)
        if other_layer in allowed:
            continue
        in_vocabulary = other_layer == "domain" and other.rpartition(".")[2] in WIRE_VOCABULARY
        if "wire vocabulary" in allowed and in_vocabulary:
            continue
        wrong.append(f"{other} ({other_layer})")
    assert not wrong, f"{module} ({layer}) may import only {sorted(allowed)}, but imports {wrong}"
    for library, homes in THIRD_PARTY_HOMES.items():
        if library in external:
            assert layer in homes | {"root"}, f"{module} ({layer}) imports {library}"


def test_no_import_circles_anywhere() -> None:
    graph = {module: imports_of(module)[0] for module in MODULES}
    circles = _strongly_connected(graph)
    assert not circles, "import circles (TYPE_CHECKING imports included): " + "; ".join(
        " <-> ".join(sorted(circle)) for circle in circles
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: every group of two or more modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_circle_check_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(graph) == [{"a", "b", "c"}]


def test_the_import_reader_sees_type_checking_and_local_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import starlette\n"
        "if TYPE_CHECKING:\n"
        "    from .manager import ActionManager\n"
        "def f():\n"
        "    from labthings_async.thing import Thing\n"
    )
    found = set()
    for node in all_imports(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module)
        else:
            found.add(node.names[0].name)
    assert found == {"typing", "starlette", "manager", "labthings_async.thing"}


def test_the_layer_rules_refuse_an_upward_import() -> None:
    assert layer_of(f"{PACKAGE}.manager") == "domain"
    assert layer_of(f"{PACKAGE}.http.app") == "http"
    assert "http" not in ALLOWED["domain"]
    assert "http" not in ALLOWED["client"]


# -- __all__ --------------------------------------------------------------------------


def public_modules() -> list[str]:
    """Every module a user may import: no part of its dotted name starts with ``_``."""
    return [
        module
        for module in sorted(MODULES)
        if not any(part.startswith("_") for part in module.split(".")[1:]) and module != PACKAGE
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
    module = importlib.import_module(name)
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
    """Each name the root imports, and the module it comes from ("" for a submodule itself)."""
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
    # A module hook (PEP 562's __getattr__) is imported, but no name for `import *`.
    reexports = {name: module for name, module in root_reexports().items() if name[:2] != "__"}
    assert sorted(labthings_async.__all__) == sorted(reexports)
    for name, module in reexports.items():
        if not module:  # `from . import blob`: LabThings' namespaces (lt.blob, lt.exceptions...).
            assert getattr(labthings_async, name) is importlib.import_module(f"{PACKAGE}.{name}")
            continue
        source = importlib.import_module(f"{PACKAGE}.{module}")
        assert getattr(labthings_async, name) is getattr(source, name)
        assert name in source.__all__, f"the root re-exports {name}, not in {module}.__all__"
