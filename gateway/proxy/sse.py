"""Incremental server-sent-events parser (WHATWG rules), safe for events split across TCP chunks.

Lines end in ``\\r\\n``, ``\\n`` or ``\\r``; ``data:`` lines of one event are joined with ``\\n``;
lines that start with ``:`` are comments (keep-alives); an empty line dispatches the event.

It works on bytes and hands the data over as bytes: the relay parses it as JSON straight from the bytes
(orjson reads UTF-8 bytes directly; a ``str`` had to be decoded first). The complete lines of what has
arrived are split in one C call (``bytes.split``); only ``event:`` and ``id:`` values are decoded (UTF-8,
invalid bytes replaced). A read of whole ``data:`` events — what vLLM and the simulators write, one
``data: <json>`` line and a blank line per event — takes a shorter path (:meth:`SSEParser._whole_events`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

#: :meth:`SSEParser.feed_first` keeps the rest of a first read back only when it is at least this long: the
#: relay of ~1 KB of events (4-5 chunks at ~6 us each: benchmarks/relay_cost.py, 2026-12-07) costs about what
#: the extra socket write of sending the first event alone costs (~25 us of gateway CPU at one connection:
#: benchmarks/RESULTS.md, session 6), so a shorter rest (vLLM's role chunk and first token in one read) goes
#: out with the first event, in one write
FIRST_ALONE_REST = 1024


class SSEEvent(NamedTuple):
    """One event (a tuple: a third cheaper to make than a frozen dataclass, and there is one per chunk).

    ``data`` is the joined ``data:`` lines as bytes (decode with ``"utf-8", "replace"`` for text)."""

    data: bytes
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Feed bytes, get complete events."""

    __slots__ = ("_buffer", "_data", "_event", "_held", "_id")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None
        self._held = b""  # bytes feed_first() kept back, unparsed: they come before the next chunk

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._held:
            chunk, self._held = self._held + chunk, b""
        if not self._buffer and not self._data and self._event is None and chunk[-2:] == b"\n\n":
            events = self._whole_events(chunk)
            if events is not None:
                return events
        buf = self._buffer + chunk if self._buffer else chunk
        tail = b""
        if b"\r" in buf:
            if buf[-1:] == b"\r":  # may be the first half of a CRLF split across chunks
                buf, tail = buf[:-1], b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buf.rfind(b"\n")
        if end == -1:
            self._buffer = buf + tail
            return []
        self._buffer = buf[end + 1 :] + tail
        return self._lines(buf[:end].split(b"\n"))

    def feed_first(self, chunk: bytes) -> list[SSEEvent]:
        """:meth:`feed` for a stream's first read: when ``chunk`` starts with a whole one-line ``data: ``
        event (nothing under way before it: what vLLM and the simulators write) and at least
        :data:`FIRST_ALONE_REST` bytes follow it, only that event, and the bytes after it are kept, unparsed,
        for the next :meth:`feed` (``feed(b"")`` parses just them) or :meth:`close`; otherwise every event of
        ``chunk``, as :meth:`feed`.

        So a stream's first event can go out before the rest of its read is parsed and relayed: a backend
        that sends many events in one read (``hot_path.py``'s mock: 21 and ``[DONE]``) no longer makes the
        client's first byte wait for all of them (see the relay)."""
        if chunk[:6] == b"data: " and not (self._buffer or self._data or self._held) and self._event is None:
            end = chunk.find(b"\n\n")
            if end != -1 and len(chunk) - end - 2 >= FIRST_ALONE_REST:
                data = chunk[6:end]
                if b"\n" not in data and b"\r" not in data:
                    self._held = chunk[end + 2 :]
                    return [SSEEvent(data, None, self._id)]
        return self.feed(chunk)

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream; an event without its terminating blank line is dropped, per the spec."""
        if self._held:
            return self.feed(b"") + self.close()
        buf = self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._buffer = b""
        end = buf.rfind(b"\n")
        return [] if end == -1 else self._lines(buf[:end].split(b"\n"))

    def _whole_events(self, chunk: bytes) -> list[SSEEvent] | None:
        """The events of ``chunk`` if it is whole events of one ``data: `` line each, with nothing under way
        before it (else ``None``: the line-by-line path then reads it). Every event of such a chunk is a
        ``data: `` line and a blank line, so it has twice as many line ends as events and no ``\\r``.
        A 20-event read of the mock backend: 16.6 -> 13.2 us to parse (min of 8 x 3000, in process)."""
        blocks = chunk[:-2].split(b"\n\n")
        if chunk.count(b"\n") != 2 * len(blocks) or b"\r" in chunk:
            return None
        last_id = self._id
        events = []
        for block in blocks:
            if block[:6] != b"data: ":
                return None
            events.append(SSEEvent(block[6:], None, last_id))
        return events

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line dispatches the event
                if data:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(SSEEvent(joined, self._event, self._id))
                    data = self._data = []
                self._event = None
            elif line[:5] == b"data:":  # the common line first
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[0] != 0x3A:  # not a comment
                field, sep, value = line.partition(b":")
                if sep and value[:1] == b" ":
                    value = value[1:]
                if field == b"data":
                    data.append(value)
                elif field == b"event":
                    self._event = value.decode("utf-8", "replace")
                elif field == b"id":
                    self._id = value.decode("utf-8", "replace")
        return events


def encode_event(data: bytes) -> bytes:
    """One ``data:`` event; ``data`` must not contain newlines (compact JSON never does)."""
    return b"data: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"


def load_json(data: bytes) -> Any:
    """An event's data parsed as JSON, straight from the bytes; data that is not valid UTF-8 is read as the
    text with the invalid bytes replaced (what decoding it first did), so only JSON errors raise
    (``orjson.JSONDecodeError``)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return orjson.loads(data.decode("utf-8", "replace"))
