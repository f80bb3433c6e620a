"""Responses request -> internal chat body: golden translations and the 400s of bad input."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from gateway.errors import BadRequest
from gateway.responses.items import chat_messages, parse_input
from gateway.responses.request import parse_request


def counter_ids() -> Callable[[str], str]:
    count = itertools.count()
    return lambda prefix: f"{prefix}_{next(count)}"


def chat(body: dict[str, Any], history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return parse_request(body, counter_ids()).chat_body(history or [])


def test_string_input_and_instructions() -> None:
    out = chat({"model": "auto", "input": "Hello", "instructions": "Be brief."})
    assert out == {
        "model": "auto",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
    }


def test_effort_and_sampling_map_to_the_chat_fields() -> None:
    out = chat(
        {
            "model": "auto",
            "input": "x",
            "reasoning": {"effort": "high", "summary": "auto"},
            "max_output_tokens": 300,
            "temperature": 0.2,
            "top_p": 0.9,
            "user": "u1",
            "metadata": {"k": "v"},
            "store": False,
            "top_k": 20,  # not a Responses field: passes through to vLLM like on chat completions
            "include": ["reasoning.encrypted_content"],
            "truncation": "disabled",
            "prompt_cache_key": "abc",
        }
    )
    assert out == {
        "model": "auto",
        "messages": [{"role": "user", "content": "x"}],
        "reasoning": {"effort": "high"},
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u1",
        "top_k": 20,
    }


def test_stream_asks_the_backend_for_usage() -> None:
    out = chat({"model": "m", "input": "x", "stream": True})
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}


def test_function_tools_and_tool_choice() -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    }
    req = parse_request(
        {
            "model": "m",
            "input": "x",
            "tools": [tool],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "parallel_tool_calls": False,
        }
    )
    body = req.chat_body([])
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": tool["parameters"],
                "description": "Weather of a city",
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert req.tools_echo == [tool]
    assert req.tool_choice_echo == {"type": "function", "name": "get_weather"}


def test_allowed_tools_narrows_the_tool_list() -> None:
    tools = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in ("a", "b", "c")]
    body = chat(
        {
            "model": "m",
            "input": "x",
            "tools": tools,
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "b"}],
            },
        }
    )
    assert [t["function"]["name"] for t in body["tools"]] == ["b"]
    assert body["tool_choice"] == "required"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        pytest.param({"type": "text"}, None, id="text"),
        pytest.param({"type": "json_object"}, {"type": "json_object"}, id="json-object"),
        pytest.param(
            {"type": "json_schema", "name": "person", "schema": {"type": "object"}, "strict": True},
            {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": True},
            },
            id="json-schema",
        ),
    ],
)
def test_text_format_becomes_response_format(fmt: dict[str, Any], expected: dict[str, Any] | None) -> None:
    body = chat({"model": "m", "input": "x", "text": {"format": fmt}})
    assert body.get("response_format") == expected


def test_tool_loop_items_become_one_assistant_turn_and_a_tool_message() -> None:
    items = parse_input(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "Use the tool."}],
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        ],
        counter_ids(),
    )
    assert chat_messages(items, None) == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning": "Use the tool.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]


def test_parts_images_developer_and_assistant_echo() -> None:
    items = parse_input(
        [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_9",
                "status": "completed",
                "content": [{"type": "output_text", "text": "A cat.", "annotations": []}],
            },
            {"role": "user", "content": "Sure?"},
        ],
        counter_ids(),
    )
    assert items[2]["id"] == "msg_9" and items[0]["id"] == "msg_0"
    assert chat_messages(items, "sys") == [
        {"role": "system", "content": "sys"},
        {"role": "system", "content": "rules"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
            ],
        },
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Sure?"},
    ]


def test_history_comes_before_the_new_input() -> None:
    history = parse_input([{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}])
    body = chat({"model": "m", "input": "3", "instructions": "i"}, history)
    assert [m["content"] for m in body["messages"]] == ["i", "1", "2", "3"]


def test_consecutive_calls_share_a_turn_and_text_after_calls_starts_a_new_one() -> None:
    items = parse_input(
        [
            {"role": "user", "content": "go"},
            {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "b", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "a", "output": [{"type": "input_text", "text": "A"}]},
            {"type": "function_call_output", "call_id": "b", "output": "B"},
            {"role": "assistant", "content": "done"},
        ]
    )
    roles = [(m["role"], len(m.get("tool_calls", []))) for m in chat_messages(items, None)]
    assert roles == [("user", 0), ("assistant", 2), ("tool", 0), ("tool", 0), ("assistant", 0)]


BAD: list[Any] = [
    pytest.param({"input": "x"}, "model", id="no-model"),
    pytest.param({"model": "m"}, "input", id="no-input"),
    pytest.param({"model": "m", "input": []}, "input", id="empty-input"),
    pytest.param({"model": "m", "input": 3}, "input", id="input-number"),
    pytest.param({"model": "m", "input": [{"type": "web_search_call"}]}, "input[0].type", id="hosted-item"),
    pytest.param(
        {"model": "m", "input": [{"type": "item_reference", "id": "x"}]}, "input[0].type", id="item-ref"
    ),
    pytest.param({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role", id="bad-role"),
    pytest.param({"model": "m", "input": [{"role": "user"}]}, "input[0].content", id="no-content"),
    pytest.param(
        {"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "input[0].content[0].type",
        id="input-file",
    ),
    pytest.param(
        {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
        "input[0].content[0].file_id",
        id="image-file-id",
    ),
    pytest.param(
        {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
        "input[0].call_id",
        id="call-without-id",
    ),
    pytest.param(
        {"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": 5}]},
        "input[0].output",
        id="output-number",
    ),
    pytest.param(
        {"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", id="hosted-tool"
    ),
    pytest.param(
        {"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name", id="tool-no-name"
    ),
    pytest.param(
        {"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}},
        "tool_choice.name",
        id="choice-unknown-function",
    ),
    pytest.param(
        {"model": "m", "input": "x", "tool_choice": "required"}, "tool_choice", id="required-no-tools"
    ),
    pytest.param({"model": "m", "input": "x", "reasoning": "high"}, "reasoning", id="reasoning-string"),
    pytest.param(
        {"model": "m", "input": "x", "reasoning": {"summary": "long"}}, "reasoning.summary", id="bad-summary"
    ),
    pytest.param({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens", id="zero-max"),
    pytest.param({"model": "m", "input": "x", "temperature": 3}, "temperature", id="temperature"),
    pytest.param({"model": "m", "input": "x", "top_p": "1"}, "top_p", id="top-p-string"),
    pytest.param({"model": "m", "input": "x", "store": "yes"}, "store", id="store-string"),
    pytest.param({"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata.k", id="metadata-number"),
    pytest.param(
        {"model": "m", "input": "x", "metadata": {str(i): "v" for i in range(17)}},
        "metadata",
        id="metadata-17",
    ),
    pytest.param(
        {"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}},
        "text.format.name",
        id="schema-no-name",
    ),
    pytest.param(
        {"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type", id="yaml"
    ),
    pytest.param({"model": "m", "input": "x", "background": True}, "background", id="background"),
    pytest.param({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation", id="conversation"),
    pytest.param({"model": "m", "input": "x", "prompt": {"id": "p"}}, "prompt", id="prompt"),
    pytest.param(
        {"model": "m", "input": "x", "include": ["file_search_call.results"]}, "include[0]", id="include"
    ),
    pytest.param({"model": "m", "input": "x", "messages": []}, "messages", id="chat-messages"),
    pytest.param({"model": "m", "input": "x", "max_tokens": 5}, "max_tokens", id="chat-max-tokens"),
    pytest.param(
        {"model": "m", "input": "x", "previous_response_id": ""}, "previous_response_id", id="empty-previous"
    ),
]


@pytest.mark.parametrize(("body", "param"), BAD)
def test_bad_input_is_a_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(body)
    assert info.value.status == 400
    assert info.value.param == param, info.value.message
