"""The Responses stream reassembles, for every chunking, into exactly the non-streamed Response.

Streams: the real vLLM 0.32 recording of ``data/vllm-0.32-chat*`` (reasoning + answer; its non-streamed twin
is the same request) and chat completions with tool calls cut into arbitrary pieces. Every event and every
Response is validated strictly against the ``openai`` SDK's own pydantic types, and the SDK's stream
accumulator (what ``client.responses.stream`` runs) must accept the events and reach the same output.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import NOT_GIVEN
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from gateway.proxy.normalize import UsageTally, normalize_chunk, normalize_completion
from gateway.proxy.sse import SSEParser
from gateway.responses.events import ResponseStream, encode
from gateway.responses.request import parse_request
from gateway.responses.result import Frame, response_from_completion

DATA = Path(__file__).parent / "data"
STREAM = (DATA / "vllm-0.32-chat-stream.sse").read_bytes()
PLAIN = orjson.loads((DATA / "vllm-0.32-chat.json").read_bytes())
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def counter_ids() -> Callable[[str], str]:
    count = itertools.count()
    return lambda prefix: f"{prefix}_{next(count)}"


def frame(summary: str | None = None, **extra: Any) -> Frame:
    body: dict[str, Any] = {"model": "auto", "input": "hi", **extra}
    if summary:
        body["reasoning"] = {"effort": "low", "summary": summary}
    return Frame("resp_1", 100, "tiny-qwen3", "low", parse_request(body))


def stream_events(fr: Frame, chunks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], ResponseStream]:
    writer = ResponseStream(fr, counter_ids())
    events = writer.start()
    for chunk in chunks:
        events += writer.chunk(chunk)
    events += writer.end(now=200)
    return events, writer


def fold(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rebuild the output from the deltas alone, checking each ``…done`` event against them."""
    items: dict[int, dict[str, Any]] = {}
    texts: dict[int, str] = {}
    done: dict[int, dict[str, Any]] = {}
    for event in events:
        kind, index = event["type"], event.get("output_index")
        if kind == "response.output_item.added":
            assert index == len(items)
            items[index] = copy.deepcopy(event["item"])
            texts[index] = ""
        elif kind in (
            "response.reasoning_text.delta",
            "response.output_text.delta",
            "response.function_call_arguments.delta",
        ):
            assert index not in done
            texts[index] += event["delta"]
        elif kind in ("response.reasoning_text.done", "response.output_text.done"):
            assert event["text"] == texts[index]
        elif kind == "response.function_call_arguments.done":
            assert event["arguments"] == texts[index]
        elif kind == "response.output_item.done":
            item = event["item"]
            assert item["id"] == items[index]["id"] and item["type"] == items[index]["type"]
            if item["type"] == "function_call":
                assert item["arguments"] == texts[index]
            else:
                assert item["content"][0]["text"] == texts[index]
            done[index] = item
    assert sorted(done) == sorted(items), "every added item is done"
    return [done[i] for i in sorted(done)]


def check(events: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created" and events[1]["type"] == "response.in_progress"
    for event in events:
        EVENTS.validate_python(event)  # strict: the SDK's own event models
    wire = b"".join(encode(e) for e in events)
    parsed = SSEParser().feed(wire)
    assert [p.event for p in parsed] == [e["type"] for e in events]
    assert [orjson.loads(p.data) for p in parsed] == events
    final = events[-1]["response"]
    assert final == expected
    Response.model_validate(final)
    assert fold(events) == expected["output"]
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=NOT_GIVEN, text_format=NOT_GIVEN)
    for event in events:
        state.handle_event(EVENTS.validate_python(event))
    if expected["status"] == "completed":
        snapshot = state._completed_response  # what the SDK's get_final_response() returns
        assert snapshot is not None
        assert [o.model_dump(exclude_none=True) for o in snapshot.output] == [
            Response.model_validate(expected).output[i].model_dump(exclude_none=True)
            for i in range(len(expected["output"]))
        ]


