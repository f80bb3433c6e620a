"""Streamed tool calls: normalise each delta's ``tool_calls``, and reassemble them into whole calls.

vLLM's hermes parser may put two entries for one call into a delta (the name, then a first argument
fragment); other parsers send ``arguments: null`` or omit ``type``. Clients differ in what they tolerate, so
the relay sends every delta in one shape (:func:`normalize_tool_deltas`): one entry per ``index`` per delta,
``id`` / ``type: "function"`` / ``function.name`` only on a call's first entry, ``function.arguments`` only as
a non-empty string fragment. :class:`ToolCallAssembler` turns a stream of such deltas into the non-streamed
``tool_calls`` list (front doors that answer in their own shape, budget forcing, tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _entry_index(entry: Mapping[str, Any], position: int) -> int:
    index = entry.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def normalize_tool_deltas(delta: dict[str, Any]) -> None:
    """Rewrite ``delta["tool_calls"]`` in place: merge entries of the same call, drop empty parts."""
    calls = delta.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list) or not calls:
        delta.pop("tool_calls", None)
        return
    merged: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(calls):
        if not isinstance(entry, Mapping):
            continue
        index = _entry_index(entry, position)
        out = merged.setdefault(index, {"index": index})
        if isinstance(entry.get("id"), str) and entry["id"]:
            out.setdefault("id", entry["id"])
            out["type"] = "function"
        fn = entry.get("function")
        if not isinstance(fn, Mapping):
            continue
        target = out.setdefault("function", {})
        name = fn.get("name")
        if isinstance(name, str) and name:
            target.setdefault("name", name)
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            target["arguments"] = target.get("arguments", "") + args
    entries = [e for e in merged.values() if e.get("id") or e.get("function")]
    for entry in entries:
        if entry.get("function") == {}:
            del entry["function"]
    if entries:
        delta["tool_calls"] = entries
    else:
        del delta["tool_calls"]


@dataclass
class ToolCallAssembler:
    """Accumulates streamed tool-call deltas of one choice into whole calls, in index order."""

    _calls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def feed(self, delta: Mapping[str, Any]) -> None:
        calls = delta.get("tool_calls")
        if not isinstance(calls, list):
            return
        for position, entry in enumerate(calls):
            if not isinstance(entry, Mapping):
                continue
            index = _entry_index(entry, position)
            call = self._calls.setdefault(
                index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            if isinstance(entry.get("id"), str) and call["id"] is None:
                call["id"] = entry["id"]
            fn = entry.get("function")
            if isinstance(fn, Mapping):
                if isinstance(fn.get("name"), str) and not call["function"]["name"]:
                    call["function"]["name"] = fn["name"]
                if isinstance(fn.get("arguments"), str):
                    call["function"]["arguments"] += fn["arguments"]

    def calls(self) -> list[dict[str, Any]]:
        """The calls so far, as a non-streamed message's ``tool_calls``."""
        return [self._calls[i] for i in sorted(self._calls)]
