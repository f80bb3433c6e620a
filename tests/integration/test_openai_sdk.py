"""The official OpenAI Python SDK against the gateway: sync, async, streaming, extra_body, error classes."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.integration.conftest import Stack

USER = [{"role": "user", "content": "Write a haiku about routers."}]


def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway + "/v1", api_key="unused", max_retries=0)


def test_sync_non_stream_with_extra_body(stack: Stack) -> None:
    raw = client(stack).chat.completions.with_raw_response.create(
        model="auto",
        messages=USER,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},  # type: ignore[arg-type]
    )
    assert raw.headers["x-thinkgate-effort"] == "none"
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_sync_stream_reasoning_effort(stack: Stack) -> None:
    stream = client(stack).chat.completions.create(
        model="auto",
        messages=USER,  # type: ignore[arg-type]
        reasoning_effort="high",
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, content, usage = "", "", None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            reasoning += extra.get("reasoning") or ""
            content += choice.delta.content or ""
    assert reasoning and content
    assert usage is not None and usage.completion_tokens_details is not None
    assert (
        usage.completion_tokens_details.reasoning_tokens
        and usage.completion_tokens_details.reasoning_tokens > 0
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_async(stack: Stack, stream: bool) -> None:
    aclient = AsyncOpenAI(base_url=stack.gateway + "/v1", api_key="unused", max_retries=0)
    if stream:
        chunks = await aclient.chat.completions.create(model="auto-fast", messages=USER, stream=True)  # type: ignore[arg-type]
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        done = await aclient.chat.completions.create(model="auto-fast", messages=USER)  # type: ignore[arg-type]
        text = done.choices[0].message.content or ""
    assert text
    await aclient.close()


def test_models_via_sdk(stack: Stack) -> None:
    ids = [m.id for m in client(stack).models.list()]
    assert "auto" in ids and "sim-qwen3-hybrid" in ids


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        pytest.param({"model": "no-such-model"}, openai.NotFoundError, id="404"),
        pytest.param({"model": "auto", "reasoning_effort": "bogus"}, openai.BadRequestError, id="400-effort"),
        pytest.param({"model": "auto", "max_tokens": 0}, openai.BadRequestError, id="400-max-tokens"),
        pytest.param(
            {
                "model": "auto",
                "reasoning_effort": "high",
                "extra_body": {"chat_template_kwargs": {"enable_thinking": False}},
            },
            openai.BadRequestError,
            id="400-conflict",
        ),
    ],
)
def test_errors_raise_the_right_exception(
    stack: Stack, kwargs: dict[str, object], exc: type[Exception]
) -> None:
    with pytest.raises(exc) as info:
        client(stack).chat.completions.create(messages=USER, **kwargs)  # type: ignore[call-overload]
    err = info.value
    assert isinstance(err, openai.APIStatusError)
    assert err.code is not None and isinstance(err.code, str)
    assert err.request_id


def test_upstream_failure_is_internal_server_error(stack: Stack) -> None:
    import httpx

    httpx.post(stack.instruct + "/sim/faults", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    httpx.post(stack.hybrid + "/sim/faults", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        with pytest.raises(openai.InternalServerError) as info:
            client(stack).chat.completions.create(model="auto-fast", messages=USER)  # type: ignore[arg-type]
        assert info.value.status_code == 502
        assert info.value.response.headers["x-should-retry"] == "false"
    finally:
        httpx.post(stack.instruct + "/sim/faults", json={"error_rate": 0.0}, timeout=5)
        httpx.post(stack.hybrid + "/sim/faults", json={"error_rate": 0.0}, timeout=5)
