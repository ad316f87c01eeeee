"""Camera streams: JPEG frames from any thread to any number of viewers, latest first.

Layer: domain (stdlib, msgspec, the events and the bridge). Built with
LabThings-FastAPI's names (``MJPEGStreamDescriptor``, ``MJPEGStream``,
``add_frame``), so a camera Thing written for it runs. ``add_frame`` may be
called from any thread at camera rate: it checks the frame is a JPEG, puts
it in a small ring buffer under a lock, and hands one notification to the
loop through the manager's ``EventBridge``, coalesced with any still waiting
there, so a burst of frames costs the loop one wake-up. It never waits for a
viewer, and never for the loop.

The notifications are events on the stream's own ``Topic``: the HTTP layer
serves them as Server-Sent Events, and each viewer of the multipart stream
reads them through a bounded subscription, taking the *latest* frame when it
wakes. A viewer slower than the camera skips frames; it never holds back the
camera, the loop, or another viewer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self, overload

import msgspec

from .errors import InvalidFrameError
from .events import Event, Topic

if TYPE_CHECKING:
    from .bridge import EventBridge

__all__ = (
    "BOUNDARY",
    "MEDIA_TYPE",
    "FrameNotice",
    "MJPEGStream",
    "MJPEGStreamDescriptor",
    "RingbufferEntry",
    "check_jpeg",
    "multipart_part",
)

BOUNDARY = b"frame"
MEDIA_TYPE = "multipart/x-mixed-replace; boundary=frame"
"""The stream's media type, as LabThings serves it (and a browser's ``<img>`` shows it)."""

_NOTICES_KEPT = 16
"""Frame notifications a stream keeps for replay (``Last-Event-ID``)."""


def check_jpeg(frame: bytes) -> None:
    """Refuse anything but a JPEG: it must start with SOI (FF D8) and end with EOI (FF D9).

    Raises:
        InvalidFrameError: It is not a JPEG (a ``ValueError``, as LabThings raises).
    """
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise InvalidFrameError(
            f"a frame must be the bytes of a JPEG image, not a {type(frame).__name__}"
        )
    if len(frame) < 4 or frame[:2] != b"\xff\xd8" or frame[-2:] != b"\xff\xd9":
        head = bytes(frame[:4]).hex(" ")
        tail = bytes(frame[-2:]).hex(" ")
        raise InvalidFrameError(
            f"a frame must be a JPEG image, starting FF D8 and ending FF D9; this one "
            f"({len(frame)} bytes) starts {head or '(nothing)'} and ends {tail or '(nothing)'}: "
            "encode the image as JPEG before adding it"
        )


def multipart_part(frame: bytes) -> bytes:
    """One part of the multipart stream: the boundary, the part's headers, the JPEG."""
    head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (
        BOUNDARY,
        len(frame),
    )
    return b"".join((head, frame, b"\r\n"))


@dataclass(slots=True)
class RingbufferEntry:
    """One frame in the ring buffer (LabThings' name).

    Attributes:
        frame: The JPEG.
        timestamp: When it was captured (or added, if the camera did not say).
        index: Its number in the stream, counting from 0.
    """

    frame: bytes
    timestamp: datetime
    index: int
    _part: bytes | None = field(default=None, repr=False)

    @property
    def part(self) -> bytes:
        """The frame as one part of the multipart stream, built once for every viewer."""
        part = self._part
        if part is None:
            part = self._part = multipart_part(self.frame)
        return part


class FrameNotice(msgspec.Struct, frozen=True):
    """What a frame notification says (the data of each ``frame`` event).

    Attributes:
        index: The frame's number in the stream.
        timestamp: When it was captured.
        size: Its size in bytes.
        href: Where to fetch it as ``image/jpeg``, relative to the Thing's URL
            (the TD's ``base``), while it is in the ring buffer.
    """

    index: int
    timestamp: datetime
    size: int
    href: str


