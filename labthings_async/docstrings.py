"""Attribute docstrings: the string literal written under an attribute in a class body.

Layer: domain (stdlib). Python keeps no such docstring at run time, so it is
read from the class's source, as LabThings-FastAPI reads it::

    class Stage(lt.Thing):
        speed: float = lt.property(default=100.0)
        "How fast the stage moves, in µm/s."
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap

__all__ = ("attribute_docstrings",)


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Each attribute of ``cls``'s own body that has a docstring, and the docstring.

    A class whose source cannot be read (defined at the prompt, or from a
    compiled file) has none.
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return {}
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.ClassDef):
        return {}
    found: dict[str, str] = {}
    body = definition.body
    for statement, following in itertools.pairwise(body):
        if not (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            continue
        targets: list[ast.expr]
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        elif isinstance(statement, ast.Assign):
            targets = statement.targets
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = inspect.cleandoc(following.value.value)
    return found
