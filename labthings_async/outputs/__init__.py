"""LabThings-FastAPI's ``outputs`` package: camera streams, and ``outputs.blob``.

Layer: LabThings' module paths (re-exports of the domain only). Camera
streams live in ``labthings_async.mjpeg`` and blobs in ``labthings_async.blob``;
this package keeps them where a Thing written for LabThings-FastAPI 0.3.0
looks for them: ``lt.outputs.MJPEGStreamDescriptor``, ``lt.outputs.blob.Blob``,
``from labthings_async.outputs.mjpeg_stream import MJPEGStreamDescriptor`` and
``from labthings_async.outputs.blob import Blob``.
"""

from . import blob, mjpeg_stream
from .mjpeg_stream import MJPEGStream, MJPEGStreamDescriptor

__all__ = ("MJPEGStream", "MJPEGStreamDescriptor", "blob", "mjpeg_stream")
