"""The chat front door's validation: the quick check for plain bodies agrees with the pydantic model on what
passes and what the fields are; everything else gets the model's own 400 (gateway/protocol.py)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gateway.errors import BadRequest
from gateway.protocol import _plainly_valid, chat_fields, validate_chat

MSG = {"role": "user", "content": "hi"}

PLAIN: list[dict[str, Any]] = [
    {"model": "auto", "messages": [MSG]},
    {"model": "m", "messages": [MSG], "stream": True, "stream_options": {"include_usage": True}},
    {"model": "m", "messages": [MSG], "stream": True, "stream_options": {}},
    {"model": "m", "messages": [MSG], "stream": False, "stream_options": None, "n": 2, "max_tokens": None},
    {"model": "m", "messages": [MSG], "max_tokens": 5, "max_completion_tokens": 7, "tools": [{"x": 1}]},
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": None},
            {"role": "developer", "content": [{"type": "text", "text": "x"}], "name": "d"},
            {"role": "assistant", "tool_calls": [{"id": "c"}]},
            {"role": "tool", "content": "r", "tool_call_id": "c"},
            {"role": "function", "content": "r", "_private": 1},
        ],
        "_extra": {"nested": [1]},
    },
]

#: each replaces one field of a plain body with a value the quick check leaves to pydantic
ODD: list[tuple[str, Any]] = [
    ("model", ""),
    ("model", 5),
    ("model", None),
    ("stream", None),
    ("stream", "true"),
    ("stream", 1),
    ("stream_options", {"include_usage": "yes"}),
    ("stream_options", {"include_usage": None}),
    ("stream_options", []),
    ("n", 0),
    ("n", 129),
    ("n", True),
    ("n", None),
    ("n", 2.0),
    ("max_tokens", 0),
    ("max_tokens", False),
    ("max_tokens", "5"),
    ("max_completion_tokens", 0),
    ("messages", []),
    ("messages", "hi"),
    ("messages", None),
    ("messages", [{"role": "wizard"}]),
    ("messages", [{"role": ["user"]}]),
    ("messages", [{"content": "x"}]),
    ("messages", [{"role": "user", "content": 5}]),
    ("messages", [{"role": "user", "content": ["text"]}]),
    ("messages", [{"role": "user", "content": {"text": "x"}}]),
    ("messages", ["hi"]),
]


def outcome(fn: Any, body: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return ("ok", fn(body))
    except BadRequest as exc:
        return ("400", exc.message, exc.param, exc.code)


def by_model(body: dict[str, Any]) -> tuple[str, bool, bool]:
    req = validate_chat(body)
    return req.model, req.stream, bool(req.stream_options and req.stream_options.include_usage)


@pytest.mark.parametrize("body", PLAIN)
def test_plain_bodies_skip_the_model_with_the_same_fields(body: dict[str, Any]) -> None:
    assert _plainly_valid(body)
    assert outcome(chat_fields, body) == outcome(by_model, body)


@pytest.mark.parametrize(("base", "change"), list(itertools.product(range(len(PLAIN)), ODD)))
def test_anything_else_gets_the_models_answer(base: int, change: tuple[str, Any]) -> None:
    key, value = change
    body = {**PLAIN[base], key: value}
    assert not _plainly_valid(body) or outcome(by_model, body)[0] == "ok"
    assert outcome(chat_fields, body) == outcome(by_model, body)


def test_missing_fields_get_the_models_message() -> None:
    for key in ("model", "messages"):
        body = {k: v for k, v in PLAIN[0].items() if k != key}
        got = outcome(chat_fields, body)
        assert got == outcome(by_model, body) and got[0] == "400" and "missing required field" in got[1]
