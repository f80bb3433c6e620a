"""Tool calls of the simulated Qwen3 model, and vLLM's ``hermes`` tool parser applied to them (pure).

When is a call made: the request offers tools, ``tool_choice`` is ``auto`` or absent (vLLM started with
``--enable-auto-tool-choice --tool-call-parser hermes``), and the last message (a user turn or a tool result)
holds a trigger ``call:NAME`` for an offered tool, optionally followed by a JSON object of arguments:
``call:get_weather {"city": "Paris"}``. Several triggers make several calls in one turn, in order. The same
trigger drives the tiny real-vLLM model (``scripts/vllm/build_model.py``), so contract tests compare both.

What the model writes (Qwen3 / Hermes format): per call
``<tool_call>\\n{"name": NAME, "arguments": ARGS}\\n</tool_call>``, calls separated by ``\\n``.

How vLLM 0.32 reports it (its ``hermes`` tool parser): :mod:`templates.toolcalls`, shared with the gateway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from templates.toolcalls import END, START

_TRIGGER = re.compile(r"\bcall:([A-Za-z_][\w.-]*)")


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


def planned_calls_from_prompt(prompt: str) -> list[PlannedCall]:
    """The calls for a raw prompt (``/v1/completions``, as the gateway's budget forcing sends): the tools
    listed in the Qwen3 template's ``<tools>`` block, the triggers of the last user or tool-response turn."""
    start, end = prompt.find("<tools>\n"), prompt.find("\n</tools>")
    if start < 0 or end < start:
        return []
    tools = []
    for line in prompt[start + len("<tools>\n") : end].splitlines():
        try:
            tools.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    turn = prompt.rfind("<|im_start|>user\n")
    if turn < 0:
        return []
    text = prompt[turn + len("<|im_start|>user\n") :].split("<|im_end|>", 1)[0]
    return planned_calls([{"role": "user", "content": text}], tools, None)


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
