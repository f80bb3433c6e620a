"""For every chunking of a stream recorded from real vLLM 0.32, the gateway's stream processing (SSE parser +
chunk normalisation) reassembles to exactly the non-streamed answer of the same request, normalised the same
way. The recording (``data/vllm-0.32-chat*.``) is a temperature-0 chat with ``thinking_token_budget: 16``
against the tiny model of ``scripts/vllm/setup.sh``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.proxy.normalize import UsageTally, normalize_chunk, normalize_completion
from gateway.proxy.sse import SSEParser
from tests.harness import usage_view

DATA = Path(__file__).parent / "data"
STREAM = (DATA / "vllm-0.32-chat-stream.sse").read_bytes()
PLAIN = orjson.loads((DATA / "vllm-0.32-chat.json").read_bytes())


def reassemble(chunks: list[bytes]) -> dict[str, Any]:
    parser = SSEParser()
    events = [e for c in chunks for e in parser.feed(c)] + parser.close()
    assert events[-1].data == b"[DONE]"
    reasoning: str | None = None
    content: str | None = None
    finish = None
    usage = None
    tally = UsageTally()
    for event in events[:-1]:
        chunk = normalize_chunk(orjson.loads(event.data), exclude=False, want_usage=True, tally=tally)
        if chunk is None:
            continue
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            assert delta.get("reasoning") == delta.get("reasoning_content")
            if delta.get("reasoning") is not None:
                reasoning = (reasoning or "") + delta["reasoning"]
            if delta.get("content"):
                content = (content or "") + delta["content"]
            finish = choice.get("finish_reason") or finish
    return {"reasoning": reasoning, "content": content, "finish_reason": finish, "usage": usage_view(usage)}


def expected() -> dict[str, Any]:
    body = normalize_completion(orjson.loads(orjson.dumps(PLAIN)), exclude=False, tally=UsageTally())
    msg = body["choices"][0]["message"]
    assert msg["reasoning"] == msg["reasoning_content"]
    return {
        "reasoning": msg["reasoning"],
        "content": msg["content"],
        "finish_reason": body["choices"][0]["finish_reason"],
        "usage": usage_view(body["usage"]),
    }


def test_recording_is_meaningful() -> None:
    exp = expected()
    assert (
        exp["reasoning"]
        and exp["content"]
        and exp["usage"]["completion_tokens_details"]["reasoning_tokens"] == 16
    )


def test_whole_stream() -> None:
    assert reassemble([STREAM]) == expected()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=60))
def test_every_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert reassemble(chunks) == expected()
