"""Output items built from the pieces of a chat completion, with the typed stream events that announce them.

:class:`OutputBuilder` is fed reasoning text, answer text and tool-call pieces in the order the backend
produced them, and :meth:`~OutputBuilder.finish` closes it. It records every typed event on the way
(``response.output_item.added``, ``response.reasoning_text.delta``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, the ``…done`` events, ``response.output_item.done``) without
``sequence_number`` (the stream writer numbers them). The JSON writer makes the same items in one step
(:func:`gateway.responses.result.output_items`); the unit tests hold both to the same output for every
chunking of recorded and generated streams.

Items open in the order of their first piece: reasoning, then the message, then one ``function_call`` per
tool call. Whitespace-only text before a message opens is held back: a tool call drops it (vLLM streams the
``\n\n`` after ``</think>`` as content before the call, and leaves it out of its JSON answer), real text
carries it, and at the end of a turn without calls it becomes the message. Reasoning and message close when
the next kind starts; function calls stay open until the end (a backend may interleave the argument pieces
of parallel calls). With ``summary`` asked, the reasoning item also
carries the reasoning as its summary: thinkgate runs no second model to summarise.
"""

from __future__ import annotations

from typing import Any

from gateway.responses.items import IdFactory

Event = dict[str, Any]


class OutputBuilder:
    def __init__(self, ids: IdFactory, *, summary: bool) -> None:
        self._ids = ids
        self._summary = summary
        self.items: list[dict[str, Any]] = []
        self.events: list[Event] = []
        self._open: int | None = None  # index of the open reasoning or message item
        self._calls: dict[int, int] = {}  # chat tool-call index -> output index
        self._texts: dict[int, list[str]] = {}  # output index -> text pieces of an open item
        self._held: list[str] = []  # whitespace-only text while no message is open

    def drain(self) -> list[Event]:
        out, self.events = self.events, []
        return out

    # ---- pieces ------------------------------------------------------------------------------------------

    def reasoning(self, text: str) -> None:
        if not text:
            return
        index = self._open
        if index is None or self.items[index]["type"] != "reasoning":
            index = self._start_reasoning()
        self._texts[index].append(text)
        item_id = self.items[index]["id"]
        self.events.append(
            {
                "type": "response.reasoning_text.delta",
                "item_id": item_id,
                "output_index": index,
                "content_index": 0,
                "delta": text,
            }
        )

    def text(self, text: str) -> None:
        if not text:
            return
        index = self._open
        if index is None or self.items[index]["type"] != "message":
            if text.isspace():
                self._held.append(text)
                return
            index = self._start_message()
            if self._held:
                text = "".join(self._held) + text
                self._held = []
        self._texts[index].append(text)
        self.events.append(
            {
                "type": "response.output_text.delta",
                "item_id": self.items[index]["id"],
                "output_index": index,
                "content_index": 0,
                "delta": text,
                "logprobs": [],
            }
        )

    def call(self, key: int, *, call_id: str | None, name: str | None, arguments: str) -> None:
        """A piece of the tool call with chat index ``key``: its id and name come with the first piece."""
        index = self._calls.get(key)
        if index is None:
            self._held = []  # whitespace before a tool call is not an answer
            self._close_open()
            index = len(self.items)
            self._calls[key] = index
            item = {
                "id": self._ids("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call_id or self._ids("call"),
                "name": name or "",
                "arguments": "",
            }
            self.items.append(item)
            self._texts[index] = []
            self.events.append(
                {"type": "response.output_item.added", "output_index": index, "item": dict(item)}
            )
        elif name and not self.items[index]["name"]:
            self.items[index]["name"] = name
        if arguments:
            self._texts[index].append(arguments)
            self.events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": self.items[index]["id"],
                    "output_index": index,
                    "delta": arguments,
                }
            )

    def finish(self, *, incomplete: bool, empty_message: bool) -> None:
        """Close every open item; the last one is ``incomplete`` when the backend was cut off. With
        ``empty_message`` and nothing to say, an empty message item is added (a turn always answers)."""
        if self._held:
            held, self._held = "".join(self._held), []
            if not self._calls:
                self._start_message()
                self.text(held)
        if empty_message and not any(i["type"] in ("message", "function_call") for i in self.items):
            self._start_message()
        last = len(self.items) - 1
        self._close_open(incomplete=incomplete and self._open == last)
        for index in sorted(self._calls.values()):
            self._close_call(index, incomplete=incomplete and index == last)

    # ---- items -------------------------------------------------------------------------------------------

    def _start_reasoning(self) -> int:
        item = {
            "id": self._ids("rs"),
            "type": "reasoning",
            "summary": [],
            "content": [],
            "status": "in_progress",
        }
        return self._start_text_item(item, {"type": "reasoning_text", "text": ""})

    def _start_message(self) -> int:
        item = {
            "id": self._ids("msg"),
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        return self._start_text_item(
            item, {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        )

    def _start_text_item(self, item: dict[str, Any], part: dict[str, Any]) -> int:
        """Open ``item`` with one empty text ``part``: the item and its part are announced, deltas follow."""
        self._close_open()
        index = len(self.items)
        self.items.append(item)
        self._texts[index] = []
        self._open = index
        self.events.append({"type": "response.output_item.added", "output_index": index, "item": dict(item)})
        self.events.append(
            {
                "type": "response.content_part.added",
                "item_id": item["id"],
                "output_index": index,
                "content_index": 0,
                "part": part,
            }
        )
        return index

    def _close_open(self, *, incomplete: bool = False) -> None:
        index = self._open
        if index is None:
            return
        self._open = None
        item = self.items[index]
        text = "".join(self._texts.pop(index))
        status = "incomplete" if incomplete else "completed"
        if item["type"] == "reasoning":
            self._close_reasoning(index, item, text, status)
        else:
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            self.events.append(
                {
                    "type": "response.output_text.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "text": text,
                    "logprobs": [],
                }
            )
            self.events.append(
                {
                    "type": "response.content_part.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "part": dict(part),
                }
            )
            item["content"] = [part]
            item["status"] = status
        self.events.append({"type": "response.output_item.done", "output_index": index, "item": _copy(item)})

    def _close_reasoning(self, index: int, item: dict[str, Any], text: str, status: str) -> None:
        item_id = item["id"]
        self.events.append(
            {
                "type": "response.reasoning_text.done",
                "item_id": item_id,
                "output_index": index,
                "content_index": 0,
                "text": text,
            }
        )
        self.events.append(
            {
                "type": "response.content_part.done",
                "item_id": item_id,
                "output_index": index,
                "content_index": 0,
                "part": {"type": "reasoning_text", "text": text},
            }
        )
        item["content"] = [{"type": "reasoning_text", "text": text}]
        if self._summary:
            where = {"item_id": item_id, "output_index": index, "summary_index": 0}
            self.events.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    **where,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            self.events.append({"type": "response.reasoning_summary_text.delta", **where, "delta": text})
            self.events.append({"type": "response.reasoning_summary_text.done", **where, "text": text})
            self.events.append(
                {
                    "type": "response.reasoning_summary_part.done",
                    **where,
                    "part": {"type": "summary_text", "text": text},
                }
            )
            item["summary"] = [{"type": "summary_text", "text": text}]
        item["status"] = status

    def _close_call(self, index: int, *, incomplete: bool) -> None:
        item = self.items[index]
        arguments = "".join(self._texts.pop(index))
        item["arguments"] = arguments
        item["status"] = "incomplete" if incomplete else "completed"
        self.events.append(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item["id"],
                "output_index": index,
                "arguments": arguments,
            }
        )
        self.events.append({"type": "response.output_item.done", "output_index": index, "item": _copy(item)})


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for key in ("content", "summary"):
        if key in out:
            out[key] = [dict(p) for p in out[key]]
    return out


def _reasoning_of(part: dict[str, Any]) -> Any:
    value = part.get("reasoning")
    return part.get("reasoning_content") if value is None else value


def feed_delta(builder: OutputBuilder, delta: dict[str, Any]) -> None:
    """One streamed chat-completions ``delta``."""
    reasoning = _reasoning_of(delta)
    if isinstance(reasoning, str):
        builder.reasoning(reasoning)
    content = delta.get("content")
    if isinstance(content, str):
        builder.text(content)
    for position, call in enumerate(delta.get("tool_calls") or ()):
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        index = call.get("index")
        builder.call(
            index if isinstance(index, int) else position,
            call_id=call.get("id"),
            name=function.get("name"),
            arguments=function.get("arguments") or "",
        )
