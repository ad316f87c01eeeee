"""The simulated sample under the example microscope: cells on a slide, drawn as JPEG frames.

The slide is a fixed, seeded field of cells, so the same stage position shows
the same cells every time; ``z`` away from the focal plane blurs them, and the
cells wobble a little from frame to frame, so a live view visibly lives.
Frames are drawn with Pillow (the ``examples`` extra). Without it, the camera
plays the frames recorded in ``frames/`` instead (``recorded_frames``): a
live view that moves, though not with the stage. Drawing needs a real image
library; a pure-Python JPEG encoder would be either slow or blocky, and a
runtime dependency for an example would weigh on every user of the package.
"""

from __future__ import annotations

import io
import math
import random
from importlib import resources

__all__ = ("FOCAL_PLANE", "SampleView", "can_draw", "recorded_frames")

FOCAL_PLANE = 0.0
"""The stage height (µm) at which the cells are sharp."""

_SLIDE_UM = 4000.0
_CELLS = 1500


def can_draw() -> bool:
    """True if Pillow is installed, so frames can be drawn at any stage position."""
    try:
        import PIL  # noqa: F401 - only to know whether it is there.
    except ImportError:
        return False
    return True


def recorded_frames() -> list[bytes]:
    """The JPEG frames shipped with the package, played when Pillow is not installed."""
    folder = resources.files(__package__).joinpath("frames")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".jpg"))
    return [folder.joinpath(name).read_bytes() for name in names]


class SampleView:
    """Draws what the camera sees of the slide.

    Args:
        width: Frame width in pixels.
        height: Frame height in pixels.
        seed: Chooses the slide (the same seed, the same cells).
    """

    def __init__(self, width: int = 320, height: int = 240, seed: int = 7) -> None:
        self.width = width
        self.height = height
        chooser = random.Random(seed)
        self._cells = [
            (
                chooser.uniform(-_SLIDE_UM / 2, _SLIDE_UM / 2),
                chooser.uniform(-_SLIDE_UM / 2, _SLIDE_UM / 2),
                chooser.uniform(6, 18),
                chooser.randrange(90, 200),
            )
            for _ in range(_CELLS)
        ]

    def jpeg(
        self,
        x: float,
        y: float,
        z: float,
        *,
        pixel_size: float = 1.0,
        brightness: float = 1.0,
        tick: int = 0,
        quality: int = 80,
    ) -> bytes:
        """The view centred on ``(x, y)`` at height ``z`` (µm), as JPEG bytes.

        Args:
            x: Stage position (µm).
            y: Stage position (µm).
            z: Stage height (µm); away from ``FOCAL_PLANE`` the view blurs.
            pixel_size: Micrometres per pixel (the camera's calibration).
            brightness: Scales the illumination (exposure).
            tick: The frame's number, which makes the cells wobble.
            quality: JPEG quality (1-95).
        """
        from PIL import Image, ImageDraw, ImageFilter

        background = max(0, min(255, int(40 * brightness)))
        image = Image.new("L", (self.width, self.height), background)
        draw = ImageDraw.Draw(image)
        half_w = self.width * pixel_size / 2
        half_h = self.height * pixel_size / 2
        for number, (cx, cy, radius, shade) in enumerate(self._cells):
            if abs(cx - x) > half_w + radius or abs(cy - y) > half_h + radius:
                continue
            wobble = 1.5 * math.sin(tick / 5 + number)
            px = (cx - x + half_w) / pixel_size
            py = (cy - y + half_h) / pixel_size
            r = (radius + wobble) / pixel_size
            level = max(0, min(255, int(shade * brightness)))
            draw.ellipse((px - r, py - r, px + r, py + r), fill=level)
        blur = abs(z - FOCAL_PLANE) / 10
        if blur >= 0.5:
            image = image.filter(ImageFilter.GaussianBlur(blur))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()
