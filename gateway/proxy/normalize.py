"""Reshape upstream bodies for clients: reasoning under both names, usage filtering, error envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import GatewayError, UpstreamError, UpstreamRejected, error_envelope
from gateway.proxy.toolcalls import normalize_tool_deltas


@dataclass(slots=True)
class UsageTally:
    """Token counts seen in an upstream response (for metrics and headers)."""

    prompt: int = 0
    completion: int = 0
    reasoning: int = 0
    seen: bool = False

    def add(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        self.seen = True
        self.prompt = int(usage.get("prompt_tokens") or 0)
        self.completion = int(usage.get("completion_tokens") or 0)
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict):
            self.reasoning = int(details.get("reasoning_tokens") or 0)


def mirror_reasoning(part: dict[str, Any], exclude: bool) -> None:
    """Make a message or delta carry ``reasoning`` and ``reasoning_content`` alike (neither if excluded)."""
    value = part.get("reasoning")
    if value is None:
        value = part.get("reasoning_content")
    if exclude:
        part.pop("reasoning", None)
        part.pop("reasoning_content", None)
        return
    if value is not None or "reasoning" in part or "reasoning_content" in part:
        part["reasoning"] = value
        part["reasoning_content"] = value


def normalize_completion(body: dict[str, Any], *, exclude: bool, tally: UsageTally) -> dict[str, Any]:
    """A non-streamed chat completion, in place."""
    for choice in body.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            mirror_reasoning(message, exclude)
    tally.add(body.get("usage"))
    return body


def normalize_chunk(
    chunk: dict[str, Any], *, exclude: bool, want_usage: bool, tally: UsageTally
) -> dict[str, Any] | None:
    """One streamed chunk, in place; ``None`` when nothing is left for the client."""
    choices = chunk.get("choices")
    if "usage" in chunk:
        usage = chunk["usage"]
        if usage is not None:
            tally.add(usage)
        if not want_usage:
            del chunk["usage"]
            if not choices:
                return None
    if choices:
        keep = False
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if exclude or "reasoning" in delta or "reasoning_content" in delta:  # else nothing to mirror
                    mirror_reasoning(delta, exclude)
                if "tool_calls" in delta:
                    normalize_tool_deltas(delta)
                if delta or choice.get("finish_reason") is not None or choice.get("logprobs"):
                    keep = True
            else:
                keep = True
        if not keep and not chunk.get("usage"):
            return None
    return chunk


def upstream_error(status: int, raw: bytes, pool: str) -> tuple[dict[str, Any], int]:
    """Turn an upstream error body (vLLM's, with an integer ``code``) into our envelope and status."""
    message, err_type, param, code = f"backend {pool!r} returned HTTP {status}", None, None, None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        err = data.get("error") if isinstance(data.get("error"), dict) else data
        if isinstance(err, dict):
            if isinstance(err.get("message"), str):
                message = err["message"]
            if isinstance(err.get("type"), str):
                err_type = _openai_type(err["type"], status)
            if isinstance(err.get("param"), str):
                param = err["param"]
            if err.get("code") is not None:
                code = str(err["code"])  # vLLM sends the HTTP status as an integer; OpenAI codes are strings
    elif raw:
        message = f"{message}: {raw[:200].decode('utf-8', 'replace')}"
    out_status = status if status < 500 else 502
    if status >= 500:
        message = f"backend {pool!r} failed (HTTP {status}): {message}"
    return error_envelope(message, out_status, param=param, code=code, type=err_type), out_status


def upstream_exception(status: int, raw: bytes, pool: str) -> GatewayError:
    """An upstream error answer as the exception to raise: :class:`UpstreamRejected` for a 4xx (the client's
    problem, never retried), :class:`UpstreamError` (502, retried elsewhere) for a 5xx."""
    envelope, out_status = upstream_error(status, raw, pool)
    err = envelope["error"]
    if out_status < 500:
        return UpstreamRejected(
            err["message"], status=out_status, param=err["param"], code=err["code"], type=err["type"]
        )
    return UpstreamError(err["message"], status=out_status, code=err["code"] or "upstream_error")


_VLLM_TYPES = {
    "BadRequestError": "invalid_request_error",
    "NotFoundError": "not_found_error",
    "InternalServerError": "api_error",
}


def _openai_type(vllm_type: str, status: int) -> str | None:
    if vllm_type in _VLLM_TYPES:
        return _VLLM_TYPES[vllm_type] if status < 500 else "upstream_error"
    return vllm_type if status < 500 else "upstream_error"