def recorded_chunks(pieces: list[bytes]) -> list[dict[str, Any]]:
    parser = SSEParser()
    events = [e for piece in pieces for e in parser.feed(piece)] + parser.close()
    assert events[-1].data == b"[DONE]"
    tally = UsageTally()
    out = []
    for event in events[:-1]:
        chunk = normalize_chunk(orjson.loads(event.data), exclude=False, want_usage=True, tally=tally)
        if chunk is not None:
            out.append(chunk)
    return out


def expected_recorded(fr: Frame) -> dict[str, Any]:
    body = normalize_completion(copy.deepcopy(PLAIN), exclude=False, tally=UsageTally())
    return response_from_completion(fr, body, counter_ids(), now=200)


def test_recorded_stream_whole() -> None:
    fr = frame()
    expected = expected_recorded(fr)
    assert [o["type"] for o in expected["output"]] == ["reasoning", "message"]
    assert expected["usage"]["output_tokens_details"]["reasoning_tokens"] == 16
    events, _ = stream_events(fr, recorded_chunks([STREAM]))
    check(events, expected)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=60), st.sampled_from([None, "auto"])
)
def test_recorded_stream_every_chunking(cuts: list[int], summary: str | None) -> None:
    points = sorted(set(cuts))
    pieces = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    fr = frame(summary)
    events, _ = stream_events(fr, recorded_chunks(pieces))
    check(events, expected_recorded(fr))


# ---- tool calls ------------------------------------------------------------------------------------------

CALLS = [
    {
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    },
    {
        "id": "call_b",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
    },
]
USAGE = {
    "prompt_tokens": 50,
    "completion_tokens": 40,
    "total_tokens": 90,
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def completion(
    reasoning: str, content: str | None, calls: list[dict[str, Any]], finish: str
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "reasoning": reasoning}
    if calls:
        message["tool_calls"] = calls
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": USAGE}


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True) if text[a:b]]


def chunks_of(
    reasoning: str, content: str | None, calls: list[dict[str, Any]], finish: str, cuts: list[int]
) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"reasoning": p, "reasoning_content": p}) for p in split(reasoning, cuts)]
    out += [chunk({"content": p}) for p in split(content or "", cuts)]
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        out.append(chunk({"tool_calls": [head]}))
        for piece in split(call["function"]["arguments"], cuts):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    out.append(chunk({}, finish))
    out.append({"choices": [], "usage": USAGE})
    return out


@settings(max_examples=80, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=12),
    n_calls=st.integers(min_value=0, max_value=2),
    content=st.sampled_from([None, "", "Checking both.", "\n\n", " \n"]),
    summary=st.sampled_from([None, "detailed"]),
)
def test_tool_call_streams(cuts: list[int], n_calls: int, content: str | None, summary: str | None) -> None:
    calls = CALLS[:n_calls]
    finish = "tool_calls" if calls else "stop"
    fr = frame(
        summary, tools=[{"type": "function", "name": "get_weather"}, {"type": "function", "name": "get_time"}]
    )
    expected = response_from_completion(
        fr, completion("I need the tools.", content, calls, finish), counter_ids(), now=200
    )
    events, _ = stream_events(fr, chunks_of("I need the tools.", content, calls, finish, cuts))
    check(events, expected)
    kinds = [o["type"] for o in expected["output"]]
    answers = bool(content and content.strip()) or not calls  # whitespace before calls is no message
    assert kinds == ["reasoning"] + (["message"] if answers else []) + ["function_call"] * n_calls
    if not calls:
        assert expected["output"][-1]["content"][0]["text"] == (content or "")  # kept without calls
    for item, call in zip(expected["output"][-n_calls or len(kinds) :], calls, strict=False):
        assert (item["call_id"], item["name"], item["arguments"]) == (
            call["id"],
            call["function"]["name"],
            call["function"]["arguments"],
        )


