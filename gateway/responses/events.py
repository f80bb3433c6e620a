"""Chat-completions stream chunks -> the Responses API's typed stream events.

The writer opens with ``response.created`` and ``response.in_progress`` (the Response with status
``in_progress`` and no output), relays the output events of :class:`~gateway.responses.output.OutputBuilder`
as the chunks arrive, and ends with exactly one of ``response.completed``, ``response.incomplete`` (the
backend stopped at ``max_output_tokens``) or ``response.failed`` (the backend failed mid-stream). Every event
carries ``sequence_number``, counting from 0. On the wire each event is ``event: <type>`` + ``data: <json>``;
the stream has no ``[DONE]`` sentinel (OpenAI's Responses streams end when the last event is sent).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.responses.items import IdFactory
from gateway.responses.output import Event, OutputBuilder, feed_delta
from gateway.responses.result import INCOMPLETE_REASONS, Frame, usage_of


class ResponseStream:
    """One streamed Response. Feed it with :meth:`chunk`; finish with :meth:`end` or :meth:`fail`."""

    def __init__(self, frame: Frame, ids: IdFactory) -> None:
        self.frame = frame
        self._builder = OutputBuilder(ids, summary=frame.request.summary is not None)
        self._sequence = 0
        self._finish_reason: str | None = None
        self._usage: Any = None
        self.final: dict[str, Any] | None = None  # the Response of the terminal event

    def _number(self, events: list[Event]) -> list[Event]:
        for event in events:
            event["sequence_number"] = self._sequence
            self._sequence += 1
        return events

    def start(self) -> list[Event]:
        created = self.frame.response(status="in_progress", output=[])
        return self._number(
            [
                {"type": "response.created", "response": created},
                {"type": "response.in_progress", "response": dict(created)},
            ]
        )

    def chunk(self, chunk: dict[str, Any]) -> list[Event]:
        """One chat-completions chunk (normalised by the relay); only the first choice is read."""
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                feed_delta(self._builder, delta)
            finish = choice.get("finish_reason")
            if finish is not None:
                self._finish_reason = str(finish)
        events = self._builder.drain()
        for event in events:
            event["sequence_number"] = self._sequence
            self._sequence += 1
        return events

    def end(self, now: int) -> list[Event]:
        """The backend finished the stream: close the open items, then ``response.completed`` (or
        ``response.incomplete`` when it was cut off)."""
        reason = INCOMPLETE_REASONS.get(self._finish_reason or "")
        self._builder.finish(incomplete=reason is not None, empty_message=reason is None)
        self.final = self.frame.response(
            status="completed" if reason is None else "incomplete",
            output=self._builder.items,
            usage=usage_of(self._usage),
            incomplete_reason=reason,
            completed_at=now if reason is None else None,
        )
        kind = "response.completed" if reason is None else "response.incomplete"
        return self._number([*self._builder.drain(), {"type": kind, "response": self.final}])

    def fail(self, message: str, code: str = "server_error") -> list[Event]:
        """The backend failed after the stream began: ``response.failed`` with the output so far."""
        self._builder.drain()  # whatever was half-built is reported in the failed Response, not as events
        self.final = self.frame.response(
            status="failed",
            output=self._builder.items,
            usage=usage_of(self._usage),
            error={"code": code, "message": message},
        )
        return self._number([{"type": "response.failed", "response": self.final}])


_HEADS: dict[str, bytes] = {}


def encode(event: Event) -> bytes:
    """One event on the wire: ``event: <type>`` and ``data: <json>``."""
    kind: str = event["type"]
    head = _HEADS.get(kind)
    if head is None:
        head = _HEADS[kind] = b"event: " + kind.encode() + b"\ndata: "
    return b"".join((head, orjson.dumps(event), b"\n\n"))
