"""The OpenAI Agents SDK (``openai-agents``), unchanged, runs an agent with one function tool to completion
through ``/v1/responses`` — plain, streamed, and continued server-side with ``previous_response_id``.

The simulator calls a tool when the last user turn holds ``call:NAME {args}`` (simulator/toolcalls.py); the
tool result that comes back holds no trigger, so the next turn answers in text and the run ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI

from tests.integration.conftest import Stack

ASK = 'What is the weather in Paris? call:get_weather {"city": "Paris"}'


@pytest.fixture
async def openai_client(stack: Stack) -> AsyncIterator[AsyncOpenAI]:
    set_tracing_disabled(True)  # the SDK would export traces to OpenAI's platform
    client = AsyncOpenAI(base_url=stack.gateway + "/v1", api_key="unused", max_retries=0)
    yield client
    await client.close()


def weather_agent(client: AsyncOpenAI, calls: list[str], *, effort: str | None = None) -> Agent:
    @function_tool
    def get_weather(city: str) -> str:
        """Current weather of a city."""
        calls.append(city)
        return f"18 C and sunny in {city}"

    settings = ModelSettings(reasoning={"effort": effort}) if effort else ModelSettings()  # type: ignore[typeddict-item]
    return Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        tools=[get_weather],
        model=OpenAIResponsesModel(model="auto", openai_client=client),
        model_settings=settings,
    )


async def test_agent_with_a_tool_runs_to_completion(openai_client: AsyncOpenAI) -> None:
    calls: list[str] = []
    result = await Runner.run(weather_agent(openai_client, calls, effort="low"), ASK)
    assert calls == ["Paris"]
    assert isinstance(result.final_output, str) and result.final_output
    kinds = [item.type for item in result.new_items]
    assert kinds.count("tool_call_item") == 1 and kinds.count("tool_call_output_item") == 1
    assert kinds[-1] == "message_output_item"
    assert "reasoning_item" in kinds  # effort low thinks: the reasoning items came back as items
    usage = result.context_wrapper.usage
    assert usage.requests == 2 and usage.output_tokens > 0


async def test_agent_streamed(openai_client: AsyncOpenAI) -> None:
    calls: list[str] = []
    run = Runner.run_streamed(weather_agent(openai_client, calls), ASK)
    deltas = []
    async for event in run.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas.append(event.data.delta)
    assert calls == ["Paris"]
    assert run.final_output and "".join(deltas).endswith(str(run.final_output)[-20:])


async def test_agent_continues_a_server_side_chain(openai_client: AsyncOpenAI) -> None:
    calls: list[str] = []
    agent = weather_agent(openai_client, calls)
    first = await Runner.run(agent, ASK)
    assert first.last_response_id
    second = await Runner.run(agent, "And tomorrow?", previous_response_id=first.last_response_id)
    assert second.final_output
    stored = await openai_client.responses.retrieve(second.last_response_id or "")
    assert stored.previous_response_id == first.last_response_id
