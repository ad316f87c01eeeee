"""LabThings-FastAPI's names and module paths, for code written against it.

Layer: domain (stdlib). The migration promise is that a LabThings-FastAPI
Thing module runs with only its import line changed, or fails at import
saying what to write instead. Three parts keep it, each a table here:

- ``INSTEAD``: a LabThings-FastAPI name with no counterpart, and what to
  write instead. The root package, ``lt.exceptions`` and the modules that
  share a LabThings-FastAPI path (``properties``, ``thing``, ``logs``...)
  take their ``__getattr__`` from :func:`lt_names` (PEP 562), so both
  ``lt.DataSetting`` and ``from labthings_async.properties import X`` fail
  with that advice, not a bare "cannot import name".
- ``AT_THE_TOP``: names a LabThings-FastAPI module had that live at the top
  level here (``labthings_fastapi.properties.setting`` is ``lt.setting``):
  its module path here gives the same object.
- ``MODULES``: LabThings-FastAPI module paths with no module of that name
  here (``invocation_contexts``, ``actions``, ``testing``...). Importing
  ``labthings_async.<path>`` gives a module of the names the top level has;
  any other name fails with its advice. A finder on ``sys.meta_path``,
  consulted only after the package's real modules, makes them.
"""

from __future__ import annotations

import dis
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence

__all__ = ("AT_THE_TOP", "CATCH_ITS_CLASS", "INSTEAD", "MODULES", "lt_names", "root_getattr")

_PACKAGE = __name__.rpartition(".")[0]
_GUIDE = "(docs/porting.md lists every difference)"
CATCH_ITS_CLASS = "catch the class under lt.LabThingsError that names the condition"
"""The advice for a LabThings-FastAPI exception with no class of its own here."""

INSTEAD: dict[str, str] = {
    # The top level.
    "ThingProperty": "write lt.property(default=...) as a class attribute with a type annotation",
    "thing_property": "write @lt.property on a getter",
    "thing_action": "write @lt.action",
    "ThingServerConfig": (
        "pass a plain dict, lt.ThingServer({'things': {...}, 'api_prefix': ...}), or call "
        "lt.ThingServer.from_things({...}, **options)"
    ),
    "ThingConfig": "write a plain dict: {'class': ..., 'args': [...], 'kwargs': {...}}",
    "ThingClassSettings": "leave it out: Thing classes here have no class settings",
    "cli": "run the labthings-async command: labthings-async serve -c CONFIG.json",
    "deps": "use lt.CancelHook, lt.InvocationLogger and lt.InvocationID, at the top level",
    # Exceptions with no class of their own here.
    "ServerActionError": "catch lt.ActionFailedError (the client's error when an action failed)",
    "FailedToInvokeActionError": (
        "catch lt.InvalidInputError (input the action refused) or lt.NotFoundError"
    ),
    "ClientPropertyError": "catch lt.InvalidInputError, lt.ReadOnlyPropertyError or lt.ClientError",
    "NotConnectedToServerError": "catch lt.ManagerNotRunningError",
    "NotBoundToInstanceError": "nothing to catch: descriptors here need no binding",
    "LogConfigurationError": "nothing to catch: invocation logs need no configuration",
    "NoUrlForContextError": "nothing to catch: URLs are built from each request",
    "GlobalLockBusyError": "catch lt.LockBusyError (a busy lock, global or a Thing's own)",
    "PropertyRedefinitionError": "catch lt.ActionDefinitionError (refused at class definition)",
    "FeatureNotEnabledError": "catch lt.UnsupportedFeatureError",
    "NoBlobManagerError": "nothing to catch: blobs need no manager here",
    "CausedByUserCodeError": CATCH_ITS_CLASS,
    "InvalidClassSettingsError": "nothing to catch: Thing classes here have no class settings",
    # Helpers for tests and actions.
    "create_thing_without_server": (
        "make the Thing directly, Stage() or Stage(lt.ThingServerInterface('stage')) when its "
        "constructor takes the interface: a Thing here is an ordinary object, usable without a "
        "server"
    ),
    "mock_thing_instance": "make the Thing directly (a Thing here needs no server to exist)",
    "MockThingServerInterface": "use lt.ThingServerInterface('name'), which works without a server",
    "get_invocation_id": (
        "inside an action, lt.current_invocation().id, or a parameter annotated lt.InvocationID"
    ),
    "set_invocation_id": "nothing: an action runs in its invocation's context already",
    "fake_invocation_context": (
        "call the action through lt.ActionManager, or call the method directly: outside an "
        "invocation, lt.cancellable_sleep and lt.report_progress do nothing"
    ),
    "get_cancel_event": "call lt.raise_if_cancelled(), or take a parameter annotated lt.CancelHook",
    "CancelEvent": "take a parameter annotated lt.CancelHook",
    "GlobalLock": (
        "serve with enable_global_lock=True (LabThings-FastAPI's option); actions take it "
        "unless declared with use_global_lock=False"
    ),
    "poll_invocation": (
        "call the action on lt.ThingClient (it waits for the result) or use lt.ActionHandle"
    ),
}
"""LabThings-FastAPI names with no counterpart here, and what to write instead."""

