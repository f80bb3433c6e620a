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


def _message(gen: Generation, include_reasoning: bool, profile: VersionProfile) -> dict[str, Any]:
    reasoning, content = message_parts(gen, profile.parser_needs_both_tags)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": [],
    }
    for key in profile.reasoning_keys:
        message[key] = reasoning if include_reasoning else None
    return message


def chat_body(
    env: Envelope,
    gens: Sequence[Generation],
    prompt_tokens: int,
    include_reasoning: bool,
    profile: VersionProfile,
) -> dict[str, Any]:
    """Non-streaming `chat.completion`."""
    choices: list[dict[str, Any]] = [
        {
            "index": i,
            "message": _message(g, include_reasoning, profile),
            "logprobs": None,
            "finish_reason": g.finish_reason,
            "stop_reason": g.stop_reason,
            "token_ids": None,
        }
        for i, g in enumerate(gens)
    ]
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


def chat_token_chunk(
    env: Envelope, index: int, gen: Generation, step: int, include_reasoning: bool, profile: VersionProfile
) -> bytes | None:
    """The chunk for token `step` of a choice (None when it adds nothing and is not the last one)."""
    piece, phase = gen.pieces[step], stream_phase(gen, step, profile.parser_needs_both_tags)
    delta: dict[str, Any] = {}
    if phase is Phase.REASONING and piece and include_reasoning:
        delta = dict.fromkeys(profile.reasoning_keys, piece)
    elif phase is Phase.CONTENT and piece:
        delta = {"content": piece}
    last = step == len(gen.token_ids) - 1
    if not delta and not last:
        return None
    choice: dict[str, Any] = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
    if last:
        choice["finish_reason"] = gen.finish_reason
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
