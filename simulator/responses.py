"""JSON shapes of vLLM responses and stream chunks (chat and completions), as of the simulated release.

The release-dependent parts (reasoning key names, qwen3 parser generation, usage details) come from the
`VersionProfile`; everything else is the vLLM 0.32 shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from simulator.generation import Generation, Phase
from simulator.parser import message_parts, stream_phase
from simulator.versions import VersionProfile
from templates.toolcalls import StreamParser, extract

DONE = b"data: [DONE]\n\n"


def sse(obj: dict[str, Any]) -> bytes:
    """One server-sent event line pair."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@dataclass(frozen=True)
class Envelope:
    """Fields shared by every body and chunk of one response."""

    id: str
    created: int
    model: str


def usage(prompt_tokens: int, gens: Sequence[Generation], reasoning_details: bool) -> dict[str, Any]:
    """vLLM UsageInfo; chat adds `completion_tokens_details.reasoning_tokens` (a reasoning parser is set)."""
    completion = sum(len(g.token_ids) for g in gens)
    details = {"reasoning_tokens": sum(g.reasoning_tokens for g in gens)} if reasoning_details else None
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
        "completion_tokens_details": details,
    }


def tool_seed(gen: Generation, index: int) -> str:
    """What the tool-call ids of one choice derive from: its tokens, so a streamed and a non-streamed run of
    the same request carry the same ids (vLLM draws them at random)."""
    return f"{index}|{','.join(map(str, gen.token_ids))}"


def _message(
    gen: Generation, include_reasoning: bool, profile: VersionProfile, calls_seed: str | None
) -> tuple[dict[str, Any], bool]:
    reasoning, content = message_parts(gen, profile.parser_needs_both_tags)
    tool_calls: list[dict[str, Any]] = []
    if calls_seed is not None and content is not None:
        content, tool_calls = extract(content, calls_seed)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": tool_calls,
    }
    for key in profile.reasoning_keys:
        message[key] = reasoning if include_reasoning else None
    return message, bool(tool_calls)


def chat_body(
    env: Envelope,
    gens: Sequence[Generation],
    prompt_tokens: int,
    include_reasoning: bool,
    profile: VersionProfile,
    *,
    parse_tools: bool = False,
) -> dict[str, Any]:
    """Non-streaming `chat.completion` (`parse_tools`: content goes through the hermes tool parser)."""
    choices: list[dict[str, Any]] = []
    for i, g in enumerate(gens):
        message, called = _message(g, include_reasoning, profile, tool_seed(g, i) if parse_tools else None)
        finish = "tool_calls" if called and g.finish_reason == "stop" else g.finish_reason
        choices.append(
            {
                "index": i,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
                "stop_reason": g.stop_reason,
                "token_ids": None,
            }
        )
    return {
        "id": env.id,
        "object": "chat.completion",
        "created": env.created,
        "model": env.model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(prompt_tokens, gens, reasoning_details=profile.reasoning_tokens_details),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "kv_transfer_params": None,
    }


def _chat_chunk(env: Envelope, choice: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": env.id,
        "object": "chat.completion.chunk",
        "created": env.created,
        "model": env.model,
        "choices": [choice],
    }


def chat_role_chunk(env: Envelope, index: int) -> bytes:
    """The first chunk of each choice: `delta: {"role": "assistant", "content": ""}`."""
    choice = {
        "index": index,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    return sse(_chat_chunk(env, choice))


class ToolStream:
    """Streaming tool-call parse state of one choice: the content text so far and the parser."""

    def __init__(self, gen: Generation, index: int) -> None:
        self.text = ""
        self.parser = StreamParser(tool_seed(gen, index))

    def delta(self, piece: str) -> dict[str, Any]:
        self.text += piece
        content, calls = self.parser.feed(self.text)
        out: dict[str, Any] = {}
        if content:
            out["content"] = content
        if calls:
            out.setdefault("content", None)  # vLLM 0.32 sends "content": null beside tool-call deltas
            out["tool_calls"] = calls
        return out


def chat_token_chunk(
    env: Envelope,
    index: int,
    gen: Generation,
    step: int,
    include_reasoning: bool,
    profile: VersionProfile,
    tools: ToolStream | None = None,
) -> bytes | None:
    """The chunk for token `step` of a choice (None when it adds nothing and is not the last one)."""
    piece, phase = gen.pieces[step], stream_phase(gen, step, profile.parser_needs_both_tags)
    delta: dict[str, Any] = {}
    if phase is Phase.REASONING and piece and include_reasoning:
        delta = dict.fromkeys(profile.reasoning_keys, piece)
    elif phase is Phase.CONTENT and piece:
        delta = tools.delta(piece) if tools is not None else {"content": piece}
    last = step == len(gen.token_ids) - 1
    if not delta and not last:
        return None
    choice: dict[str, Any] = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
    if last:
        called = tools is not None and tools.parser.called
        choice["finish_reason"] = (
            "tool_calls" if called and gen.finish_reason == "stop" else gen.finish_reason
        )
        choice["stop_reason"] = gen.stop_reason
    return sse(_chat_chunk(env, choice))


def usage_chunk(
    env: Envelope, obj: str, prompt_tokens: int, gens: Sequence[Generation], reasoning_details: bool
) -> bytes:
    """The trailing `choices: []` chunk carrying usage (stream_options.include_usage).

    Real vLLM 0.32 leaves `prompt_tokens_details` out of the streamed usage (it is `null` in a JSON body).
    """
    streamed = usage(prompt_tokens, gens, reasoning_details=reasoning_details)
    del streamed["prompt_tokens_details"]
    body = {
        "id": env.id,
        "object": obj,
        "created": env.created,
        "model": env.model,
        "choices": [],
        "usage": streamed,
    }
    return sse(body)


def completion_body(
    env: Envelope, gens: Sequence[Generation], prompt_ids: Sequence[int], return_token_ids: bool
) -> dict[str, Any]:
    """Non-streaming `text_completion` (raw text, no reasoning parsing)."""
    choices = [
        {
            "index": i,
            "text": g.text,
            "logprobs": None,
            "finish_reason": g.finish_reason,
            "stop_reason": g.stop_reason,
            "token_ids": list(g.token_ids) if return_token_ids else None,
            "prompt_logprobs": None,
            "prompt_token_ids": list(prompt_ids) if return_token_ids else None,
        }
        for i, g in enumerate(gens)
    ]
    return {
        "id": env.id,
        "object": "text_completion",
        "created": env.created,
        "model": env.model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(len(prompt_ids), gens, reasoning_details=False),
        "kv_transfer_params": None,
    }


def completion_token_chunk(
    env: Envelope, index: int, gen: Generation, step: int, prompt_ids: Sequence[int] | None
) -> bytes:
    """One streamed completion token (`prompt_ids` given = return_token_ids requested)."""
    last = step == len(gen.token_ids) - 1
    choice: dict[str, Any] = {
        "index": index,
        "text": gen.pieces[step],
        "logprobs": None,
        "finish_reason": gen.finish_reason if last else None,
        "stop_reason": gen.stop_reason if last else None,
    }
    if prompt_ids is not None:
        choice["token_ids"] = [gen.token_ids[step]]
        choice["prompt_token_ids"] = list(prompt_ids) if step == 0 else None
    return sse(
        {
            "id": env.id,
            "object": "text_completion",
            "created": env.created,
            "model": env.model,
            "choices": [choice],
        }
    )