AT_THE_TOP: dict[str, tuple[str, ...]] = {
    "actions": (
        "ActionDescriptor",
        "ActionManager",
        "Invocation",
        "InvocationCancelledError",
        "InvocationError",
        "InvocationStatus",
        "InvocationSummary",
        "ProblemDetails",
        "action",
    ),
    "exceptions": ("ThingNotConnectedError", "ThingSlotError", "MediaTypeMismatchError"),
    "global_lock": (),
    "invocation_contexts": (
        "InvocationCancelledError",
        "NoInvocationContextError",
        "ThreadWithInvocationID",
        "cancellable_sleep",
        "raise_if_cancelled",
    ),
    "invocations": ("InvocationStatus", "InvocationSummary", "ProblemDetails"),
    "logs": ("NoInvocationContextError", "get_thing_logger"),
    "outputs.blob": ("MediaTypeMismatchError",),
    "properties": ("DataSetting", "FunctionalSetting", "setting"),
    "testing": ("ThingServerInterface", "ThingSlot"),
    "thing_server_interface": ("ThingServerInterface",),
    "thing_slots": ("ThingNotConnectedError", "ThingSlotError"),
}
"""For each LabThings-FastAPI module (its path under ``labthings_fastapi.``),
the names it had that live at the top level here, with the same meaning."""

MODULES: tuple[str, ...] = (
    "actions",
    "global_lock",
    "invocation_contexts",
    "invocations",
    "testing",
    "thing_server_interface",
)
"""LabThings-FastAPI module paths that have no module of their own here."""

_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def _missing(module: str, name: str, default: str | None) -> Exception:
    """The error for ``name``, missing from ``module``, raised by the module's ``__getattr__``.

    ``from module import name`` turns an ``AttributeError`` from
    ``__getattr__`` into a bare "cannot import name", losing the advice, so
    when the code asking is a ``from ... import``, this is an
    ``ImportError``; ``hasattr`` and ``getattr(..., default)`` still get the
    ``AttributeError`` they expect.
    """
    try:
        asking = sys._getframe(2)  # Our caller is __getattr__; its caller asked.
        importing = asking.f_code.co_code[asking.f_lasti] == _IMPORT_FROM
    except ValueError:  # Asked from C with no Python frame above: not an import.
        importing = False
    advice = INSTEAD.get(name, default)
    if advice is not None:
        message = f"{module} has no {name} (a LabThings-FastAPI name): {advice} {_GUIDE}"
    elif importing:
        message = f"cannot import name {name!r} from {module!r}"
    else:
        message = f"module {module!r} has no attribute {name!r}"
    if importing:
        return ImportError(message, name=module)
    return AttributeError(message, name=name)


def lt_names(module: str, default: str | None = None) -> Callable[[str], object]:
    """A module ``__getattr__`` for LabThings-FastAPI's names in ``module``.

    Args:
        module: The module's name (``__name__``).
        default: Advice for a name with none of its own (``None``: a plain
            "has no attribute", for a module that is not LabThings-FastAPI's).

    Returns:
        A ``__getattr__`` that gives the top-level object for the names
        ``AT_THE_TOP`` lists under this module's LabThings-FastAPI path, and
        raises the advice of ``INSTEAD`` for the others.
    """
    lt_path = module.removeprefix(_PACKAGE).lstrip(".")
    at_the_top = AT_THE_TOP.get(lt_path, ())

    def __getattr__(name: str) -> object:
        if name in at_the_top:
            return getattr(sys.modules[_PACKAGE], name)
        raise _missing(module, name, None if name.startswith("__") else default)

    return __getattr__


class _ModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes the modules of ``MODULES``, after the package's own finder found none."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, lt_path = fullname.partition(".")
        if package != _PACKAGE or lt_path not in MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # The default module object.

    def exec_module(self, module: types.ModuleType) -> None:
        lt_path = module.__name__.partition(".")[2]
        names = AT_THE_TOP[lt_path]
        module.__doc__ = (
            f"LabThings-FastAPI's labthings_fastapi.{lt_path}: here its names are at the top "
            f"level ({', '.join(names) or 'none of them'})."
        )
        advice = "it is not part of labthings_async's API; " + _GUIDE.strip("()")
        module.__dict__.update(__all__=names, __getattr__=lt_names(module.__name__, advice))


root_getattr = lt_names(_PACKAGE)
"""The root package's ``__getattr__``: ``lt.DataSetting`` and the like say what to write."""

# Importing the package (which imports this module) makes LabThings-FastAPI's
# module paths of MODULES importable, once per process; appended last, so the
# package's real modules are always found first.
if not any(isinstance(finder, _ModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_ModuleFinder())
