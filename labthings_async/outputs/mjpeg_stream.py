"""LabThings-FastAPI's ``outputs.mjpeg_stream``: a camera's live view.

Layer: LabThings' module paths (re-exports ``labthings_async.mjpeg``, where
camera streams are described).
"""

from ..mjpeg import MJPEGStream, MJPEGStreamDescriptor, RingbufferEntry

__all__ = ("MJPEGStream", "MJPEGStreamDescriptor", "RingbufferEntry")
