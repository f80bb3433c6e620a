"""The Messages stream writer, checked by the real ``anthropic`` SDK: for every chunking of a chat stream (the
deltas re-split anywhere, the output bytes cut anywhere), the message the SDK's ``messages.stream`` reassembles
equals the non-streamed ``Message`` the gateway makes from the same generation.

Streams: one recorded from real vLLM 0.32 (``data/vllm-0.32-chat*``: reasoning then answer), one recorded from the
simulator's tool calls (``data/sim-tools*``), and one with two tool calls in vLLM's streaming shape (name first,
then argument fragments) re-split anywhere.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.anthropic.events import MessageStreamWriter
from gateway.anthropic.message import to_message
from gateway.anthropic.signature import ThinkingSigner
from gateway.proxy.normalize import UsageTally, normalize_chunk, normalize_completion
from gateway.proxy.sse import SSEParser

DATA = Path(__file__).parent / "data"
SIGNER = ThinkingSigner(b"unit-test-secret-0123456789")


def recorded_chunks(name: str = "vllm-0.32-chat-stream.sse") -> list[dict[str, Any]]:
    parser = SSEParser()
    events = parser.feed((DATA / name).read_bytes()) + parser.close()
    return [orjson.loads(e.data) for e in events if e.data != b"[DONE]"]


RECORDED_PLAIN = orjson.loads((DATA / "vllm-0.32-chat.json").read_bytes())
#: recorded from the simulator's tool calls (hermes format, two calls in one turn; scripts/record/)
TOOLS_PLAIN = orjson.loads((DATA / "sim-tools.json").read_bytes())

TOOL_ARGS = ['{"city": "Paris", "unit": "celsius"}', '{"query": "éte\\u00e9 \\"quoted\\" text", "n": 3}']
TOOL_PLAIN: dict[str, Any] = {
    "id": "chatcmpl-t",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me look that up.",
                "reasoning": "The user wants weather; call the tool.",
                "tool_calls": [
                    {
                        "id": "chatcmpl-tool-1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": TOOL_ARGS[0]},
                    },
                    {
                        "id": "chatcmpl-tool-2",
                        "type": "function",
                        "function": {"name": "search", "arguments": TOOL_ARGS[1]},
                    },
                ],
            },
            "finish_reason": "tool_calls",
            "stop_reason": None,
        }
    ],
    "usage": {
        "prompt_tokens": 40,
        "completion_tokens": 30,
        "total_tokens": 70,
        "completion_tokens_details": {"reasoning_tokens": 9},
    },
}


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools_pairwise(points) if b > a]


def itertools_pairwise(values: list[int]) -> Iterator[tuple[int, int]]:
    return itertools.pairwise(values)


def chunk(delta: dict[str, Any], finish: str | None = None, stop_reason: Any = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if finish is not None:
        choice["stop_reason"] = stop_reason
    return {"id": "chatcmpl-t", "object": "chat.completion.chunk", "choices": [choice]}


def rechunk(plain: dict[str, Any], cuts: list[int]) -> list[dict[str, Any]]:
    """A stream that carries exactly ``plain``'s generation, each text cut at ``cuts``."""
    choice = plain["choices"][0]
    message = choice["message"]
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"reasoning": part}) for part in split(message.get("reasoning") or "", cuts)]
    out += [chunk({"content": part}) for part in split(message.get("content") or "", cuts)]
    for i, call in enumerate(message.get("tool_calls") or ()):
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        out.append(chunk({"tool_calls": [head]}))
        for part in split(call["function"]["arguments"], cuts):
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    out.append(chunk({}, choice["finish_reason"], choice.get("stop_reason")))
    out.append(
        {"id": "chatcmpl-t", "object": "chat.completion.chunk", "choices": [], "usage": plain["usage"]}
    )
    return out


