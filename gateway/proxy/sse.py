"""Incremental server-sent-events parser (WHATWG rules), safe for events split across TCP chunks.

Lines end in ``\\r\\n``, ``\\n`` or ``\\r``; ``data:`` lines of one event are joined with ``\\n``;
lines that start with ``:`` are comments (keep-alives); an empty line dispatches the event.

It works on bytes: the complete lines of what has arrived are split in one C call (``bytes.split``) and only
field values are decoded (UTF-8, invalid bytes replaced) instead of a scan character by character; with the
relay's other changes a 20-chunk stream in one read is parsed and normalised in 67 -> 43 µs
(``benchmarks/upstream_client.py``, relay rows; benchmarks/RESULTS.md section 2b).
"""

from __future__ import annotations

from typing import NamedTuple


class SSEEvent(NamedTuple):
    """One event (a tuple: a third cheaper to make than a frozen dataclass, and there is one per chunk)."""

    data: str
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Feed bytes, get complete events."""

    __slots__ = ("_buffer", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
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

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream; an event without its terminating blank line is dropped, per the spec."""
        buf = self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._buffer = b""
        end = buf.rfind(b"\n")
        return [] if end == -1 else self._lines(buf[:end].split(b"\n"))

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line dispatches the event
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    events.append(SSEEvent(text, self._event, self._id))
                    data = self._data = []
                self._event = None
            elif line[:5] == b"data:":  # the common line first
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value.decode("utf-8", "replace"))
            elif line[0] != 0x3A:  # not a comment
                field, sep, value = line.partition(b":")
                if sep and value[:1] == b" ":
                    value = value[1:]
                if field == b"data":
                    data.append(value.decode("utf-8", "replace"))
                elif field == b"event":
                    self._event = value.decode("utf-8", "replace")
                elif field == b"id":
                    self._id = value.decode("utf-8", "replace")
        return events


def encode_event(data: bytes) -> bytes:
    """One ``data:`` event; ``data`` must not contain newlines (compact JSON never does)."""
    return b"data: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"
