"""Reasoning-token accounting when the backend leaves it out (vLLM < 0.28)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tokenizers import Tokenizer

from gateway.proxy.accounting import fill_completion, lacks_reasoning_count
from gateway.tokens import LocalCounter, qwen_tokenizer_path


@pytest.fixture(scope="module")
def qwen() -> LocalCounter:
    return LocalCounter.qwen3()


async def test_qwen_tokenizer_counts_like_vllm(qwen: LocalCounter) -> None:
    # vLLM's /tokenize of "Hello <think>" is [9707, 220, 151667]
    assert await qwen.count("Hello <think>") == 3
    assert await qwen.count("") == 0


@pytest.mark.parametrize(
    ("usage", "lacks"),
    [
        ({"prompt_tokens": 1, "completion_tokens": 2}, True),
        ({"completion_tokens_details": None}, True),
        ({"completion_tokens_details": {"reasoning_tokens": None}}, True),
        ({"completion_tokens_details": {"reasoning_tokens": 0}}, False),
        (None, False),
    ],
)
def test_lacks(usage: Any, lacks: bool) -> None:
    assert lacks_reasoning_count(usage) is lacks


async def test_fill_counts_every_choice(qwen: LocalCounter) -> None:
    body = {
        "choices": [
            {"message": {"reasoning": "Hello <think>"}},
            {"message": {"reasoning_content": "Hello"}},
            {"message": {"reasoning": None, "content": "x"}},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 9, "completion_tokens_details": None},
    }
    assert await fill_completion(body, qwen) is True
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}


async def test_fill_keeps_the_backend_count(qwen: LocalCounter) -> None:
    body = {
        "choices": [{"message": {"reasoning": "Hello"}}],
        "usage": {"completion_tokens_details": {"reasoning_tokens": 7}},
    }
    assert await fill_completion(body, qwen) is False
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 7}


async def test_zero_reported_with_reasoning_is_recounted(qwen: LocalCounter) -> None:
    # vLLM 0.32 + deepseek_r1 parser + a template that opens <think> reports 0 for real reasoning
    body = {
        "choices": [{"message": {"reasoning": "Hello"}}],
        "usage": {"completion_tokens_details": {"reasoning_tokens": 0}},
    }
    assert await fill_completion(body, qwen) is True
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 1}
    no_reasoning = {
        "choices": [{"message": {"reasoning": None}}],
        "usage": {"completion_tokens_details": {"reasoning_tokens": 0}},
    }
    assert await fill_completion(no_reasoning, qwen) is False


async def test_qwen_tokenizer_loads_on_first_count() -> None:
    """Issue 18: the tokenizer (~95 MB) is loaded only when a count needs it, once for concurrent counts."""
    loads = []

    def load() -> Tokenizer:
        loads.append(1)
        return Tokenizer.from_file(str(qwen_tokenizer_path()))

    counter = LocalCounter(load)
    assert not counter.loaded
    counts = await asyncio.gather(*(counter.count("Hello <think>") for _ in range(4)))
    assert counter.loaded and len(loads) == 1
    assert counts == [3, 3, 3, 3]
