"""Tool calls written in the Hermes / Qwen3 format, parsed the way vLLM's ``hermes`` tool parser does (pure).

The model writes, per call, ``<tool_call>\n{"name": NAME, "arguments": ARGS}\n</tool_call>``. vLLM 0.32
(``vllm/tool_parsers/hermes_tool_parser.py``) reports it as follows, and so do the gateway (budget forcing,
where no vLLM tool parser runs) and the simulator.

Non-streamed: ``content`` is the text before the first ``<tool_call>``, None when it is empty or only
whitespace (the ``\n\n`` after ``</think>``); each call gets an ``id`` ``chatcmpl-tool-`` + 16 hex digits,
``type`` ``function`` and ``arguments`` re-serialised with ``json.dumps(..., ensure_ascii=False)``; the choice
finishes with ``tool_calls``.

Streamed: the whole content text so far is re-read after every piece. Content before the first tag is sent
(holding back a possible partial tag; the whitespace after ``</think>`` is sent too), a call's first delta
carries ``index``, ``id``, ``type`` and ``function.name`` once the name is complete, later deltas
``function.arguments`` fragments (the raw argument text, minus the closing brace of the outer object once the
call's JSON is complete).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

START = "<tool_call>"
END = "</tool_call>"
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_ARGS = re.compile(r'"arguments"\s*:\s*')


def call_id(seed: str, index: int) -> str:
    """An id in vLLM 0.32's shape (``chatcmpl-tool-`` + 16 hex digits) derived from ``seed`` and the index."""
    return "chatcmpl-tool-" + hashlib.blake2b(f"{seed}|{index}".encode(), digest_size=8).hexdigest()


def extract(text: str, seed: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Non-streamed parse: (content, tool_calls); unparseable calls leave the whole text as content."""
    if START not in text:
        return text or None, []
    calls: list[dict[str, Any]] = []
    pos = 0
    try:
        while (start := text.find(START, pos)) >= 0:
            end = text.find(END, start)
            body = text[start + len(START) : end if end >= 0 else len(text)]
            obj = json.loads(body)
            calls.append(
                {
                    "id": call_id(seed, len(calls)),
                    "type": "function",
                    "function": {
                        "name": obj["name"],
                        "arguments": json.dumps(obj["arguments"], ensure_ascii=False),
                    },
                }
            )
            if end < 0:
                break
            pos = end + len(END)
    except (json.JSONDecodeError, KeyError, TypeError):
        return text, []
    head = text[: text.find(START)]
    return (head if head.strip() else None), calls


def _overlap(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def _complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


@dataclass
class StreamParser:
    """vLLM's streaming hermes parse of one choice: feed the whole content text so far, get the delta."""

    seed: str
    sent_content: int = 0
    names: list[str] = field(default_factory=list)
    sent_args: list[str] = field(default_factory=list)

    @property
    def called(self) -> bool:
        return bool(self.names)

    def feed(self, text: str) -> tuple[str | None, list[dict[str, Any]]]:
        """(content delta, tool-call deltas) after the content text has grown to ``text``."""
        cut = text.index(START) if START in text else len(text) - _overlap(text, START)
        content = None
        if cut > self.sent_content:
            content, self.sent_content = text[self.sent_content : cut], cut
        deltas: list[dict[str, Any]] = []
        for i, (body, complete) in enumerate(self._regions(text)):
            if i == len(self.names):
                name = _NAME.search(body)
                if name is None:
                    break
                self.names.append(name.group(1))
                self.sent_args.append("")
                deltas.append(
                    {
                        "index": i,
                        "id": call_id(self.seed, i),
                        "type": "function",
                        "function": {"name": name.group(1)},
                    }
                )
            found = _ARGS.search(body)
            if found is None:
                continue
            args = body[found.end() :]
            if complete:
                args = args.rstrip()
                args = args[:-1].rstrip() if args.endswith("}") else args
            if len(args) > len(self.sent_args[i]):
                deltas.append({"index": i, "function": {"arguments": args[len(self.sent_args[i]) :]}})
                self.sent_args[i] = args
        return content, deltas

    @staticmethod
    def _regions(text: str) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        pos = 0
        while (start := text.find(START, pos)) >= 0:
            begin = start + len(START)
            end = text.find(END, begin)
            if end >= 0:
                out.append((text[begin:end].strip(), True))
                pos = end + len(END)
                continue
            raw = text[begin:]
            n = _overlap(raw, END)
            body = (raw[:-n] if n else raw).strip()
            out.append((body, bool(body) and _complete_json(body)))
            break
        return out