def test_cut_by_max_output_tokens_is_incomplete() -> None:
    fr = frame(max_output_tokens=5)
    expected = response_from_completion(
        fr, completion("thinking", "Partial ans", [], "length"), counter_ids(), now=200
    )
    assert expected["status"] == "incomplete"
    assert expected["incomplete_details"] == {"reason": "max_output_tokens"}
    assert expected["completed_at"] is None
    assert [o["status"] for o in expected["output"]] == ["completed", "incomplete"]
    events, _ = stream_events(fr, chunks_of("thinking", "Partial ans", [], "length", [3, 7]))
    assert events[-1]["type"] == "response.incomplete"
    check(events, expected)


def test_cut_while_thinking_has_no_message() -> None:
    fr = frame(max_output_tokens=5)
    expected = response_from_completion(
        fr, completion("still thinking", None, [], "length"), counter_ids(), now=200
    )
    assert [(o["type"], o["status"]) for o in expected["output"]] == [("reasoning", "incomplete")]
    events, _ = stream_events(fr, chunks_of("still thinking", None, [], "length", [5]))
    check(events, expected)


def test_empty_answer_still_has_a_message() -> None:
    fr = frame()
    expected = response_from_completion(fr, completion("", "", [], "stop"), counter_ids(), now=200)
    assert [o["type"] for o in expected["output"]] == ["message"]
    assert expected["output"][0]["content"][0]["text"] == ""
    events, _ = stream_events(fr, chunks_of("", "", [], "stop", []))
    check(events, expected)


def test_failure_mid_stream_is_response_failed() -> None:
    fr = frame()
    writer = ResponseStream(fr, counter_ids())
    events = writer.start()
    events += writer.chunk({"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]})
    events += writer.fail("backend 'p' failed mid-stream: boom")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    last = events[-1]
    assert last["type"] == "response.failed"
    assert last["response"]["status"] == "failed"
    assert last["response"]["error"] == {
        "code": "server_error",
        "message": "backend 'p' failed mid-stream: boom",
    }
    for event in events:
        EVENTS.validate_python(event)


# ---- recorded tool-call streams (scripts/record/tool_streams.py) ------------------------------------------

TOOL_RECORDINGS = sorted(p.name.removesuffix("-stream.sse") for p in DATA.glob("*-tools-stream.sse"))


def same_calls_but_ids(response: dict[str, Any], exact: bool) -> dict[str, Any]:
    """vLLM draws tool-call ids at random per request: compare them exactly for the simulator only."""
    if exact:
        return response
    out = copy.deepcopy(response)
    for item in out["output"]:
        if item["type"] == "function_call":
            assert item["call_id"].startswith("chatcmpl-tool-")
            item["call_id"] = "chatcmpl-tool-*"
    return out


@pytest.mark.parametrize("name", TOOL_RECORDINGS)
@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_recorded_tool_streams_every_chunking(name: str, cuts: list[int]) -> None:
    stream = (DATA / f"{name}-stream.sse").read_bytes()
    plain = orjson.loads((DATA / f"{name}.json").read_bytes())
    points = sorted({c % (len(stream) + 1) for c in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    fr = frame(tools=[{"type": "function", "name": "search"}, {"type": "function", "name": "get_weather"}])
    body = normalize_completion(copy.deepcopy(plain), exclude=False, tally=UsageTally())
    expected = response_from_completion(fr, body, counter_ids(), now=200)
    assert [o["name"] for o in expected["output"] if o["type"] == "function_call"] == [
        "search",
        "get_weather",
    ]
    events, _ = stream_events(fr, recorded_chunks(pieces))
    exact = name.startswith("sim-")
    final = events[-1]["response"]
    assert same_calls_but_ids(final, exact) == same_calls_but_ids(expected, exact)
    check(events, final)  # events, wire format and SDK accumulator agree with the final Response
