"""The example rig as ``make serve`` serves it, for the tests that drive it; how pictures compare.

The rig's settings go to a folder the test gives, never to the ``settings/``
that ``make serve`` uses.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops

from labthings_async.config import load_config, make_things
from labthings_async.examples.sample import SampleView
from labthings_async.server import ThingServer

__all__ = ("RIG", "expected_view", "mean_difference", "picture", "rig_server")

RIG = Path(__file__).parents[1] / "labthings_async" / "examples" / "rig.json"


def rig_server(settings_folder: Path) -> ThingServer:
    """The rig from its config file as ``make serve`` makes it, with its settings elsewhere."""
    config = load_config(RIG)
    return ThingServer(
        make_things(config), **{**config.options, "settings_folder": settings_folder}
    )


def picture(jpeg: bytes) -> Image.Image:
    """A JPEG as a grey-scale image."""
    return Image.open(io.BytesIO(jpeg)).convert("L")


def expected_view(x: float, y: float) -> Image.Image:
    """What the rig's camera sees with the stage at (x, y), focused, as it starts."""
    return picture(SampleView().jpeg(x, y, 0))


def mean_difference(one: Image.Image, other: Image.Image) -> float:
    """How different two grey-scale pictures of one size look: the mean absolute difference."""
    histogram = ImageChops.difference(one, other).histogram()
    return sum(level * count for level, count in enumerate(histogram)) / sum(histogram)
