"""numpy arrays as action inputs and outputs: nested lists in JSON, shape and dtype in the schema.

Layer: domain (numpy, and the blobs). This is the only module that imports
numpy, and nothing in the package imports it: a server whose Things use no
arrays never loads numpy (install it with the ``numpy`` extra).

``NDArray`` is LabThings' name: any array, sent as nested lists
(``tolist()``), as LabThings sends it. An ``Array`` subclass declares its
element type and shape, which the Thing Description then states and the
server checks on input::

    class Image(lt_arrays.Array, dtype="uint8", shape=(480, 640)):
        '''A grey-scale camera image.'''

    @lt.action
    def capture(self) -> Image:
        return Image.of(frame)

A large array is better sent as a file than as JSON: ``NpyBlob.from_array``
makes a blob of it in numpy's own ``.npy`` format (``application/x-npy``),
which ``numpy.load`` reads back.

LabThings' helpers for arrays inside other data are here too, for
``labthings_async.types.numpy``: ``denumpify`` and ``DenumpifyingDict``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Self, TypeAlias

import numpy

from .blob import Blob

__all__ = (
    "Array",
    "DenumpifyingDict",
    "NDArray",
    "NpyBlob",
    "denumpify",
    "listoflists_to_np",
    "np_to_listoflists",
)

NDArray: TypeAlias = numpy.ndarray[Any, numpy.dtype[Any]]
"""Any numpy array, as nested lists in JSON (LabThings' ``NDArray``)."""

_NUMBER_KINDS = {"b": "boolean", "i": "integer", "u": "integer", "f": "number"}


class Array(numpy.ndarray[Any, numpy.dtype[Any]]):
    """An array with a declared element type and shape (``None`` for any length).

    Declare one as ``class Frame(Array, dtype="uint8", shape=(480, 640))``.
    The schema states both; an input that does not fit them is refused
    (422), naming what was expected; ``Frame.of(values)`` checks a value the
    same way and returns it as a ``Frame``.
    """

    declared_dtype: numpy.dtype[Any] | None = None
    declared_shape: tuple[int | None, ...] | None = None

    def __init_subclass__(
        cls,
        *,
        dtype: str | type | None = None,
        shape: tuple[int | None, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if dtype is not None:
            cls.declared_dtype = numpy.dtype(dtype)
            if cls.declared_dtype.kind not in _NUMBER_KINDS:
                raise TypeError(
                    f"{cls.__name__}: dtype {cls.declared_dtype} is not a number type; "
                    "arrays travel as JSON numbers"
                )
        if shape is not None:
            cls.declared_shape = tuple(shape)

    @classmethod
    def of(cls, values: Any) -> Self:
        """``values`` as this array type, checked against its dtype and shape.

        Raises:
            ValueError: They do not fit.
        """
        dtype = cls.declared_dtype
        try:
            array = numpy.asarray(values, dtype=dtype)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"Expected {cls._describe()} ({error})") from None
        if array.dtype.kind not in _NUMBER_KINDS:
            raise ValueError(f"Expected {cls._describe()} of numbers")
        if dtype is not None and dtype.kind in "iu":
            original = numpy.asarray(values)
            if original.dtype.kind == "f" and not numpy.array_equal(original, array):
                raise ValueError(f"Expected {cls._describe()}, got values that are not integers")
        shape = cls.declared_shape
        if shape is not None and (
            len(shape) != array.ndim
            or any(
                want is not None and want != got
                for want, got in zip(shape, array.shape, strict=True)
            )
        ):
            raise ValueError(f"Expected {cls._describe()}, got shape {array.shape}")
        return array.view(cls)

    @classmethod
    def _describe(cls) -> str:
        dtype = cls.declared_dtype
        shape = cls.declared_shape
        words = f"an array of {dtype}" if dtype is not None else "an array"
        if shape is not None:
            words += " of shape (" + ", ".join("any" if n is None else str(n) for n in shape)
            words += ",)" if len(shape) == 1 else ")"
        return words

    @classmethod
    def __labthings_decode__(cls, value: Any) -> Self:
        return cls.of(value)

    def __labthings_encode__(self) -> Any:
        return self.tolist()

    @classmethod
    def __labthings_schema__(cls) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "number"}
        dtype = cls.declared_dtype
        if dtype is not None:
            item = {"type": _NUMBER_KINDS[dtype.kind]}
            if dtype.kind in "iu":
                limits = numpy.iinfo(dtype)
                item["minimum"], item["maximum"] = int(limits.min), int(limits.max)
        shape = cls.declared_shape
        if shape is None:
            return {"description": f"{cls._describe()}, as nested lists", **_any_depth(item)}
        schema = item
        for length in reversed(shape):
            level: dict[str, Any] = {"type": "array", "items": schema}
            if length is not None:
                level["minItems"] = level["maxItems"] = length
            schema = level
        return {"description": f"{cls._describe()}, as nested lists", **schema}


def _any_depth(item: dict[str, Any]) -> dict[str, Any]:
    options = []
    schema = item
    for _ in range(8):
        options.append(schema)
        schema = {"type": "array", "items": schema}
    return {"oneOf": options}


class NpyBlob(Blob):
    """An array as a file in numpy's ``.npy`` format: for arrays too large for JSON."""

    media_type = "application/x-npy"

    @classmethod
    def from_array(cls, array: Any) -> Self:
        """The array saved as ``.npy`` bytes (``numpy.load`` reads them back)."""
        buffer = io.BytesIO()
        numpy.save(buffer, numpy.asarray(array), allow_pickle=False)
        return cls.from_bytes(buffer.getvalue())

    def to_array(self) -> NDArray:
        """The array back, read from the bytes."""
        loaded: NDArray = numpy.load(io.BytesIO(self.content), allow_pickle=False)
        return loaded


def np_to_listoflists(array: NDArray) -> Any:
    """An array as nested lists of numbers (LabThings' name for ``array.tolist()``)."""
    return array.tolist()


def listoflists_to_np(values: Any) -> NDArray:
    """Nested lists of numbers (or an array, passed through) as an array."""
    return numpy.asarray(values)


def denumpify(value: Any) -> Any:
    """``value`` with every array in it, at any depth of dicts and lists, as nested lists.

    Mappings become dicts and other sequences lists, as in LabThings; strings
    and bytes stay as they are (LabThings' own recurses into a string's
    characters without end).
    """
    if isinstance(value, numpy.ndarray | numpy.generic):
        return value.tolist()
    if isinstance(value, Mapping):
        return {key: denumpify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [denumpify(item) for item in value]
    return value


class DenumpifyingDict:
    """A dict whose arrays travel as nested lists (LabThings' ``DenumpifyingDict``).

    As in LabThings, ``DenumpifyingDict(results).model_dump()`` is ``results``
    with its arrays as lists, fit for a settings file or ``json.dump``; as an
    action's return type it is a JSON object. Any dict an action returns
    here travels that way already: the type is for code written for
    LabThings.

    Args:
        root: The mapping.

    Attributes:
        root: The mapping, as given.
    """

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"DenumpifyingDict({self.root!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DenumpifyingDict) and denumpify(self.root) == denumpify(other.root)

    __hash__ = None  # type: ignore[assignment]  # Mutable, as the dict it holds.

    def model_dump(self) -> dict[str, Any]:
        """The mapping with its arrays as nested lists."""
        dumped: dict[str, Any] = denumpify(self.root)
        return dumped

    @classmethod
    def __labthings_decode__(cls, value: Any) -> Self:
        if isinstance(value, cls):  # An action's output, checked against its annotation.
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"Expected `object`, got `{type(value).__name__}`")
        return cls(value)

    def __labthings_encode__(self) -> Any:
        return self.model_dump()

    @classmethod
    def __labthings_schema__(cls) -> dict[str, Any]:
        return {"type": "object", "description": "An object; arrays in it as nested lists"}
