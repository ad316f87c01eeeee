"""Server-Sent Events parsing, exactly as a browser's EventSource parses them.

Layer: bottom (standard library only). The parser follows the WHATWG HTML
"event stream interpretation" algorithm
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
and does no I/O: feed it the body's bytes as they arrive, in chunks of any
size, and it returns the events each chunk completes. The client follows
invocations and properties with it; the tests read streams with it too.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ("EventStreamParser", "SSEEvent")

_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event, as a browser's ``MessageEvent`` would see it.

    Attributes:
        type: The ``event`` field, or ``"message"`` when the block had none.
        data: The ``data`` lines joined by line feeds.
        last_event_id: The stream's last event ID when the event was dispatched;
            it persists from earlier events that set ``id``.
    """

    type: str
    data: str
    last_event_id: str

    def json(self) -> Any:
        """Decode ``data`` as JSON.

        Returns:
            The decoded value.

        Raises:
            json.JSONDecodeError: If ``data`` is not JSON.
        """
        return json.loads(self.data)


class EventStreamParser:
    """Incremental parser for a ``text/event-stream`` body.

    Feed it the body's bytes in chunks of any size; a chunk may end inside a
    multi-byte UTF-8 character or between the CR and LF of a line end.

    Attributes:
        comments: The text of every comment line (``:`` lines) in arrival order,
            with the colon and one following space removed. The standard
            ignores comments; they are kept so tests can see keep-alives.
        retry: The last valid ``retry`` field (the reconnection time in
            milliseconds), or ``None`` if the server never sent one.
        last_event_id: The event source's last event ID string: the ID a
            reconnecting client would send as ``Last-Event-ID``. Like the
            standard's, it is updated at each blank line, not at the ``id`` line.
    """

    def __init__(self) -> None:
        self.comments: list[str] = []
        self.retry: int | None = None
        self.last_event_id = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._seen_first_character = False
        self._after_cr = False
        self._partial_line = ""
        self._data: list[str] = []
        self._event_type = ""
        self._last_event_id_buffer = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse the next piece of the stream.

        Args:
            chunk: The next bytes of the body, split anywhere.

        Returns:
            The events completed by this chunk, in order; often empty.
        """
        text = self._decoder.decode(chunk)
        if not text:
            # The decoder is holding back part of a multi-byte character.
            return []
        if not self._seen_first_character:
            self._seen_first_character = True
            text = text.removeprefix(_BOM)
        if self._after_cr and text.startswith("\n"):
            # The LF of a CRLF whose CR ended the previous chunk.
            text = text[1:]
        self._after_cr = text.endswith("\r")
        lines = _LINE_END.split(text)
        lines[0] = self._partial_line + lines[0]
        # The text after the last line end is an unfinished line; at the end
        # of the stream the standard discards it, so it simply stays here.
        self._partial_line = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _process_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments.append(line[1:].removeprefix(" "))
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        # Field names are compared literally, with no case folding. Other
        # fields, and id and retry fields with invalid values, are ignored.
        if field == "event":
            self._event_type = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._last_event_id_buffer = value
        elif field == "retry" and value.isascii() and value.isdigit():
            # isascii() because isdigit() alone accepts digits such as "²".
            self.retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        self.last_event_id = self._last_event_id_buffer
        data, event_type = self._data, self._event_type
        self._data, self._event_type = [], ""
        if not data:
            return None
        # Joining the lines is the standard's "append LF after each value, then
        # remove one trailing LF".
        return SSEEvent(
            type=event_type or "message",
            data="\n".join(data),
            last_event_id=self.last_event_id,
        )
