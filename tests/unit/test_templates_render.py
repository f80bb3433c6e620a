"""Golden request rewrites per family: effort x budget x vLLM version → exact upstream body."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from templates.effort import EFFORT_LEVELS, EffortLevel
from templates.errors import (
    InvalidEffortError,
    InvalidRequestError,
    TemplatesError,
    UnknownFamilyError,
    UnsupportedBackendError,
    UnsupportedEffortError,
)
from templates.registry import known_families
from templates.render import render_chat

USER = [{"role": "user", "content": "Prove that 17 is prime."}]
QWEN_THINK = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}
QWEN_INSTRUCT = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0}
NO_SAMPLING: dict[str, Any] = {}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": copy.deepcopy(USER), **extra}


# (family, effort) -> (thinking, applied_effort, chat_template_kwargs or None, extra top-level fields)
# at vLLM 0.32, native budgets on, router budget 1024 for every effort.
def _hybrid(key: str, on: dict[str, Any], off: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    table: dict[str, tuple[Any, ...]] = {"none": (False, "none", {key: False}, off)}
    for level in EFFORT_LEVELS[1:]:
        table[level] = (True, level, {key: True}, {**on, "thinking_token_budget": 1024})
    return table


def _thinking_only(kwargs: dict[str, Any] | None, sampling: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    table: dict[str, tuple[Any, ...]] = {
        "none": (True, "none", kwargs, {**sampling, "thinking_token_budget": 0})
    }
    for level in EFFORT_LEVELS[1:]:
        table[level] = (True, level, kwargs, {**sampling, "thinking_token_budget": 1024})
    return table


_GPT = {"temperature": 1.0, "top_p": 1.0}
_SMOL = {"temperature": 0.6, "top_p": 0.95}
MATRIX: dict[str, dict[str, tuple[Any, ...]]] = {
    "qwen3": _hybrid("enable_thinking", QWEN_THINK, QWEN_INSTRUCT),
    "glm-4.5": _hybrid("enable_thinking", NO_SAMPLING, NO_SAMPLING),
    "smollm3": _hybrid("enable_thinking", _SMOL, _SMOL),
    "deepseek-v3.1": _hybrid("thinking", NO_SAMPLING, NO_SAMPLING),
    "qwen3-thinking-2507": _thinking_only({"enable_thinking": True}, QWEN_THINK),
    "deepseek-r1": _thinking_only(None, {"temperature": 0.6}),
    "qwen3-instruct-2507": {"none": (False, "none", {"enable_thinking": False}, QWEN_INSTRUCT)},
    "gpt-oss": {
        level: (True, applied, None, {**_GPT, "reasoning_effort": applied})
        for level, applied in zip(
            EFFORT_LEVELS, ("low", "low", "low", "medium", "high", "high", "high"), strict=True
        )
    },
    "granite": {
        "none": (False, "none", {"thinking": False}, NO_SAMPLING),
        **{level: (True, "max", {"thinking": True}, NO_SAMPLING) for level in EFFORT_LEVELS[1:]},
    },
}
CASES = [
    pytest.param(family, effort, expected, id=f"{family}-{effort}")
    for family, rows in MATRIX.items()
    for effort, expected in rows.items()
]


@pytest.mark.parametrize(("family", "effort", "expected"), CASES)
def test_golden_matrix_native_budget(family: str, effort: EffortLevel, expected: tuple[Any, ...]) -> None:
    thinking, applied, kwargs, extra = expected
    rendered = render_chat(family, body(), effort, 1024)
    want = body(**extra)
    if kwargs is not None:
        want["chat_template_kwargs"] = kwargs
    assert rendered.body == want
    assert (rendered.thinking, rendered.applied_effort) == (thinking, applied)
    assert rendered.budget == want.get("thinking_token_budget")
    assert rendered.forcing_budget is None


@pytest.mark.parametrize(("family", "effort"), [("qwen3-instruct-2507", e) for e in EFFORT_LEVELS[1:]])
def test_instruct_only_refuses_thinking(family: str, effort: EffortLevel) -> None:
    with pytest.raises(UnsupportedEffortError, match="instruct-only") as info:
        render_chat(family, body(), effort, None)
    assert isinstance(info.value, ValueError)


FORCING_FAMILIES = ["qwen3", "qwen3-thinking-2507", "deepseek-r1", "deepseek-v3.1", "glm-4.5", "smollm3"]


@pytest.mark.parametrize("family", FORCING_FAMILIES)
@pytest.mark.parametrize(
    ("version", "native"),
    [
        pytest.param((0, 18, 0), True, id="vllm-0.18"),
        pytest.param((0, 19, 0), True, id="vllm-0.19"),
        pytest.param((0, 32, 0), False, id="native-off"),
    ],
)
def test_budget_falls_back_to_forcing(family: str, version: tuple[int, int, int], native: bool) -> None:
    rendered = render_chat(
        family, body(thinking_token_budget=99), "medium", 4096, vllm_version=version, native_budget=native
    )
    assert "thinking_token_budget" not in rendered.body
    assert (rendered.budget, rendered.forcing_budget, rendered.applied_effort) == (None, 4096, "medium")
    assert any("enforced by forcing" in note for note in rendered.notes)
    assert any("thinking_token_budget 99 removed" in note for note in rendered.notes)


def test_thinking_only_none_forces_budget_zero_without_native_support() -> None:
    rendered = render_chat("qwen3-thinking-2507", body(), "none", None, vllm_version=(0, 18, 0))
    assert (rendered.applied_effort, rendered.thinking, rendered.forcing_budget) == ("none", True, 0)
    assert any("quality unverified" in note for note in rendered.notes)


@pytest.mark.parametrize("effort", ["xhigh", "max", "high"])
def test_no_budget_means_no_budget_field(effort: EffortLevel) -> None:
    rendered = render_chat("qwen3", body(), effort, None)
    assert "thinking_token_budget" not in rendered.body
    assert (rendered.budget, rendered.forcing_budget, rendered.applied_effort) == (None, None, effort)


def test_hybrid_off_ignores_budget_with_a_note() -> None:
    rendered = render_chat("qwen3", body(), "none", 512)
    assert rendered.budget is None and rendered.forcing_budget is None
    assert "budget 512 ignored: thinking is off" in rendered.notes


GPT_MAP = {
    (0, 10, 1): ("low", "low", "low", "medium", "high", "high", "high"),
    (0, 18, 0): ("low", "low", "low", "medium", "high", "high", "high"),
    (0, 32, 0): ("low", "low", "low", "medium", "high", "high", "high"),
}


@pytest.mark.parametrize("version", list(GPT_MAP))
@pytest.mark.parametrize("index", range(len(EFFORT_LEVELS)), ids=list(EFFORT_LEVELS))
def test_gpt_oss_reasoning_effort_down_mapping(version: tuple[int, int, int], index: int) -> None:
    effort = EFFORT_LEVELS[index]
    rendered = render_chat("gpt-oss", body(reasoning_effort="max"), effort, 2048, vllm_version=version)
    assert rendered.body["reasoning_effort"] == GPT_MAP[version][index] == rendered.applied_effort
    assert rendered.budget is None and rendered.forcing_budget is None
    assert any("budget 2048 not enforceable" in note for note in rendered.notes)


def test_gpt_oss_needs_reasoning_effort_field() -> None:
    with pytest.raises(UnsupportedBackendError, match=r"0\.10\.0"):
        render_chat("gpt-oss", body(), "high", None, vllm_version=(0, 10, 0))


@pytest.mark.parametrize("version", [(0, 10, 1), (0, 18, 0), (0, 32, 0)])
@pytest.mark.parametrize("family", ["qwen3", "deepseek-r1", "qwen3-instruct-2507"])
def test_reasoning_effort_never_sent_for_kwarg_families(family: str, version: tuple[int, int, int]) -> None:
    rendered = render_chat(family, body(reasoning_effort="high"), "none", None, vllm_version=version)
    assert "reasoning_effort" not in rendered.body
    assert any(note.startswith("reasoning_effort 'high' removed") for note in rendered.notes)


def test_client_sampling_wins_and_none_counts_as_unset() -> None:
    rendered = render_chat("qwen3", body(temperature=0, top_k=None, top_p=0.5), "high", None)
    assert rendered.body["temperature"] == 0
    assert rendered.body["top_p"] == 0.5
    assert rendered.body["top_k"] == 20 and rendered.body["min_p"] == 0.0
    assert any("against greedy decoding" in note for note in rendered.notes)


def test_switch_overwrites_client_kwarg_and_keeps_other_kwargs() -> None:
    client = body(chat_template_kwargs={"enable_thinking": True, "custom": 1})
    rendered = render_chat("qwen3", client, "none", None)
    assert rendered.body["chat_template_kwargs"] == {"enable_thinking": False, "custom": 1}
    assert "chat_template_kwargs.enable_thinking=True overwritten with False" in rendered.notes
    assert client["chat_template_kwargs"] == {"enable_thinking": True, "custom": 1}


def test_deepseek_v31_alias() -> None:
    client = body(chat_template_kwargs={"enable_thinking": False})
    rendered = render_chat("deepseek-v3.1", client, "high", None)
    assert rendered.body["chat_template_kwargs"] == {"enable_thinking": True, "thinking": True}
    assert "chat_template_kwargs.enable_thinking=False overwritten with True" in rendered.notes


def test_unknown_fields_pass_through_and_input_is_not_mutated() -> None:
    client = body(stream=True, stream_options={"include_usage": True}, x_vendor={"a": [1, 2]}, max_tokens=77)
    client["messages"] = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "<think>\nold\n</think>\n\na1", "reasoning": "old", "name": "bot"},
        {"role": "user", "content": "q2"},
    ]
    snapshot = copy.deepcopy(client)
    rendered = render_chat("qwen3", client, "low", 1024)
    assert client == snapshot
    for key in ("stream", "stream_options", "x_vendor", "max_tokens", "model"):
        assert rendered.body[key] == client[key]
    assert rendered.body["messages"][1] == {"role": "assistant", "content": "a1", "name": "bot"}
    rendered.body["x_vendor"]["a"].append(3)
    assert client["x_vendor"] == {"a": [1, 2]}


def test_exact_golden_body_qwen3_high_native() -> None:
    rendered = render_chat("qwen3", {"model": "qwen", "messages": USER, "max_tokens": 8000}, "high", 16384)
    assert rendered.body == {
        "model": "qwen",
        "messages": USER,
        "max_tokens": 8000,
        "chat_template_kwargs": {"enable_thinking": True},
        "thinking_token_budget": 16384,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
        "min_p": 0.0,
    }
    assert rendered.notes == (
        "sampling defaults (thinking): temperature=0.6, top_p=0.95, top_k=20, min_p=0.0",
    )


def test_smollm3_system_flags_removed() -> None:
    client = {"model": "s", "messages": [{"role": "system", "content": "/no_think Be brief."}, *USER]}
    rendered = render_chat("smollm3", client, "high", None)
    assert rendered.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert rendered.body["chat_template_kwargs"] == {"enable_thinking": True}


def test_granite_thinking_instruction_added_to_client_system_message() -> None:
    client = {"model": "g", "messages": [{"role": "system", "content": "You are terse."}, *USER]}
    rendered = render_chat("granite", client, "high", None)
    system = rendered.body["messages"][0]["content"]
    assert system.startswith("You are terse.\n\nWrite your thoughts between <think></think>")
    off = render_chat("granite", client, "none", None)
    assert off.body["messages"][0]["content"] == "You are terse."


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"family": "nope"}, UnknownFamilyError, "known families: deepseek-r1", id="family"),
        pytest.param({"effort": "HIGH"}, InvalidEffortError, "unknown effort", id="effort"),
        pytest.param({"budget": -1}, InvalidRequestError, "non-negative", id="negative-budget"),
        pytest.param({"budget": True}, InvalidRequestError, "non-negative", id="bool-budget"),
        pytest.param({"body": []}, InvalidRequestError, "JSON object", id="body-list"),
        pytest.param({"body": {"model": "m"}}, InvalidRequestError, "messages", id="no-messages"),
        pytest.param(
            {"body": {"messages": [{"content": "x"}]}}, InvalidRequestError, r"messages\[0\]", id="role"
        ),
        pytest.param(
            {"body": body(chat_template_kwargs=[1])}, InvalidRequestError, "chat_template_kwargs", id="kwargs"
        ),
        pytest.param({"vllm_version": "0.32"}, UnsupportedBackendError, "major, minor, patch", id="version"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"family": "qwen3", "body": body(), "effort": "high", "budget": None, **kwargs}
    version = args.pop("vllm_version", (0, 32, 0))
    with pytest.raises(error, match=match):
        render_chat(args["family"], args["body"], args["effort"], args["budget"], vllm_version=version)


def _agent_body() -> dict[str, Any]:
    """A body every rule touches: system flags, client kwargs and effort, a tool loop with old reasoning."""
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief. /no_think"},
            {"role": "user", "content": [{"type": "text", "text": "fix the bug"}]},
            {
                "role": "assistant",
                "content": "<think>\nplan\n</think>\n\nreading",
                "reasoning_content": "plan",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "read", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "def f(): pass"},
        ],
        "tools": [{"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}}],
        "chat_template_kwargs": {"enable_thinking": True, "x": [1]},
        "reasoning_effort": "high",
        "thinking_token_budget": 5,
        "x_vendor": {"a": [1, 2]},
    }


@pytest.mark.parametrize("family", known_families())
@pytest.mark.parametrize("effort", ["none", "low", "high"])
def test_shared_input_renders_the_same_and_never_mutates(family: str, effort: EffortLevel) -> None:
    """Issue 18: ``share_input`` (the gateway's hot path) skips the deep copy; same body, input untouched."""
    client = _agent_body()
    snapshot = copy.deepcopy(client)
    try:
        copied = render_chat(family, client, effort, 1024)
    except TemplatesError:
        with pytest.raises(TemplatesError):
            render_chat(family, client, effort, 1024, share_input=True)
        return
    shared = render_chat(family, client, effort, 1024, share_input=True)
    assert client == snapshot
    assert shared == copied
