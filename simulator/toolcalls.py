"""Tool calls of the simulated Qwen3 model, and vLLM's ``hermes`` tool parser applied to them (pure).

When is a call made: the request offers tools, ``tool_choice`` is ``auto`` or absent (vLLM started with
``--enable-auto-tool-choice --tool-call-parser hermes``), and the last message (a user turn or a tool result)
holds a trigger ``call:NAME`` for an offered tool, optionally followed by a JSON object of arguments:
``call:get_weather {"city": "Paris"}``. Several triggers make several calls in one turn, in order. The same
trigger drives the tiny real-vLLM model (``scripts/vllm/build_model.py``), so contract tests compare both.

What the model writes (Qwen3 / Hermes format): per call
``<tool_call>\\n{"name": NAME, "arguments": ARGS}\\n</tool_call>``, calls separated by ``\\n``.

How vLLM 0.32 reports it (``vllm/tool_parsers/hermes_tool_parser.py``): non-streamed, ``content`` is the text
before the first ``<tool_call>`` (None when empty), each call gets ``id`` ``chatcmpl-tool-…``, ``type``
``function``, ``arguments`` re-serialised with ``json.dumps(..., ensure_ascii=False)``, and ``finish_reason``
``tool_calls``. Streamed, the parser re-reads the whole content text after every token: content before the
first tag is sent (holding back a possible partial tag), a call's first delta carries ``index``, ``id``,
``type`` and ``function.name`` once its name is complete, later deltas carry ``function.arguments`` fragments
(the raw argument text, minus the closing brace of the outer object once the call's JSON is complete).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

START = "<tool_call>"
END = "</tool_call>"
_TRIGGER = re.compile(r"\bcall:([A-Za-z_][\w.-]*)")
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_ARGS = re.compile(r'"arguments"\s*:\s*')


@dataclass(frozen=True)
class PlannedCall:
    """One call the model will write."""

    name: str
    arguments: Any


def _offered(tools: Sequence[Mapping[str, Any]] | None) -> list[str]:
    names = []
    for tool in tools or ():
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def planned_calls(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any
) -> list[PlannedCall]:
    """The calls the model makes for this request (empty: it answers in text)."""
    if tool_choice not in (None, "auto") or not messages:
        return []
    names = set(_offered(tools))
    last = messages[-1]
    if not names or last.get("role") not in ("user", "tool"):
        return []
    text = _text(last.get("content"))
    decoder = json.JSONDecoder()
    calls = []
    for match in _TRIGGER.finditer(text):
        if match.group(1) not in names:
            continue
        rest = text[match.end() :]
        stripped = rest.lstrip(" ")
        args: Any = {}
        if stripped.startswith("{"):
            try:
                args, _ = decoder.raw_decode(stripped)
            except json.JSONDecodeError:
                args = {}
        calls.append(PlannedCall(match.group(1), args if isinstance(args, dict) else {}))
    return calls


def call_text(calls: Sequence[PlannedCall]) -> str:
    """What the model writes for ``calls``."""
    return "\n".join(
        f"{START}\n{json.dumps({'name': c.name, 'arguments': c.arguments}, ensure_ascii=False)}\n{END}"
        for c in calls
    )


def call_id(seed: str, index: int) -> str:
    """A deterministic id in vLLM's shape (``chatcmpl-tool-`` + 32 hex digits)."""
    return "chatcmpl-tool-" + hashlib.blake2b(f"{seed}|{index}".encode(), digest_size=16).hexdigest()


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
    return head or None, calls


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
