"""``/v1/responses`` driven by the official ``openai`` SDK, unchanged, against the simulator stack: create,
stream, a ``previous_response_id`` chain, a function-tool round trip, the stored-response endpoints, errors."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.harness import wait_until
from tests.integration.conftest import Stack

HARD = "Prove that there are infinitely many primes, step by step."


def without_parsed(value: Any) -> Any:
    """The SDK's stream helper returns a ParsedResponse: its text parts have an extra ``parsed: None``."""
    if isinstance(value, dict):
        return {k: without_parsed(v) for k, v in value.items() if k != "parsed"}
    if isinstance(value, list):
        return [without_parsed(v) for v in value]
    return value


def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway + "/v1", api_key="unused", max_retries=0)


def test_create_with_effort_and_summary(stack: Stack) -> None:
    raw = client(stack).responses.with_raw_response.create(
        model="auto", input=HARD, reasoning={"effort": "high", "summary": "auto"}, metadata={"run": "1"}
    )
    assert raw.headers["x-thinkgate-effort"] == "high"
    assert raw.headers["x-thinkgate-source"] == "explicit"
    response = raw.parse()
    assert response.status == "completed" and response.object == "response"
    assert [o.type for o in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.content and reasoning.content[0].text
    assert reasoning.summary and reasoning.summary[0].text == reasoning.content[0].text
    assert response.output_text
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.metadata == {"run": "1"}
    assert response.reasoning is not None and response.reasoning.effort == "high"


def test_effort_none_has_no_reasoning_item(stack: Stack) -> None:
    raw = client(stack).responses.with_raw_response.create(
        model="auto", input="Say hello.", reasoning={"effort": "none"}, instructions="Be brief."
    )
    assert raw.headers["x-thinkgate-effort"] == "none"
    response = raw.parse()
    assert [o.type for o in response.output] == ["message"]
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens == 0
    assert response.instructions == "Be brief."


def test_header_and_effort_conflict_is_a_400(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(stack).responses.create(
            model="auto",
            input="x",
            reasoning={"effort": "none"},
            extra_headers={"x-thinkgate-effort": "high"},
        )
    assert info.value.body["param"] == "reasoning.effort"  # type: ignore[index]


def test_stream_reassembles_to_the_stored_response(stack: Stack) -> None:
    c = client(stack)
    with c.responses.stream(model="auto", input=HARD, reasoning={"effort": "low"}) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for kind in ("response.reasoning_text.delta", "response.output_text.delta", "response.output_item.done"):
        assert kind in types
    stored = c.responses.retrieve(final.id)
    assert stored.model_dump() == without_parsed(final.model_dump())
    assert stored.output_text and stored.output_text == final.output_text


def test_raw_stream_sequence_numbers(stack: Stack) -> None:
    events = list(client(stack).responses.create(model="auto-fast", input="hello", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_max_output_tokens_cut_is_incomplete(stack: Stack) -> None:
    c = client(stack)
    response = c.responses.create(
        model="auto", input=HARD, reasoning={"effort": "high"}, max_output_tokens=16
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16
    events = list(
        c.responses.create(
            model="auto", input=HARD, reasoning={"effort": "high"}, max_output_tokens=16, stream=True
        )
    )
    assert events[-1].type == "response.incomplete"


def test_previous_response_id_chain(stack: Stack) -> None:
    c = client(stack)
    first = c.responses.create(model="auto-fast", input="My name is Ada.", instructions="Answer briefly.")
    second = c.responses.create(model="auto-fast", input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert first.usage is not None and second.usage is not None
    # the first turn's input and answer reached the backend before the new input
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens - 8
    items = c.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["message"]
    third = c.responses.create(
        model="auto-fast", input="Thanks.", previous_response_id=second.id, store=False
    )
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(third.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="auto-fast", input="x", previous_response_id=third.id)


def test_delete_and_unknown_ids(stack: Stack) -> None:
    c = client(stack)
    response = c.responses.create(model="auto-fast", input="hello")
    c.responses.delete(response.id)
    for call in (lambda: c.responses.retrieve(response.id), lambda: c.responses.delete(response.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.NotFoundError) as info:
        c.responses.create(model="auto-fast", input="x", previous_response_id="resp_nope")
    assert info.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_input_items_pages(stack: Stack) -> None:
    c = client(stack)
    inputs: list[Any] = [{"role": "user", "content": f"line {i}"} for i in range(5)]
    response = c.responses.create(model="auto-fast", input=inputs)
    page = c.responses.input_items.list(response.id, limit=2, order="asc")
    assert [i.content[0].text for i in page.data] == ["line 0", "line 1"]  # type: ignore[union-attr]
    every = [i.content[0].text for i in c.responses.input_items.list(response.id, limit=2)]  # type: ignore[union-attr]
    assert every == [f"line {i}" for i in reversed(range(5))]  # desc by default, all pages


def test_function_tool_round_trip(stack: Stack) -> None:
    """The client runs the tool and sends back the call and its output as items; the chain holds the rest."""
    c = client(stack)
    tools: list[Any] = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
            "strict": True,
        }
    ]
    first = c.responses.create(model="auto", input="What is the weather in Paris?", tools=tools)
    assert first.tools and first.tools[0].name == "get_weather"  # type: ignore[union-attr]
    call = {
        "type": "function_call",
        "call_id": "call_w1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    output = {"type": "function_call_output", "call_id": "call_w1", "output": '{"temp_c": 18}'}
    answer = c.responses.create(
        model="auto", input=[call, output], tools=tools, previous_response_id=first.id
    )
    assert answer.status == "completed" and answer.output_text
    assert answer.usage is not None and first.usage is not None
    assert answer.usage.input_tokens > first.usage.input_tokens
    stored = [i.type for i in c.responses.input_items.list(answer.id, order="asc")]
    assert stored == ["function_call", "function_call_output"]


async def test_async_client(stack: Stack) -> None:
    ac = AsyncOpenAI(base_url=stack.gateway + "/v1", api_key="unused", max_retries=0)
    try:
        response = await ac.responses.create(model="auto-fast", input="hello")
        assert response.output_text
        async with ac.responses.stream(model="auto-fast", input="hello") as stream:
            final = await stream.get_final_response()
        assert final.output_text
    finally:
        await ac.close()


BAD: list[Any] = [
    pytest.param({"model": "auto"}, "input", id="no-input"),
    pytest.param(
        {"model": "auto", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", id="hosted"
    ),
    pytest.param({"model": "auto", "input": "x", "background": True}, "background", id="background"),
    pytest.param(
        {"model": "auto", "input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort", id="effort"
    ),
    pytest.param({"model": "auto", "input": [[1]]}, "input[0]", id="item-list"),
]


@pytest.mark.parametrize(("body", "param"), BAD)
def test_bad_input_gets_the_openai_envelope(stack: Stack, body: dict[str, Any], param: str) -> None:
    resp = httpx.post(stack.gateway + "/v1/responses", json=body, timeout=10)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


def test_unknown_model_is_a_404(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError):
        client(stack).responses.create(model="no-such-model", input="x")


def test_front_door_label_in_metrics(stack: Stack) -> None:
    raw = client(stack).responses.with_raw_response.create(model="auto-fast", input="hello")
    assert raw.headers["x-thinkgate-front-door"] == "responses"

    def counted() -> bool:
        lines = httpx.get(stack.gateway + "/metrics", timeout=10).text.splitlines()
        requests = any(
            x.startswith("thinkgate_requests_total{") and 'endpoint="responses"' in x for x in lines
        )
        decisions = any(
            x.startswith("thinkgate_decisions_total{") and 'front_door="responses"' in x for x in lines
        )
        return requests and decisions

    assert wait_until(counted)
