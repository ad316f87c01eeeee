"""LabThings-FastAPI's ``types`` package: ``types.numpy`` holds ``NDArray``.

Layer: LabThings' module paths. It imports nothing, so numpy is loaded only
by a Thing module that imports ``labthings_async.types.numpy``.
"""

__all__ = ()