def stream_bytes(chunks: list[dict[str, Any]], stops: tuple[str, ...] = ()) -> bytes:
    writer = MessageStreamWriter(msg_id="msg_1", model="claude-x", signer=SIGNER, stop_sequences=stops)
    out = writer.start()
    tally = UsageTally()
    for raw in chunks:
        normalized = normalize_chunk(
            orjson.loads(orjson.dumps(raw)), exclude=False, want_usage=True, tally=tally
        )
        if normalized is not None:
            out += writer.chunk(normalized)
    return out + writer.finish()


def sdk_reassembled(data: bytes, cuts: list[int]) -> tuple[dict[str, Any], list[str]]:
    """What ``anthropic``'s ``messages.stream`` makes of ``data`` delivered in pieces cut at ``cuts``."""
    pieces = [
        data[a:b] for a, b in itertools_pairwise(sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)}))
    ]

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces))

    client = anthropic.Anthropic(
        api_key="k",
        base_url="http://gateway.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    types: list[str] = []
    with client.messages.stream(
        model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for event in stream:
            types.append(event.type)
        message = stream.get_final_message()
    return message.model_dump(exclude_none=True), types


def expected(plain: dict[str, Any], stops: tuple[str, ...] = ()) -> dict[str, Any]:
    normalized = normalize_completion(orjson.loads(orjson.dumps(plain)), exclude=False, tally=UsageTally())
    message = to_message(normalized, msg_id="msg_1", model="claude-x", signer=SIGNER, stop_sequences=stops)
    return anthropic.types.Message.model_validate(message).model_dump(exclude_none=True)


def test_recorded_vllm_stream_equals_the_non_streamed_message() -> None:
    got, types = sdk_reassembled(stream_bytes(recorded_chunks()), [])
    want = expected(RECORDED_PLAIN)
    assert [b["type"] for b in want["content"]] == ["thinking", "text"]
    assert got == want
    assert types[0] == "message_start" and types[-1] == "message_stop"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_every_chunking_of_the_recorded_answer(delta_cuts: list[int], byte_cuts: list[int]) -> None:
    assert sdk_reassembled(stream_bytes(rechunk(RECORDED_PLAIN, delta_cuts)), byte_cuts)[0] == expected(
        RECORDED_PLAIN
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_every_chunking_of_tool_calls(delta_cuts: list[int], byte_cuts: list[int]) -> None:
    got, _ = sdk_reassembled(stream_bytes(rechunk(TOOL_PLAIN, delta_cuts)), byte_cuts)
    want = expected(TOOL_PLAIN)
    assert got == want
    assert [b["type"] for b in got["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert got["content"][2]["input"] == {"city": "Paris", "unit": "celsius"}
    assert got["stop_reason"] == "tool_use"
    assert got["usage"]["output_tokens_details"] == {"thinking_tokens": 9}


@pytest.mark.parametrize("space", ["\n\n", " ", "\n \n"])
@settings(max_examples=25, deadline=None)
@given(delta_cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8))
def test_whitespace_before_tool_calls_is_no_text_block(space: str, delta_cuts: list[int]) -> None:
    """vLLM streams the whitespace after ``</think>`` as content before a tool call (and drops it from its JSON
    answer): neither the stream nor the message has a whitespace-only text block then; without calls it stays."""
    with_calls = copy.deepcopy(TOOL_PLAIN)
    with_calls["choices"][0]["message"]["content"] = space
    got, _ = sdk_reassembled(stream_bytes(rechunk(with_calls, delta_cuts)), [5, 500])
    assert got == expected(with_calls)
    assert [b["type"] for b in got["content"]] == ["thinking", "tool_use", "tool_use"]
    words = copy.deepcopy(TOOL_PLAIN)
    words["choices"][0]["message"]["content"] = space + "Checking."
    got, _ = sdk_reassembled(stream_bytes(rechunk(words, delta_cuts)), [5, 500])
    assert got == expected(words) and got["content"][1] == {"type": "text", "text": space + "Checking."}
    alone = copy.deepcopy(RECORDED_PLAIN)
    alone["choices"][0]["message"]["content"] = space
    got, _ = sdk_reassembled(stream_bytes(rechunk(alone, delta_cuts)), [5, 500])
    assert got == expected(alone) and got["content"][-1] == {"type": "text", "text": space}


def test_recorded_tool_call_stream_equals_the_non_streamed_message() -> None:
    got, _ = sdk_reassembled(stream_bytes(recorded_chunks("sim-tools-stream.sse")), [7, 300, 1000])
    want = expected(TOOLS_PLAIN)
    assert [b["type"] for b in want["content"]].count("tool_use") == 2
    assert got == want and got["stop_reason"] == "tool_use"


VLLM_TOOL_RECORDINGS = sorted(
    p.name.removesuffix("-stream.sse") for p in DATA.glob("vllm-*-tools-stream.sse")
)


@pytest.mark.parametrize("name", VLLM_TOOL_RECORDINGS)
def test_recorded_vllm_tool_streams_equal_the_non_streamed_message(name: str) -> None:
    """Real vLLM tool-call streams (one with thinking, whose ``\n\n`` after ``</think>`` comes as content)
    give the non-streamed message of the same request: thinking (when on), then two tool_use blocks."""
    assert "vllm-0.32-thinking-tools" in VLLM_TOOL_RECORDINGS
    plain = orjson.loads((DATA / f"{name}.json").read_bytes())
    got, _ = sdk_reassembled(stream_bytes(recorded_chunks(f"{name}-stream.sse")), [3, 700, 5000])
    want = expected(plain)
    for block in (*got["content"], *want["content"]):  # vLLM draws call ids at random per request
        if block["type"] == "tool_use":
            assert block["id"].startswith("chatcmpl-tool-")
            block["id"] = "chatcmpl-tool-*"
    assert got == want
    kinds = [b["type"] for b in got["content"]]
    assert kinds[-2:] == ["tool_use", "tool_use"] and "text" not in kinds


def test_stop_sequence_and_event_order() -> None:
    plain = orjson.loads(orjson.dumps(RECORDED_PLAIN))
    plain["choices"][0]["stop_reason"] = "STOP"
    got, types = sdk_reassembled(stream_bytes(rechunk(plain, [5]), ("STOP",)), [])
    assert got["stop_reason"] == "stop_sequence" and got["stop_sequence"] == "STOP"
    assert got == expected(plain, ("STOP",))
    # thinking block: start, deltas, signature, stop; then the text block
    assert types[:2] == ["message_start", "content_block_start"]
    assert types.count("content_block_start") == types.count("content_block_stop") == 2
    assert types[-2:] == ["message_delta", "message_stop"]


def test_signature_delta_signs_the_whole_thinking_block() -> None:
    raw = stream_bytes(rechunk(RECORDED_PLAIN, [3, 9, 20]))
    parser = SSEParser()
    events = [orjson.loads(e.data) for e in parser.feed(raw)]
    signatures = [
        e["delta"]["signature"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "signature_delta"
    ]
    assert len(signatures) == 1
    assert SIGNER.verify(RECORDED_PLAIN["choices"][0]["message"]["reasoning"], signatures[0])
    assert {e["type"] for e in events} >= {"ping", "message_start", "content_block_delta", "message_stop"}


def test_length_cut_is_max_tokens() -> None:
    plain = orjson.loads(orjson.dumps(RECORDED_PLAIN))
    plain["choices"][0]["finish_reason"] = "length"
    got, _ = sdk_reassembled(stream_bytes(rechunk(plain, [])), [])
    assert got["stop_reason"] == "max_tokens"


def test_error_event_is_raised_by_the_sdk() -> None:
    writer = MessageStreamWriter(msg_id="msg_1", model="m", signer=SIGNER, stop_sequences=())
    data = (
        writer.start() + writer.chunk(chunk({"content": "par"})) + writer.error("api_error", "backend died")
    )

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    client = anthropic.Anthropic(
        api_key="k", base_url="http://t", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    try:
        with client.messages.stream(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            for _ in stream:
                pass
    except anthropic.APIStatusError as exc:
        assert "backend died" in str(exc)
    else:
        raise AssertionError("the SDK did not raise on the error event")
