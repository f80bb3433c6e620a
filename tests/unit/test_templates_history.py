"""History reasoning: stripped before the last user query, kept (both keys) inside the tool loop."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from templates.effort import EffortLevel
from templates.history import last_query_index
from templates.prompt import render_prompt, template_resource
from templates.registry import get_family
from templates.render import render_chat

CALL = {"id": "c1", "type": "function", "function": {"name": "calc", "arguments": '{"x": 1}'}}


def conversation() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer", "reasoning": "old thought"},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "<think>\nloop thought 1\n</think>\n\n", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
        {"role": "assistant", "content": "", "reasoning_content": "loop thought 2", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
    ]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param(conversation(), 2, id="tool-loop"),
        pytest.param([{"role": "user", "content": "a"}], 0, id="single"),
        pytest.param(
            [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}], 1, id="no-user"
        ),
        pytest.param(
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "<tool_response>\n1\n</tool_response>"},
            ],
            0,
            id="wrapped-tool-response-is-not-a-query",
        ),
    ],
)
def test_last_query_index(messages: list[dict[str, Any]], expected: int) -> None:
    assert last_query_index(messages) == expected


def test_strip_before_last_query_keep_in_tool_loop() -> None:
    rendered = render_chat("qwen3", {"messages": conversation()}, "high", None)
    out = rendered.body["messages"]
    assert out[1] == {"role": "assistant", "content": "first answer"}
    assert out[3] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [CALL],
        "reasoning": "loop thought 1",
        "reasoning_content": "loop thought 1",
    }
    assert out[5]["reasoning"] == out[5]["reasoning_content"] == "loop thought 2"
    assert "history: dropped reasoning of 1 assistant turn(s)" in rendered.notes[-2]
    assert rendered.notes[-1] == "history: kept reasoning of 2 tool-loop assistant turn(s)"


def test_finished_turns_are_all_stripped_after_a_new_user_message() -> None:
    messages = [*conversation(), {"role": "assistant", "content": "done", "reasoning": "r"}]
    messages.append({"role": "user", "content": "third"})
    out = render_chat("qwen3", {"messages": messages}, "high", None).body["messages"]
    assert not any("reasoning" in m or "reasoning_content" in m for m in out)
    assert not any("<think>" in (m.get("content") or "") for m in out)


def test_old_vllm_keeps_tool_loop_reasoning_inline() -> None:
    out = render_chat("qwen3", {"messages": conversation()}, "high", None, vllm_version=(0, 11, 0)).body[
        "messages"
    ]
    assert out[3]["content"] == "<think>\nloop thought 1\n</think>\n\n"
    assert "reasoning" not in out[3] and "reasoning_content" not in out[3]
    assert out[1] == {"role": "assistant", "content": "first answer"}


@pytest.mark.parametrize("family", ["deepseek-r1", "smollm3", "granite", "qwen3-instruct-2507"])
def test_answer_only_families_strip_everything(family: str) -> None:
    effort: EffortLevel = "none" if family == "qwen3-instruct-2507" else "high"
    rendered = render_chat(family, {"messages": conversation()}, effort, None)
    out = rendered.body["messages"]
    assert not any("reasoning" in m or "reasoning_content" in m for m in out)
    assert out[3]["content"] == ""
    assert "history: dropped reasoning of 3 assistant turn(s)" in " ".join(rendered.notes)


@pytest.mark.parametrize("family", ["qwen3", "qwen3-thinking-2507"])
def test_rewritten_history_renders_reasoning_only_in_the_tool_loop(family: str) -> None:
    fam = get_family(family)
    source = resources.files("templates").joinpath(template_resource(fam)).read_text(encoding="utf-8")
    rendered = render_chat(fam, {"messages": conversation()}, "high", None)
    prompt = render_prompt(source, rendered.body["messages"], enable_thinking=True)
    assert "old thought" not in prompt
    assert "<|im_start|>assistant\nfirst answer<|im_end|>" in prompt
    assert "<|im_start|>assistant\n<think>\nloop thought 1\n</think>\n\n<tool_call>" in prompt
    assert "<think>\nloop thought 2\n</think>\n\n<tool_call>" in prompt


def test_without_any_user_message_every_turn_is_history() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "a", "reasoning": "r"},
    ]
    rendered = render_chat("qwen3", {"messages": messages}, "high", None)
    assert rendered.body["messages"][1] == {"role": "assistant", "content": "a"}


# ---- reasoning inside tool loops, per family -----------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}]


def interjected_loop() -> list[dict[str, Any]]:
    """A tool loop in which the user sends a message before the model has answered."""
    return [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer", "reasoning": "old thought"},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "", "reasoning": "loop thought 1", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
        {"role": "user", "content": "also use x = 5"},
        {"role": "assistant", "content": "", "reasoning": "loop thought 2", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
    ]


def kept(messages: list[dict[str, Any]]) -> list[str]:
    return [m["reasoning"] for m in messages if m.get("reasoning")]


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        pytest.param("qwen3", ["loop thought 2"], id="qwen3-keeps-the-current-loop-only"),
        pytest.param("glm-4.5", ["loop thought 2"], id="glm45-interleaves-within-the-loop"),
        pytest.param("gpt-oss", ["loop thought 1", "loop thought 2"], id="gpt-oss-keeps-the-whole-turn"),
        pytest.param("deepseek-r1", [], id="r1-answer-only"),
    ],
)
def test_tool_loop_reasoning_rule_per_family(family: str, expected: list[str]) -> None:
    rendered = render_chat(family, {"messages": interjected_loop()}, "high", None)
    assert kept(rendered.body["messages"]) == expected


def test_gpt_oss_drops_analysis_before_its_last_final_answer() -> None:
    messages = [*conversation(), {"role": "assistant", "content": "the answer is 3", "reasoning": "r"}]
    messages.append({"role": "user", "content": "thanks, now 4?"})
    rendered = render_chat("gpt-oss", {"messages": messages}, "high", None)
    assert kept(rendered.body["messages"]) == []
    assert "before the last final answer" in " ".join(rendered.notes)


def test_glm_old_vllm_interleaves_inline() -> None:
    out = render_chat("glm-4.5", {"messages": conversation()}, "high", None, vllm_version=(0, 10, 1)).body
    assert out["messages"][5]["content"] == "<think>\nloop thought 2\n</think>\n\n"


@pytest.mark.parametrize(
    ("extra", "thinks"),
    [
        pytest.param({"tools": TOOLS}, False, id="tools-offered"),
        pytest.param({"tools": TOOLS, "tool_choice": "none"}, True, id="tool-choice-none"),
        pytest.param({}, True, id="no-tools"),
    ],
)
def test_deepseek_v31_answers_tool_steps_without_thinking(extra: dict[str, Any], thinks: bool) -> None:
    rendered = render_chat("deepseek-v3.1", {"messages": conversation(), **extra}, "high", 4096)
    assert rendered.thinking is thinks
    assert rendered.body["chat_template_kwargs"] == {"thinking": thinks}
    assert ("thinking_token_budget" in rendered.body) is thinks
    note = "deepseek-v3.1: tool step answered in non-thinking mode (effort high -> none"
    assert any(n.startswith(note) for n in rendered.notes) is not thinks
    assert rendered.applied_effort == ("high" if thinks else "none")


@pytest.mark.parametrize("family", ["qwen3", "glm-4.5", "gpt-oss"])
def test_other_families_keep_thinking_with_tools(family: str) -> None:
    rendered = render_chat(family, {"messages": conversation(), "tools": TOOLS}, "high", None)
    assert rendered.thinking
    assert not any("non-thinking" in n for n in rendered.notes)
