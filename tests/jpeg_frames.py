"""JPEG frames for camera tests: real images (Pillow), or tagged stand-ins of any size.

A stand-in is a JPEG as far as a stream can tell (it starts with SOI and
ends with EOI) with a comment segment saying its number, padded to the size
asked for, so a test can tell which frame a viewer received without
decoding images.
"""

from __future__ import annotations

import io
import re

from PIL import Image

__all__ = ("frame_number", "real_jpeg", "tagged_frame")

_TAG = re.compile(rb"frame (\d+);")


def real_jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG of one plain colour."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def tagged_frame(number: int, size: int = 1024) -> bytes:
    """A stand-in JPEG of ``size`` bytes whose comment says ``frame NUMBER;``."""
    tag = b"frame %d;" % number
    padding = max(size - len(tag) - 8, 0)
    comment = tag + b"\x00" * padding
    segments = []
    for start in range(0, len(comment), 65_000):  # A segment holds at most 65,533 bytes.
        chunk = comment[start : start + 65_000]
        segments.append(b"\xff\xfe" + (len(chunk) + 2).to_bytes(2, "big") + chunk)
    return b"\xff\xd8" + b"".join(segments) + b"\xff\xd9"


def frame_number(frame: bytes) -> int:
    """The number a ``tagged_frame`` carries."""
    found = _TAG.search(frame[:64])
    if found is None:
        raise ValueError("not a tagged frame")
    return int(found.group(1))
