"""Reading the annotation of one attribute of a class, as ``typing.get_type_hints`` would.

Layer: domain (stdlib only). One name at a time, so an annotation naming a
class defined later (a slot pointing at a Thing defined after its own)
fails only for itself, not for every annotation of the class.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

__all__ = ("class_annotation",)


def class_annotation(owner: type, name: str) -> Any:
    """The evaluated annotation of attribute ``name`` of ``owner`` (``Annotated`` kept).

    The nearest class in ``owner``'s MRO that annotates ``name`` gives it; a
    string annotation is evaluated in that class's module and namespace, as
    ``typing.get_type_hints`` does.

    Raises:
        NameError: The annotation names something not defined (yet).
        KeyError: No class in the MRO annotates ``name``.
    """
    for klass in owner.__mro__:
        annotations = inspect.get_annotations(klass)
        if name in annotations:
            annotation = annotations[name]
            if isinstance(annotation, str):
                module = sys.modules.get(klass.__module__)
                namespace = dict(vars(module)) if module is not None else {}
                annotation = eval(annotation, namespace, dict(vars(klass)))
            return type(None) if annotation is None else annotation
    raise KeyError(name)