class MJPEGStream:
    """A camera's live view: frames in, a multipart JPEG stream out to every viewer.

    Args:
        ringbuffer_size: Frames kept, so a client told of a frame can fetch it.
        name: The stream's name on its Thing (its URL segment).

    Attributes:
        topic: The frame notifications, published on the loop; it is replaced
            each time the stream is attached to a running manager.
        last_frame_i: The index of the latest frame (-1 before the first).
    """

    def __init__(self, ringbuffer_size: int = 10, *, name: str = "stream") -> None:
        if ringbuffer_size < 1:
            raise ValueError(f"ringbuffer_size must be at least 1, got {ringbuffer_size}")
        self.name = name
        self._lock = threading.Lock()
        self._ring: list[RingbufferEntry | None] = [None] * ringbuffer_size
        self.last_frame_i = -1
        self._streaming = True
        self._bridge: EventBridge | None = None
        self._thing = ""
        self.topic = Topic(_NOTICES_KEPT)

    def __repr__(self) -> str:
        return f"<MJPEGStream {self.name!r}: {self.last_frame_i + 1} frames>"

    # -- from the camera (any thread) -----------------------------------------------

    def add_frame(self, frame: bytes, timestamp: datetime | None = None) -> None:
        """Add a JPEG to the stream (any thread; never waits for viewers or the loop).

        Args:
            frame: The JPEG image.
            timestamp: When it was captured; by default, now.

        Raises:
            InvalidFrameError: ``frame`` is not a JPEG (a ``ValueError``).
        """
        check_jpeg(frame)
        entry = RingbufferEntry(bytes(frame), timestamp or datetime.now(UTC), 0)
        with self._lock:
            entry.index = index = self.last_frame_i + 1
            self._ring[index % len(self._ring)] = entry
            self.last_frame_i = index
            self._streaming = True
            bridge, topic = self._bridge, self.topic
        if bridge is not None:
            bridge.send_latest(entry, topic, self._notice)

    def stop(self) -> None:
        """End every viewer's stream (any thread); ``add_frame`` or ``reset`` start it again."""
        with self._lock:
            self._streaming = False
            bridge, topic = self._bridge, self.topic
        if bridge is not None:
            bridge.send(Event("stopped", b"null", thing=self._thing, terminal=True), topic)

    def reset(self, ringbuffer_size: int | None = None) -> None:
        """Empty the ring buffer (resizing it if asked) and count frames from 0 again."""
        with self._lock:
            self._ring = [None] * (ringbuffer_size or len(self._ring))
            self.last_frame_i = -1
            self._streaming = True

    def _notice(self, entry: RingbufferEntry) -> Event:
        notice = FrameNotice(
            index=entry.index,
            timestamp=entry.timestamp,
            size=len(entry.frame),
            href=f"{self.name}/frames/{entry.index}",
        )
        return Event.lazy("frame", notice, thing=self._thing, affordance=self.name)

    # -- the server's side (loop thread) --------------------------------------------

    def attach(self, bridge: EventBridge, thing: str) -> None:
        """Publish frame notifications through ``bridge`` (the manager, as it starts)."""
        with self._lock:
            self.topic = Topic(_NOTICES_KEPT)
            self._bridge = bridge
            self._thing = thing

    def detach(self) -> None:
        """Stop publishing, and end every subscription (the manager, as it stops)."""
        with self._lock:
            self._bridge = None
            topic = self.topic
        topic.close()

    @property
    def streaming(self) -> bool:
        """False once ``stop()`` has been called (until the next frame or ``reset``)."""
        return self._streaming

    def latest(self) -> RingbufferEntry | None:
        """The newest frame, or None before the first."""
        with self._lock:
            index = self.last_frame_i
            return None if index < 0 else self._ring[index % len(self._ring)]

    def entry(self, i: int) -> RingbufferEntry:
        """Frame ``i``, if it is still in the ring buffer.

        Raises:
            ValueError: It has not been taken yet, or has been overwritten.
        """
        with self._lock:
            last = self.last_frame_i
            entry = self._ring[i % len(self._ring)] if i >= 0 else None
        if i < 0 or i > last:
            raise ValueError(f"frame {i} has not been taken yet (the latest is {last})")
        if entry is None or entry.index != i:
            raise ValueError(
                f"frame {i} has been overwritten: the ring buffer keeps the last "
                f"{len(self._ring)} frames, up to frame {last}"
            )
        return entry

    # -- LabThings' async API (loop thread) -----------------------------------------

    async def ringbuffer_entry(self, i: int) -> RingbufferEntry:
        """Frame ``i`` (as ``entry``; LabThings' name)."""
        return self.entry(i)

    async def next_frame(self) -> int:
        """Wait for the next frame; its index.

        Raises:
            StopAsyncIteration: The stream stopped.
        """
        async with self.topic.subscribe(after=None, maxsize=1, end_on_terminal=True) as waiting:
            event = await anext(waiting)
            if event.terminal:
                raise StopAsyncIteration
        return self.last_frame_i

    async def grab_frame(self) -> bytes:
        """Wait for the next frame; the JPEG."""
        return self.entry(await self.next_frame()).frame

    async def next_frame_size(self) -> int:
        """Wait for the next frame; its size in bytes (a sharpness measure for autofocus)."""
        return len(await self.grab_frame())


class MJPEGStreamDescriptor:
    """A camera stream on a Thing: ``stream = lt.outputs.MJPEGStreamDescriptor()``.

    Each Thing gets its own ``MJPEGStream`` on first access; the server
    serves it at ``/{thing}/{name}`` (a multipart JPEG stream that an
    ``<img>`` shows), with a viewer page at ``/{thing}/{name}/viewer``, the
    latest frame at ``/{thing}/{name}/frame`` and frame notifications as
    Server-Sent Events at ``/{thing}/{name}/events``. The Thing Description
    links to it.

    Args:
        **kwargs: Passed to ``MJPEGStream`` (``ringbuffer_size``).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type[Any] | None = None) -> MJPEGStream: ...
    def __get__(self, obj: object | None, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        streams = obj.__dict__
        stream = streams.get(self.name)
        if stream is None:
            # setdefault: two threads asking at once get the same stream.
            stream = streams.setdefault(self.name, MJPEGStream(**self._kwargs, name=self.name))
        return stream
