"""Camera streams in the domain: frames checked, kept in a ring, announced on the loop."""

from __future__ import annotations

import asyncio
import threading

import pytest
from jpeg_frames import frame_number, tagged_frame

import labthings_async as lt
from labthings_async.manager import ActionManager
from labthings_async.mjpeg import MJPEGStream, check_jpeg, multipart_part


class Camera(lt.Thing):
    stream = lt.outputs.MJPEGStreamDescriptor(ringbuffer_size=4)


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (b"\x89PNG\r\n\x1a\n....", "starts 89 50 4e 47"),
        (b"\xff\xd8 no end", "ends 6e 64"),
        (b"", "(0 bytes) starts (nothing)"),
    ],
)
def test_a_frame_that_is_not_a_jpeg_is_refused_saying_what_it_is(frame: bytes, says: str) -> None:
    stream = MJPEGStream()
    with pytest.raises(lt.InvalidFrameError, match="must be a JPEG") as raised:
        stream.add_frame(frame)
    assert says in str(raised.value)
    assert isinstance(raised.value, ValueError)  # As LabThings raises it.
    assert stream.latest() is None


def test_a_frame_must_be_bytes() -> None:
    with pytest.raises(lt.InvalidFrameError, match="not a str"):
        check_jpeg("\xff\xd8\xff\xd9")  # type: ignore[arg-type]


def test_the_ring_buffer_keeps_the_last_frames_and_says_which_are_gone() -> None:
    stream = Camera().stream
    for number in range(6):
        stream.add_frame(tagged_frame(number))
    assert stream.last_frame_i == 5
    assert frame_number(stream.entry(5).frame) == 5
    assert frame_number(stream.entry(2).frame) == 2
    with pytest.raises(ValueError, match="overwritten"):
        stream.entry(1)
    with pytest.raises(ValueError, match="not been taken yet"):
        stream.entry(6)
    stream.reset()
    assert stream.latest() is None and stream.last_frame_i == -1


def test_each_thing_has_its_own_stream_named_after_its_attribute() -> None:
    first, second = Camera(), Camera()
    assert first.stream is first.stream
    assert first.stream is not second.stream
    assert first.stream.name == "stream"
    assert Camera.streams == {"stream": Camera.__dict__["stream"]}


def test_a_part_carries_the_frame_with_its_length() -> None:
    frame = tagged_frame(3)
    assert multipart_part(frame) == (
        b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
        % (len(frame), frame)
    )


def test_a_stream_may_not_take_an_affordances_name() -> None:
    with pytest.raises(lt.ActionDefinitionError, match="both a camera stream and"):

        class Clash(Camera):
            @lt.action
            def stream(self) -> None:  # type: ignore[override]
                pass

    with pytest.raises(lt.ActionDefinitionError, match=r"/\{thing\}/events"):

        class Reserved(lt.Thing):
            events = lt.outputs.MJPEGStreamDescriptor()


async def test_frames_from_a_thread_are_announced_on_the_loop_and_next_frame_waits() -> None:
    camera = Camera()
    async with ActionManager({"camera": camera}):
        stream = camera.stream
        waiting = asyncio.ensure_future(stream.grab_frame())
        await asyncio.sleep(0)  # Let it subscribe before the frame comes.
        thread = threading.Thread(target=stream.add_frame, args=(tagged_frame(7),))
        thread.start()
        frame = await asyncio.wait_for(waiting, 10)
        thread.join()
        assert frame_number(frame) == 7
        async with stream.topic.subscribe(after=0) as notices:
            notice = (await anext(notices)).json()
        assert notice["index"] == 0
        assert notice["href"] == "stream/frames/0"
        assert notice["size"] == len(frame)


async def test_stop_ends_whoever_waits_for_a_frame() -> None:
    camera = Camera()
    async with ActionManager({"camera": camera}):
        waiting = asyncio.ensure_future(camera.stream.next_frame())
        await asyncio.sleep(0)
        await asyncio.to_thread(camera.stream.stop)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 10)
