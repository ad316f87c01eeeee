"""LabThings-FastAPI's ``outputs`` namespace: ``lt.outputs.MJPEGStreamDescriptor``.

Layer: domain (re-exports only). Camera streams live in ``mjpeg``; this
module keeps the names where a Thing written for LabThings looks for them.
"""

from .mjpeg import MJPEGStream, MJPEGStreamDescriptor

__all__ = ("MJPEGStream", "MJPEGStreamDescriptor")
