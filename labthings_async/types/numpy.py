"""LabThings-FastAPI's ``types.numpy``: numpy arrays as nested lists of numbers.

Layer: LabThings' module paths (re-exports ``labthings_async.arrays``, where
arrays are described, and so imports numpy). ``from
labthings_async.types.numpy import NDArray`` is what a Thing written for
LabThings-FastAPI 0.3.0 imports; an ``NDArray`` travels as nested lists, as
there, and its schema says so (up to 7 dimensions).
"""

from ..arrays import (
    DenumpifyingDict,
    NDArray,
    denumpify,
    listoflists_to_np,
    np_to_listoflists,
)

__all__ = (
    "DenumpifyingDict",
    "NDArray",
    "denumpify",
    "listoflists_to_np",
    "np_to_listoflists",
)
