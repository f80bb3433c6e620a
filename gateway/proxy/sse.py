"""Incremental server-sent-events parser (WHATWG rules), safe for events split across TCP chunks.

Lines end in ``\\r\\n``, ``\\n`` or ``\\r``; ``data:`` lines of one event are joined with ``\\n``;
lines that start with ``:`` are comments (keep-alives); an empty line dispatches the event.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Feed bytes, get complete events."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += self._decoder.decode(chunk)
        return self._drain(final=False)

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream; an event without its terminating blank line is dropped, per the spec."""
        self._buffer += self._decoder.decode(b"", final=True)
        return self._drain(final=True)

    def _drain(self, final: bool) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        buf = self._buffer
        start = 0
        n = len(buf)
        while start < n:
            lf = buf.find("\n", start)
            cr = buf.find("\r", start)
            if lf == -1 and cr == -1:
                break
            if cr != -1 and (lf == -1 or cr < lf):
                if cr + 1 == n and not final:
                    break  # a CR at the end may be the first half of CRLF
                end, nxt = cr, cr + 2 if cr + 1 < n and buf[cr + 1] == "\n" else cr + 1
            else:
                end, nxt = lf, lf + 1
            event = self._line(buf[start:end])
            if event is not None:
                events.append(event)
            start = nxt
        self._buffer = buf[start:]
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = SSEEvent("\n".join(self._data), self._event, self._id)
            self._data = []
            self._event = None
            return event
        if line[0] == ":":
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            self._id = value
        return None


def encode_event(data: bytes) -> bytes:
    """One ``data:`` event; ``data`` must not contain newlines (compact JSON never does)."""
    return b"data: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"
