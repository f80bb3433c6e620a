"""The test tools: one definition for the tiny real-vLLM model's training (``build_model.py`` here), the
e2e and contract tests, and the stream recorder (``scripts/record/tool_streams.py``).

A trigger ``call:NAME {ARGS}`` in the last user turn or tool result makes the model call NAME with ARGS (the
simulator follows the same rule, ``simulator/toolcalls.py``). The tiny model memorises one fixed call per
trigger (it does not copy arbitrary arguments), so only the calls in :data:`CALLS` work on real vLLM. A
trigger inside a tool result chains the loop: :data:`CHAIN` is call ``search`` -> result -> call
``get_weather`` -> result -> answer.

Importable as ``scripts.vllm.tiny_tools`` from the repository root and as ``tiny_tools`` next to
``build_model.py`` (which runs in the vLLM venv). Pure data: editing it changes what the model learns, and
``scripts/vllm/setup.sh`` hashes it with ``build_model.py`` so the model is rebuilt.
"""

from __future__ import annotations

import json
from typing import Any

#: What the model answers in text (no call due).
ANSWER = "Hello! I am a tiny test model."

#: name -> (description, the one argument object the model writes, its JSON schema properties)
_SPECS: dict[str, tuple[str, dict[str, str]]] = {
    "search": ("Search the web.", {"q": "capital of France"}),
    "get_weather": ("Current weather in a city.", {"city": "Paris"}),
}

#: The calls the model knows: (name, arguments), in the order the tools are offered.
CALLS: list[tuple[str, dict[str, str]]] = [(name, args) for name, (_, args) in _SPECS.items()]


def trigger(name: str) -> str:
    """The trigger text for the tool ``name`` (with the arguments the model writes for it)."""
    return f"call:{name} {json.dumps(_SPECS[name][1], ensure_ascii=False)}"


#: The trigger texts.
SEARCH = trigger("search")
WEATHER = trigger("get_weather")
#: trigger text -> the call it makes
TRIGGERS: dict[str, tuple[str, dict[str, str]]] = {trigger(name): (name, args) for name, args in CALLS}


def _schema(args: dict[str, str]) -> dict[str, Any]:
    return {"type": "object", "properties": {k: {"type": "string"} for k in args}, "required": list(args)}


#: The tools in the chat-completions shape (what the model is trained with; the other shapes below are
#: what the Responses and Messages front doors translate into this one).
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {"name": name, "description": desc, "parameters": _schema(args)},
    }
    for name, (desc, args) in _SPECS.items()
]
#: The same tools in the Responses shape (``/v1/responses``).
RESPONSES_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": name, "description": desc, "parameters": _schema(args)}
    for name, (desc, args) in _SPECS.items()
]
#: The same tools in the Messages shape (``/v1/messages``).
MESSAGES_TOOLS: list[dict[str, Any]] = [
    {"name": name, "description": desc, "input_schema": _schema(args)}
    for name, (desc, args) in _SPECS.items()
]

#: Plain tool results (no trigger in them: the model answers after them).
RESULTS = ["Paris", "18 degrees, light rain", "no results", "Paris is the capital of France."]

#: The chained loop the e2e tests run: (the task, then per step the expected call and the result sent back).
#: The first result holds the next trigger, so the model calls ``get_weather`` after ``search``; after the
#: second result it answers :data:`ANSWER` (three model steps).
CHAIN_TASK = SEARCH
CHAIN: list[tuple[tuple[str, dict[str, str]], str]] = [
    (TRIGGERS[SEARCH], f"Paris. {WEATHER}"),
    (TRIGGERS[WEATHER], "18 degrees, light rain"),
]
