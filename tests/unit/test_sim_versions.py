"""Unit tests of the simulator's vLLM version profiles, request adaptation, parser generations and shapes."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.commands import sim as sim_command
from simulator.compat import BUDGET_NEEDS_CONFIG, adapt_chat_body, adapt_completion_body, filter_history
from simulator.config import SimConfig
from simulator.generation import GenerationRequest, Phase, generate
from simulator.parser import message_parts, stream_phase
from simulator.protocol import SimError
from simulator.responses import Envelope, chat_body
from simulator.tokenizer import THINK_END_ID, SimTokenizer
from simulator.versions import (
    BudgetSupport,
    HistoryRead,
    VersionError,
    VersionProfile,
    parse_version,
)

IGN, CFG, ENF = BudgetSupport.IGNORED, BudgetSupport.NEEDS_CONFIG, BudgetSupport.ENFORCED
DROP, EITHER, RONLY = HistoryRead.DROPPED, HistoryRead.EITHER, HistoryRead.REASONING_ONLY
RC, R, BOTH = ("reasoning_content",), ("reasoning",), ("reasoning", "reasoning_content")
LMH = ("low", "medium", "high")
NLMH = ("none", "low", "medium", "high")
FULL = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

# version: keys, efforts, effort sets thinking, budget chat, budget completions, usage details,
#          history chat, history tokenize, return_token_ids, parser needs both tags
EXPECTED: dict[str, tuple[Any, ...]] = {
    "0.10.0": (RC, None, False, IGN, IGN, False, DROP, DROP, False, True),
    "0.10.1": (RC, LMH, False, IGN, IGN, False, DROP, DROP, False, True),
    "0.11.0": (RC, LMH, False, IGN, IGN, False, DROP, DROP, True, True),
    "0.12.0": (BOTH, LMH, False, IGN, IGN, False, EITHER, EITHER, True, True),
    "0.18.0": (R, NLMH, False, IGN, IGN, False, RONLY, RONLY, True, False),
    "0.19.0": (R, NLMH, False, CFG, IGN, False, RONLY, RONLY, True, False),
    "0.20.0": (R, NLMH, False, ENF, IGN, False, RONLY, RONLY, True, False),
    "0.26.0": (R, FULL, True, ENF, ENF, False, EITHER, RONLY, True, False),
    "0.32.0": (R, FULL, True, ENF, ENF, True, EITHER, RONLY, True, False),
}
VERSIONS = list(EXPECTED)


def _view(p: VersionProfile) -> tuple[Any, ...]:
    return (
        p.reasoning_keys,
        p.efforts,
        p.effort_sets_thinking,
        p.budget_chat,
        p.budget_completions,
        p.reasoning_tokens_details,
        p.history_chat,
        p.history_tokenize,
        p.return_token_ids,
        p.parser_needs_both_tags,
    )


@pytest.fixture(scope="module")
def tok() -> SimTokenizer:
    return SimTokenizer.load()


@pytest.mark.parametrize("version", VERSIONS)
def test_profile_per_version(version: str) -> None:
    assert _view(VersionProfile.for_version(version)) == EXPECTED[version]


@pytest.mark.parametrize(
    ("version", "attr", "value"),
    [
        ("0.11.1", "reasoning_keys", BOTH),
        ("0.15.9", "reasoning_keys", BOTH),
        ("0.16.0", "reasoning_keys", R),
        ("0.15.1", "history_chat", EITHER),
        ("0.16.0", "history_chat", RONLY),
        ("0.21.0", "history_chat", RONLY),
        ("0.22.0", "history_chat", EITHER),
        ("0.17.9", "efforts", LMH),
        ("0.22.0", "efforts", FULL),
        ("0.21.3", "effort_sets_thinking", False),
        ("0.21.0", "budget_completions", IGN),
        ("0.22.0", "budget_completions", ENF),
        ("0.27.5", "reasoning_tokens_details", False),
        ("0.28.0", "reasoning_tokens_details", True),
        ("0.10.2", "return_token_ids", True),
        ("0.16.5", "parser_needs_both_tags", True),
        ("0.17.0", "parser_needs_both_tags", False),
        ("0.10.0", "include_reasoning", False),
        ("0.10.1", "include_reasoning", True),
    ],
)
def test_profile_boundaries(version: str, attr: str, value: Any) -> None:
    assert getattr(VersionProfile.for_version(version), attr) == value


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("0.32.0", (0, 32, 0)),
        ("0.11", (0, 11, 0)),
        ("v0.10.2", (0, 10, 2)),
        ("0.10.2rc1", (0, 10, 2)),
        ("0.11.1.dev3+g1234abc", (0, 11, 1)),
        ("0.32.0+cpu", (0, 32, 0)),
        (" 1.0.0 ", (1, 0, 0)),
    ],
)
def test_parse_version(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize("text", ["", "latest", "0", "0.x.1", "0.32.0.1", "0.32.0 beta", "32"])
def test_bad_versions_are_clear_config_errors(text: str) -> None:
    with pytest.raises(VersionError, match="not a vLLM release number"):
        parse_version(text)
    with pytest.raises(ValidationError, match="vllm_version"):
        SimConfig(vllm_version=text)


def test_cli_flag_sets_version() -> None:
    parser = argparse.ArgumentParser()
    sim_command.add_arguments(parser)
    assert sim_command.config_from_args(parser.parse_args([])).vllm_version == "0.32.0"
    cfg = sim_command.config_from_args(parser.parse_args(["--vllm-version", "0.19.0"]))
    assert cfg.vllm_version == "0.19.0"
    assert sim_command.run(parser.parse_args(["--vllm-version", "new"])) == 2


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("effort", FULL)
def test_effort_acceptance(version: str, effort: str) -> None:
    profile = VersionProfile.for_version(version)
    accepted = EXPECTED[version][1]
    body = {"messages": [], "reasoning_effort": effort}
    if accepted is not None and effort not in accepted:
        with pytest.raises(SimError) as info:
            adapt_chat_body(profile, body)
        assert (info.value.status, info.value.param) == (400, "reasoning_effort")
        assert "'low', 'medium'" in info.value.message
    else:
        out = adapt_chat_body(profile, body)
        assert ("reasoning_effort" in out) is (accepted is not None)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("budget", [3, -7, "x"])
def test_budget_field_per_version(version: str, budget: Any) -> None:
    profile = VersionProfile.for_version(version)
    chat_mode, completion_mode = EXPECTED[version][3], EXPECTED[version][4]
    body = {"messages": [], "thinking_token_budget": budget}
    if chat_mode is CFG:
        with pytest.raises(SimError) as info:
            adapt_chat_body(profile, body)
        assert info.value.status == 400 and info.value.message == BUDGET_NEEDS_CONFIG
    else:
        kept = "thinking_token_budget" in adapt_chat_body(profile, body)
        assert kept is (chat_mode is ENF)  # ENF: validated later by the request model
    kept = "thinking_token_budget" in adapt_completion_body(profile, {"prompt": "x", **body})
    assert kept is (completion_mode is ENF)


@pytest.mark.parametrize("version", VERSIONS)
def test_return_token_ids_and_include_reasoning(version: str) -> None:
    profile = VersionProfile.for_version(version)
    completion = adapt_completion_body(profile, {"prompt": "x", "return_token_ids": True})
    assert ("return_token_ids" in completion) is EXPECTED[version][8]
    chat = adapt_chat_body(profile, {"messages": [], "include_reasoning": False})
    assert ("include_reasoning" in chat) is (version != "0.10.0")


@pytest.mark.parametrize(
    ("read", "kept"),
    [(DROP, set()), (EITHER, {"reasoning", "reasoning_content"}), (RONLY, {"reasoning"})],
)
def test_filter_history(read: HistoryRead, kept: set[str]) -> None:
    msgs = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning": "r", "reasoning_content": "rc"},
    ]
    out = filter_history(read, msgs)
    assert set(out[1]) == {"role", "content"} | kept
    assert out[0] == msgs[0] and "reasoning_content" in msgs[1]  # input not mutated


def _gen(tok: SimTokenizer, prompt: str, max_tokens: int = 200) -> Any:
    req = GenerationRequest(
        prompt_ids=tok.encode(prompt),
        thinks=True,
        seed=0,
        reasoning_words=12,
        answer_words=5,
        max_tokens=max_tokens,
    )
    return generate(tok, req)


FRESH = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "old", "new"),
    [
        pytest.param(FRESH, 200, "split", "split", id="both-tags"),
        pytest.param(FRESH, 5, "all-content", "reasoning", id="truncated"),
        pytest.param(FRESH + "<think>\n", 200, "all-content", "split", id="prompt-opens-think"),
    ],
)
def test_parser_generations(tok: SimTokenizer, prompt: str, max_tokens: int, old: str, new: str) -> None:
    gen = _gen(tok, prompt, max_tokens)
    for needs_both, expect in ((True, old), (False, new)):
        reasoning, content = message_parts(gen, needs_both)
        if expect == "all-content":
            assert reasoning is None and content == gen.text and content
        elif expect == "reasoning":
            assert reasoning and content is None
        else:
            assert reasoning and content and "</think>" not in content


def test_old_streaming_parser_phases(tok: SimTokenizer) -> None:
    in_think = _gen(tok, FRESH + "<think>\n")
    phases = [stream_phase(in_think, i, True) for i in range(len(in_think.token_ids))]
    end = in_think.token_ids.index(THINK_END_ID)
    assert phases[end] is Phase.MARKER  # a lone </think> delta is skipped
    assert Phase.REASONING not in phases and phases[0] is Phase.CONTENT
    truncated = _gen(tok, FRESH, 5)
    old = [stream_phase(truncated, i, True) for i in range(5)]
    assert old[0] is Phase.MARKER and set(old[1:]) == {Phase.REASONING}  # streaming still sees <think>
    assert [stream_phase(truncated, i, False) for i in range(5)] == list(truncated.phases)


@pytest.mark.parametrize("version", VERSIONS)
def test_chat_body_shape(tok: SimTokenizer, version: str) -> None:
    profile = VersionProfile.for_version(version)
    gen = _gen(tok, FRESH)
    body = chat_body(Envelope("chatcmpl-1", 0, "m"), [gen], 10, True, profile)
    message = body["choices"][0]["message"]
    keys = EXPECTED[version][0]
    assert {k for k in ("reasoning", "reasoning_content") if k in message} == set(keys)
    assert all(message[k] == gen.reasoning() for k in keys)
    details = body["usage"]["completion_tokens_details"]
    assert (
        (details == {"reasoning_tokens": gen.reasoning_tokens}) if EXPECTED[version][5] else details is None
    )
