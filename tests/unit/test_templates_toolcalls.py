"""Hermes / Qwen3 tool-call parsing (templates/toolcalls.py): the streamed parse of every chunking of a model's
output reassembles to the non-streamed parse, as vLLM's hermes parser promises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.proxy.toolcalls import ToolCallAssembler, normalize_tool_deltas
from templates.toolcalls import StreamParser, extract

CALL_A = '<tool_call>\n{"name": "search", "arguments": {"q": "caf\u00e9 \\"du\\" {monde}", "k": [1, 2]}}\n</tool_call>'
CALL_B = '<tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call>'
TEXTS = [
    CALL_A,
    f"Let me check.\n\n{CALL_A}\n{CALL_B}",
    f"\n\n{CALL_B}",
    "no calls here, just <tool an answer",
]


def stream(text: str, cuts: list[int]) -> tuple[str | None, list[dict[str, Any]]]:
    parser = StreamParser("seed")
    points = sorted({c for c in cuts if 0 < c < len(text)})
    content = ""
    calls = ToolCallAssembler()
    for end in [*points, len(text)]:
        piece_content, deltas = parser.feed(text[:end])
        content += piece_content or ""
        delta: dict[str, Any] = {"tool_calls": deltas}
        normalize_tool_deltas(delta)
        calls.feed(delta)
    # non-streamed, whitespace before the first call is no content; streamed it was sent (as vLLM does)
    return (content if content.strip() else None), calls.calls()


@pytest.mark.parametrize("text", TEXTS)
@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=40))
def test_stream_equals_one_shot(text: str, cuts: list[int]) -> None:
    assert stream(text, cuts) == extract(text, "seed")


def test_one_shot_shape() -> None:
    content, calls = extract(f"Let me check.\n\n{CALL_A}\n{CALL_B}", "s")
    assert content == "Let me check.\n\n"
    assert [c["function"]["name"] for c in calls] == ["search", "get_weather"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"q": 'caf\u00e9 "du" {monde}', "k": [1, 2]}
    assert calls[1]["function"]["arguments"] == "{}"
    assert all(c["id"].startswith("chatcmpl-tool-") and c["type"] == "function" for c in calls)
    assert len({c["id"] for c in calls}) == 2


def test_unterminated_last_call_is_still_a_call_and_bad_json_is_content() -> None:
    _, calls = extract('<tool_call>\n{"name": "f", "arguments": {"x": 1}}', "s")
    assert [c["function"]["arguments"] for c in calls] == ['{"x": 1}']
    assert extract("<tool_call>\n{not json}\n</tool_call>", "s") == (
        "<tool_call>\n{not json}\n</tool_call>",
        [],
    )
