"""Unit tests of the simulator's deterministic model: shapes, budget, max_tokens and stop arithmetic."""

from __future__ import annotations

import pytest

from simulator.generation import GenerationRequest, Phase, StartState, generate, start_state
from simulator.tokenizer import IM_END_ID, THINK_END_ID, THINK_START_ID, SimTokenizer

HYBRID_PROMPT = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
NO_THINK_PROMPT = HYBRID_PROMPT + "<think>\n\n</think>\n\n"
IN_THINK_PROMPT = HYBRID_PROMPT + "<think>\n"


@pytest.fixture(scope="module")
def tok() -> SimTokenizer:
    return SimTokenizer.load()


def _req(tok: SimTokenizer, prompt: str, **kw: object) -> GenerationRequest:
    base: dict[str, object] = {
        "prompt_ids": tok.encode(prompt),
        "thinks": True,
        "seed": 7,
        "reasoning_words": 30,
        "answer_words": 12,
        "max_tokens": 1000,
    }
    base.update(kw)
    return GenerationRequest(**base)  # type: ignore[arg-type]


def test_same_inputs_give_same_output_and_seed_changes_it(tok: SimTokenizer) -> None:
    a = generate(tok, _req(tok, HYBRID_PROMPT))
    b = generate(tok, _req(tok, HYBRID_PROMPT))
    c = generate(tok, _req(tok, HYBRID_PROMPT, seed=8))
    d = generate(tok, _req(tok, HYBRID_PROMPT.replace("hello", "hi")))
    assert a == b
    assert a.token_ids != c.token_ids
    assert a.token_ids != d.token_ids


def test_thinking_turn_has_vllm_qwen3_shape(tok: SimTokenizer) -> None:
    gen = generate(tok, _req(tok, HYBRID_PROMPT))
    assert gen.token_ids[0] == THINK_START_ID
    assert gen.token_ids[-1] == IM_END_ID
    assert gen.finish_reason == "stop"
    reasoning, content = gen.reasoning(), gen.content()
    assert reasoning is not None and content is not None
    assert reasoning.startswith("\n") and reasoning.endswith("\n")
    assert content.startswith("\n\n") and not content.startswith("\n\n\n")
    assert len(reasoning.split()) == 30
    end = gen.token_ids.index(THINK_END_ID)
    assert gen.reasoning_tokens == end - 1  # strictly between <think> and </think>
    assert tok.decode(gen.token_ids) == f"<think>{reasoning}</think>{content}"


@pytest.mark.parametrize(
    ("prompt", "thinks", "expected"),
    [
        pytest.param(HYBRID_PROMPT, True, StartState.FRESH_TURN, id="fresh"),
        pytest.param(NO_THINK_PROMPT, True, StartState.ANSWER, id="empty-think-block"),
        pytest.param(IN_THINK_PROMPT, True, StartState.IN_THINK, id="open-think"),
        pytest.param(
            IN_THINK_PROMPT + "abc</think>", True, StartState.AFTER_THINK_END, id="closed-right-now"
        ),
        pytest.param("Once upon a time", True, StartState.ANSWER, id="plain-text"),
    ],
)
def test_start_state(tok: SimTokenizer, prompt: str, thinks: bool, expected: StartState) -> None:
    assert start_state(tok.encode(prompt)) is expected


def test_non_thinking_prompt_gives_answer_only(tok: SimTokenizer) -> None:
    gen = generate(tok, _req(tok, NO_THINK_PROMPT))
    assert gen.reasoning() is None
    assert gen.reasoning_tokens == 0
    assert THINK_START_ID not in gen.token_ids
    content = gen.content()
    assert content is not None and content[0].isupper()


def test_model_that_does_not_think_answers_on_fresh_turn(tok: SimTokenizer) -> None:
    gen = generate(tok, _req(tok, HYBRID_PROMPT, thinks=False))
    assert gen.reasoning() is None and gen.content() is not None


def test_open_think_prompt_continues_without_opening_tag(tok: SimTokenizer) -> None:
    gen = generate(tok, _req(tok, IN_THINK_PROMPT))
    assert THINK_START_ID not in gen.token_ids
    reasoning = gen.reasoning()
    assert reasoning is not None and not reasoning.startswith("\n") and reasoning.endswith("\n")
    assert gen.token_ids[gen.reasoning_tokens] == THINK_END_ID


@pytest.mark.parametrize("budget", [0, 1, 3, 10, 500])
def test_budget_cuts_reasoning_then_forces_end(tok: SimTokenizer, budget: int) -> None:
    natural = generate(tok, _req(tok, HYBRID_PROMPT)).reasoning_tokens
    gen = generate(tok, _req(tok, HYBRID_PROMPT, thinking_token_budget=budget))
    assert gen.reasoning_tokens == min(budget, natural)
    assert gen.token_ids[gen.reasoning_tokens + 1] == THINK_END_ID
    content = gen.content()
    assert content is not None and content.startswith("\n\n")
    assert gen.finish_reason == "stop"


def test_budget_counts_prompt_tokens_inside_open_think(tok: SimTokenizer) -> None:
    # vLLM's processor counts the "\n" after the prompt's <think> against the budget.
    gen = generate(tok, _req(tok, IN_THINK_PROMPT, thinking_token_budget=4))
    assert gen.reasoning_tokens == 3


def test_unlimited_budget_is_minus_one(tok: SimTokenizer) -> None:
    assert generate(tok, _req(tok, HYBRID_PROMPT, thinking_token_budget=-1)) == generate(
        tok, _req(tok, HYBRID_PROMPT)
    )


@pytest.mark.parametrize("max_tokens", [1, 2, 5, 20])
def test_max_tokens_inside_reasoning(tok: SimTokenizer, max_tokens: int) -> None:
    gen = generate(tok, _req(tok, HYBRID_PROMPT, max_tokens=max_tokens))
    assert len(gen.token_ids) == max_tokens
    assert gen.finish_reason == "length"
    assert gen.content() is None
    assert gen.reasoning_tokens == max_tokens - 1


def test_max_tokens_arithmetic_at_the_end(tok: SimTokenizer) -> None:
    full = generate(tok, _req(tok, HYBRID_PROMPT))
    n = len(full.token_ids)
    exact = generate(tok, _req(tok, HYBRID_PROMPT, max_tokens=n))
    short = generate(tok, _req(tok, HYBRID_PROMPT, max_tokens=n - 1))
    assert exact.finish_reason == "stop" and exact.token_ids == full.token_ids
    assert short.finish_reason == "length" and short.token_ids == full.token_ids[:-1]
    assert short.content() == full.content()  # the cut token is <|im_end|>, which has no text


def test_stop_string_truncates_text_and_reports_it(tok: SimTokenizer) -> None:
    full = generate(tok, _req(tok, NO_THINK_PROMPT))
    content = full.content()
    assert content is not None
    word = content.split()[3]
    gen = generate(tok, _req(tok, NO_THINK_PROMPT, stop=(word,)))
    assert gen.finish_reason == "stop" and gen.stop_reason == word
    assert gen.content() == (content[: content.index(word)] or None)
    assert len(gen.pieces) == len(gen.token_ids) == len(gen.phases)


def test_phases_partition_the_text(tok: SimTokenizer) -> None:
    gen = generate(tok, _req(tok, HYBRID_PROMPT, thinking_token_budget=5))
    markers = [t for t, ph in zip(gen.token_ids, gen.phases, strict=True) if ph is Phase.MARKER]
    assert markers == [THINK_START_ID, THINK_END_ID]
    assert gen.text == "<think>" + (gen.reasoning() or "") + "</think>" + (gen.content() or "")
