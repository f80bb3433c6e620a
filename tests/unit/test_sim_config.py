"""Unit tests of simulator config, faults, request parsing, prompts and the CLI options."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError

from gateway.commands import sim as sim_command
from simulator.config import FaultSettings, SimConfig
from simulator.faults import Fault, decide
from simulator.prompting import render_chat_prompt
from simulator.protocol import ChatRequest, CompletionRequest, SimError, parse_body
from simulator.tokenizer import SimTokenizer

MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def tok() -> SimTokenizer:
    return SimTokenizer.load()


def test_config_is_frozen_and_validates_rates() -> None:
    cfg = SimConfig()
    with pytest.raises(ValidationError):
        cfg.seed = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        SimConfig(error_rate=0.6, drop_rate=0.6)
    with pytest.raises(ValidationError):
        SimConfig(tokens_per_s=-1)
    assert cfg.faults() == FaultSettings()


def test_faults_are_deterministic_and_follow_rates() -> None:
    settings = FaultSettings(error_rate=0.2, hang_rate=0.1, drop_rate=0.1)
    first = [decide(settings, 1, i) for i in range(2000)]
    assert first == [decide(settings, 1, i) for i in range(2000)]
    assert first != [decide(settings, 2, i) for i in range(2000)]
    share = {f: first.count(f) / len(first) for f in Fault}
    assert 0.15 < share[Fault.ERROR] < 0.25
    assert 0.06 < share[Fault.HANG] < 0.14
    assert 0.06 < share[Fault.DROP] < 0.14
    assert all(decide(FaultSettings(), 1, i) is Fault.NONE for i in range(100))
    assert all(decide(FaultSettings(error_rate=1.0), 1, i) is Fault.ERROR for i in range(100))


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        pytest.param(b"{not json", None, id="invalid-json"),
        pytest.param(b"[1]", None, id="not-object"),
        pytest.param(b'{"model": "m"}', "messages", id="missing-messages"),
        pytest.param(
            b'{"messages": [{"role":"user","content":"x"}], "stream_options": {}}', None, id="opts-no-stream"
        ),
        pytest.param(
            b'{"messages": [{"role":"user","content":"x"}], "thinking_token_budget": -2}',
            None,
            id="bad-budget",
        ),
        pytest.param(
            b'{"messages": [{"role":"user","content":"x"}], "thinking_token_budget": 1.5}', None, id="float"
        ),
        pytest.param(
            b'{"messages": [{"role":"user","content":"x"}], "reasoning_effort": "huge"}', None, id="effort"
        ),
    ],
)
def test_bad_chat_bodies_raise_400(raw: bytes, param: str | None) -> None:
    with pytest.raises(SimError) as info:
        parse_body(ChatRequest, raw)
    assert info.value.status == 400
    assert info.value.body()["error"]["type"] == "BadRequestError"
    assert info.value.body()["error"]["code"] == 400
    if param is not None:
        assert info.value.param == param


def test_stream_options_default_include_usage() -> None:
    req = parse_body(
        ChatRequest, b'{"messages": [{"role":"user","content":"x"}], "stream": true, "stream_options": {}}'
    )
    assert req.include_usage()
    assert not parse_body(CompletionRequest, b'{"prompt": [1, 2], "stream": true}').include_usage()


@pytest.mark.parametrize(
    ("mode", "kwargs", "effort", "suffix", "thinks"),
    [
        pytest.param("hybrid", None, None, "<|im_start|>assistant\n", True, id="hybrid-default"),
        pytest.param(
            "hybrid", {"enable_thinking": False}, None, "<think>\n\n</think>\n\n", False, id="hybrid-off"
        ),
        pytest.param(
            "hybrid", {"thinking": False}, None, "<think>\n\n</think>\n\n", False, id="thinking-alias"
        ),
        pytest.param("hybrid", None, "none", "<think>\n\n</think>\n\n", False, id="effort-none"),
        pytest.param(
            "hybrid", {"enable_thinking": True}, "none", "<|im_start|>assistant\n", True, id="kwarg-wins"
        ),
        pytest.param(
            "thinking", {"enable_thinking": False}, None, "assistant\n<think>\n", True, id="thinking-mode"
        ),
        pytest.param(
            "instruct", {"enable_thinking": True}, None, "<|im_start|>assistant\n", False, id="instruct"
        ),
    ],
)
def test_prompt_per_mode(
    tok: SimTokenizer,
    mode: str,
    kwargs: dict[str, bool] | None,
    effort: str | None,
    suffix: str,
    thinks: bool,
) -> None:
    prompt = render_chat_prompt(tok, mode, MSGS, template_kwargs=kwargs, reasoning_effort=effort)  # type: ignore[arg-type]
    assert prompt.text.endswith(suffix)
    assert prompt.thinks is thinks


def test_cli_options_build_config() -> None:
    parser = argparse.ArgumentParser()
    sim_command.add_arguments(parser)
    ns = parser.parse_args(
        ["--port", "0", "--model", "m1", "--mode", "thinking", "--tokens-per-s", "20", "--drop-rate", "0.5"]
    )
    cfg = sim_command.config_from_args(ns)
    assert (cfg.model, cfg.mode, cfg.tokens_per_s, cfg.drop_rate) == ("m1", "thinking", 20.0, 0.5)
    bad = parser.parse_args(["--error-rate", "0.7", "--hang-rate", "0.7"])
    assert sim_command.run(bad) == 2
