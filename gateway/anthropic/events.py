"""Chat-completions stream chunks → Anthropic Messages stream events.

The event sequence: ``message_start`` and a ``ping`` as soon as the backend answered; then one content block
at a time — ``content_block_start``, its deltas, ``content_block_stop`` — with ``thinking_delta`` for
reasoning (closed by a ``signature_delta`` carrying the signature of the whole block), ``text_delta`` for the
answer and ``input_json_delta`` for each tool call's arguments; at the end ``message_delta`` (``stop_reason``,
``stop_sequence``, usage) and ``message_stop``. A failure after the first byte is an ``error`` event.
Every event is ``event: <type>`` + ``data: <json>`` like Anthropic's own stream.

Reassembling the events (the SDK's ``accumulate_event``) gives exactly the non-streamed message of
:func:`gateway.anthropic.message.to_message` for the same generation, however the backend chunked it.
Whitespace-only text while no text block is open is held back: a tool call drops it (vLLM streams the
``\n\n`` after ``</think>`` as content before the call), real text carries it, and at the end of a turn
without tool calls it becomes the text block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from gateway.anthropic.message import stop_reason, usage
from gateway.anthropic.signature import ThinkingSigner


def encode(event_type: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


PING = encode("ping", {"type": "ping"})


class MessageStreamWriter:
    """Feed it the (normalized) chat chunks of one stream; it returns the client's bytes for each."""

    def __init__(
        self, *, msg_id: str, model: str, signer: ThinkingSigner, stop_sequences: Sequence[str]
    ) -> None:
        self._id = msg_id
        self._model = model
        self._signer = signer
        self._stops = tuple(stop_sequences)
        self._index = -1
        self._open: str | None = None  # "thinking" | "text" | "tool" while a block is open
        self._thinking: list[str] = []
        self._tool_blocks: dict[int, int] = {}  # chat tool-call index -> block index
        self._tool_calls = False
        self._held: list[str] = []  # whitespace-only text while no text block is open
        self._finish: Any = None
        self._matched: Any = None
        self._usage: Any = None
        self.events = 0

    def _event(self, event_type: str, data: dict[str, Any]) -> bytes:
        self.events += 1
        return encode(event_type, data)

    def start(self) -> bytes:
        """``message_start`` + ``ping``: sent when the backend has answered, before the first token."""
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        self.events += 1
        return self._event("message_start", {"type": "message_start", "message": message}) + PING

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        out = b""
        if self._open == "thinking":
            signature = self._signer.sign("".join(self._thinking))
            delta = {"type": "signature_delta", "signature": signature}
            out += self._event(
                "content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}
            )
            self._thinking = []
        self._open = None
        return out + self._event("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _begin(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        return out + self._event("content_block_start", start)

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        at = self._index if index is None else index
        return self._event(
            "content_block_delta", {"type": "content_block_delta", "index": at, "delta": delta}
        )

    def _tool_call(self, call: dict[str, Any]) -> bytes:
        out = b""
        position = call.get("index", 0)
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(function, dict)
        block = self._tool_blocks.get(position)
        if block is None:
            self._tool_calls = True
            self._held = []  # whitespace before a tool call is not an answer
            start = {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            out += self._begin("tool", start)
            block = self._tool_blocks[position] = self._index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # a fragment of an earlier call (vLLM streams calls in order; this is defensive) keeps its index
            out += self._delta({"type": "input_json_delta", "partial_json": arguments}, block)
        return out

    def _text(self, text: str, *, hold: bool = True) -> bytes:
        out = b""
        if self._open != "text":
            if hold and text.isspace():
                self._held.append(text)
                return b""
            out += self._begin("text", {"type": "text", "text": ""})
            if self._held:
                text = "".join(self._held) + text
                self._held = []
        return out + self._delta({"type": "text_delta", "text": text})

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        """The events for one chat chunk (possibly none)."""
        out = b""
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            assert isinstance(delta, dict)
            reasoning = delta.get("reasoning")
            if reasoning is None:
                reasoning = delta.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                if self._open != "thinking":
                    out += self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                self._thinking.append(reasoning)
                out += self._delta({"type": "thinking_delta", "thinking": reasoning})
            text = delta.get("content")
            if isinstance(text, str) and text:
                out += self._text(text)
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    out += self._tool_call(call)
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]
                self._matched = choice.get("stop_reason")
        return out

    def finish(self) -> bytes:
        """Close the open block, then ``message_delta`` and ``message_stop`` (after the backend's [DONE])."""
        out = b""
        if self._held:
            held, self._held = "".join(self._held), []
            if not self._tool_calls:  # whitespace that no tool call came with: the answer after all
                out += self._text(held, hold=False)
        out += self._close()
        reason, sequence = stop_reason(self._finish, self._matched, self._stops, self._tool_calls)
        delta_usage = usage(self._usage)  # cumulative totals: the SDK overwrites message_start's zeros
        out += self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": sequence},
                "usage": delta_usage,
            },
        )
        return out + self._event("message_stop", {"type": "message_stop"})

    def error(self, error_type: str, message: str) -> bytes:
        """An in-band ``error`` event (the stream already started, so the status cannot change)."""
        return self._event("error", {"type": "error", "error": {"type": error_type, "message": message}})
