"""Messages request → internal chat body (gateway.anthropic.translate), validation errors, signatures."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.anthropic.message import stop_reason, to_message, tool_input
from gateway.anthropic.protocol import validate_count_tokens, validate_messages
from gateway.anthropic.signature import ThinkingSigner
from gateway.anthropic.translate import Translated, interleaved, to_chat
from gateway.errors import BadRequest
from router.signals import explicit_signals, merge

SIGNER = ThinkingSigner(b"unit-test-secret-0123456789")


def chat(body: dict[str, Any], *, beta: bool = False, on_invalid: str = "drop") -> Translated:
    req = validate_messages({"model": "auto", "max_tokens": 256, **body})
    return to_chat(req, signer=SIGNER, on_invalid_thinking=on_invalid, interleaved=beta)  # type: ignore[arg-type]


def thinking(text: str, signature: str | None = None) -> dict[str, Any]:
    return {
        "type": "thinking",
        "thinking": text,
        "signature": SIGNER.sign(text) if signature is None else signature,
    }


def test_plain_request() -> None:
    t = chat(
        {
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use French."}],
            "messages": [{"role": "user", "content": "Hi"}],
            "stop_sequences": ["END"],
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 20,
            "metadata": {"user_id": "u-1"},
            "stream": True,
        }
    )
    assert t.body == {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "Be brief.\nUse French."},
            {"role": "user", "content": "Hi"},
        ],
        "max_tokens": 256,
        "stream": True,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 20,
        "stop": ["END"],
        "user": "u-1",
    }
    assert t.stop_sequences == ("END",)


def test_tool_loop_with_signed_thinking() -> None:
    tools = [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    t = chat(
        {
            "tools": tools,
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "thinking": {"type": "enabled", "budget_tokens": 100},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                {
                    "role": "assistant",
                    "content": [
                        thinking("Need the tool."),
                        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "boom"}],
                            "is_error": True,
                        },
                    ],
                },
            ],
        }
    )
    msgs = t.body["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "content": "",
        "reasoning": "Need the tool.",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert msgs[2] == {"role": "tool", "tool_call_id": "t1", "content": "Error: boom", "is_error": True}
    assert t.body["tools"][0]["function"]["parameters"] == tools[0]["input_schema"]
    assert t.body["tool_choice"] == "required" and t.body["parallel_tool_calls"] is False
    assert t.body["thinking"] == {"type": "enabled", "budget_tokens": 100}
    assert (t.kept_thinking, t.dropped_thinking) == (1, 0)
    ask = merge(explicit_signals(t.body, None))
    assert ask is not None and ask.on and ask.budget == 100


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param({"type": "auto"}, "auto", id="auto"),
        pytest.param({"type": "any"}, "required", id="any"),
        pytest.param(
            {"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}, id="tool"
        ),
        pytest.param({"type": "none"}, "none", id="none"),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    t = chat(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": choice,
        }
    )
    assert t.body["tool_choice"] == expected


def test_tool_results_come_before_the_users_text() -> None:
    t = chat(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "a", "name": "f", "input": {}},
                        {"type": "tool_use", "id": "b", "name": "f", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "a", "content": "1"},
                        {"type": "tool_result", "tool_use_id": "b"},
                        {"type": "text", "text": "now answer"},
                    ],
                },
            ]
        }
    )
    roles = [(m["role"], m.get("tool_call_id")) for m in t.body["messages"]]
    assert roles == [("user", None), ("assistant", None), ("tool", "a"), ("tool", "b"), ("user", None)]
    assert t.body["messages"][3]["content"] == ""


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(thinking("Made up.", signature="tg1.AAAA"), id="forged"),
        pytest.param(thinking("Edited.", signature=SIGNER.sign("Original.")), id="edited"),
        pytest.param(
            {"type": "thinking", "thinking": "x", "signature": "EqQBCkYIBxgCKkD"}, id="anthropic-signature"
        ),
        pytest.param({"type": "redacted_thinking", "data": "EmwKAhgBEgy"}, id="redacted"),
        pytest.param(
            thinking(
                "Other secret.", signature=ThinkingSigner(b"another-secret-0123456789").sign("Other secret.")
            ),
            id="other-replica-secret",
        ),
    ],
)
def test_invalid_thinking_is_dropped_or_rejected(block: dict[str, Any]) -> None:
    body = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [block, {"type": "tool_use", "id": "t", "name": "f", "input": {}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
        ]
    }
    t = chat(body)
    assert t.dropped_thinking == 1 and "reasoning" not in t.body["messages"][1]
    with pytest.raises(BadRequest) as err:
        chat(body, on_invalid="reject")
    assert err.value.status == 400 and err.value.code == "invalid_thinking_signature"
    assert err.value.param == "messages.1.content.0.signature"


def test_interleaved_beta_keeps_every_steps_thinking() -> None:
    messages = [
        {"role": "user", "content": "task"},
        {
            "role": "assistant",
            "content": [thinking("plan"), {"type": "tool_use", "id": "1", "name": "f", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1", "content": "r1"}]},
        {
            "role": "assistant",
            "content": [thinking("step two"), {"type": "tool_use", "id": "2", "name": "f", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "2", "content": "r2"}]},
    ]
    plain = chat({"messages": messages})
    assert [m.get("reasoning") for m in plain.body["messages"] if m["role"] == "assistant"] == ["plan", None]
    inter = chat({"messages": messages}, beta=True)
    assert [m.get("reasoning") for m in inter.body["messages"] if m["role"] == "assistant"] == [
        "plan",
        "step two",
    ]
    assert (
        interleaved("foo-2025-01-01, interleaved-thinking-2025-05-14")
        and not interleaved("other")
        and not interleaved(None)
    )


@pytest.mark.parametrize(
    ("thinking_param", "output_config", "expected"),
    [
        pytest.param({"type": "disabled"}, None, {"thinking": {"type": "disabled"}}, id="disabled"),
        pytest.param(
            {"type": "adaptive"},
            {"effort": "low"},
            {"thinking": {"type": "adaptive"}, "reasoning_effort": "low"},
            id="adaptive+effort",
        ),
        pytest.param(
            {"type": "enabled", "budget_tokens": 50, "display": "omitted"},
            None,
            {"thinking": {"type": "enabled", "budget_tokens": 50}, "reasoning": {"exclude": True}},
            id="omitted",
        ),
    ],
)
def test_thinking_signals(
    thinking_param: dict[str, Any], output_config: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "thinking": thinking_param}
    if output_config:
        body["output_config"] = output_config
    t = chat(body)
    assert {k: t.body[k] for k in expected} == expected
    assert t.show_thinking is (thinking_param.get("display") != "omitted")


def test_prefill_continues_the_final_assistant_message() -> None:
    t = chat(
        {
            "messages": [
                {"role": "user", "content": "Pick A or B"},
                {"role": "assistant", "content": "The answer is ("},
            ]
        }
    )
    assert t.body["continue_final_message"] is True and t.body["add_generation_prompt"] is False


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({"messages": [{"role": "user", "content": "x"}]}, "max_tokens", id="max_tokens-missing"),
        pytest.param(
            {"max_tokens": 0, "messages": [{"role": "user", "content": "x"}]},
            "max_tokens",
            id="max_tokens-zero",
        ),
        pytest.param({"max_tokens": 10, "messages": []}, "messages", id="no-messages"),
        pytest.param(
            {"max_tokens": 10, "messages": [{"role": "system", "content": "x"}]},
            "messages.0.role",
            id="bad-role",
        ),
        pytest.param(
            {
                "max_tokens": 10,
                "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}],
            },
            "messages.0.content",
            id="document-block",
        ),
        pytest.param(
            {"max_tokens": 10, "messages": [{"role": "user", "content": "x"}], "temperature": 1.5},
            "temperature",
            id="temperature",
        ),
        pytest.param(
            {
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "x"}],
                "thinking": {"type": "enabled", "budget_tokens": 10},
            },
            None,
            id="budget>=max_tokens",
        ),
        pytest.param(
            {
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "tools.0",
            id="server-tool",
        ),
        pytest.param(
            {"max_tokens": 10, "messages": [{"role": "user", "content": "x"}], "mcp_servers": [{}]},
            "mcp_servers",
            id="mcp",
        ),
        pytest.param(
            {
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "x"}],
                "tool_choice": {"type": "bogus"},
            },
            "tool_choice",
            id="tool_choice",
        ),
    ],
)
def test_bad_requests_are_400(body: dict[str, Any], param: str | None) -> None:
    with pytest.raises(BadRequest) as err:
        validate_messages({"model": "auto", **body})
    assert err.value.status == 400
    if param is not None:
        assert err.value.param is not None and err.value.param.startswith(param)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_use", "id": "1", "name": "f", "input": {}}]}
                ]
            },
            id="tool_use-in-user",
        ),
        pytest.param({"messages": [{"role": "user", "content": []}]}, id="empty-content"),
        pytest.param(
            {
                "messages": [{"role": "user", "content": "x"}],
                "tool_choice": {"type": "tool", "name": "g"},
                "tools": [{"name": "f", "input_schema": {}}],
            },
            id="unknown-tool",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "any"}},
            id="any-without-tools",
        ),
    ],
)
def test_untranslatable_content_is_400(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        chat(body)


def test_count_tokens_request_needs_no_max_tokens() -> None:
    req = validate_count_tokens({"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    t = to_chat(req, signer=SIGNER, on_invalid_thinking="drop", interleaved=False)
    assert "max_tokens" not in t.body


def test_message_from_completion() -> None:
    completion = {
        "choices": [
            {
                "message": {
                    "content": "Hi",
                    "reasoning": "think",
                    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "not json"}}],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4}},
    }
    msg = to_message(completion, msg_id="msg_x", model="claude-x", signer=SIGNER, stop_sequences=())
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert SIGNER.verify("think", msg["content"][0]["signature"])
    assert msg["content"][2]["input"] == {"arguments": "not json"}
    assert msg["stop_reason"] == "tool_use"
    assert msg["usage"]["input_tokens"] == 8 and msg["usage"]["cache_read_input_tokens"] == 4


@pytest.mark.parametrize(
    ("finish", "matched", "tools", "expected"),
    [
        pytest.param("stop", None, False, ("end_turn", None), id="end_turn"),
        pytest.param("length", None, False, ("max_tokens", None), id="length"),
        pytest.param("stop", "##", False, ("stop_sequence", "##"), id="stop-seq"),
        pytest.param("stop", 151645, False, ("end_turn", None), id="eos-token"),
        pytest.param("tool_calls", None, True, ("tool_use", None), id="tool_calls"),
        pytest.param("stop", None, True, ("tool_use", None), id="named-tool-choice"),
    ],
)
def test_stop_reason(finish: str, matched: Any, tools: bool, expected: tuple[str, str | None]) -> None:
    assert stop_reason(finish, matched, ("##",), tools) == expected


def test_tool_input_shapes() -> None:
    assert tool_input('{"a": 1}') == {"a": 1}
    assert tool_input("") == {}
    assert tool_input("[1]") == {"arguments": "[1]"}


def test_signer() -> None:
    sig = SIGNER.sign("abc")
    assert sig.startswith("tg1.") and SIGNER.verify("abc", sig)
    assert (
        not SIGNER.verify("abd", sig)
        and not SIGNER.verify("abc", sig + "x")
        and not SIGNER.verify("abc", "tg1.!!")
    )
    with pytest.raises(ValueError):
        ThinkingSigner(b"short")
    assert not ThinkingSigner.ephemeral().verify("abc", sig)
