"""Budget-forcing decisions and the per-family early-stop text."""

from __future__ import annotations

import pytest

from templates.errors import InvalidRequestError, UnknownFamilyError
from templates.forcing import ForcingStep, next_forcing_step, think_tags_for
from templates.reasoning import split_reasoning
from templates.registry import get_family

QWEN_STOP = (
    "\n\nConsidering the limited time by the user, "
    "I have to give the solution based on the thinking directly now.\n</think>\n\n"
)
TAGS = think_tags_for(get_family("qwen3"))


def test_qwen_early_stop_text_is_the_published_one() -> None:
    assert TAGS.early_stop_text == QWEN_STOP
    assert think_tags_for(get_family("qwen3-thinking-2507")).early_stop_text == QWEN_STOP


@pytest.mark.parametrize(
    ("generated", "tokens", "budget", "stopped", "expected"),
    [
        pytest.param(
            "<think>\nr\n</think>\n\nans", 10, 100, False, ForcingStep(True, False, "", True, 0), id="natural"
        ),
        pytest.param(
            "<think>\nr\n</think>\n\nans", 10, 100, True, ForcingStep(True, False, "", False, 0), id="done"
        ),
        pytest.param(
            "<think>\nlong", 100, 100, False, ForcingStep(False, True, QWEN_STOP, True, 0), id="exhausted"
        ),
        pytest.param(
            "<think>\nlong", 120, 100, False, ForcingStep(False, True, QWEN_STOP, True, 0), id="over"
        ),
        pytest.param(
            "<think>\nshort", 40, 100, False, ForcingStep(False, False, "", True, 60), id="keep-going"
        ),
        pytest.param(
            "<think>\ncut", 40, 100, True, ForcingStep(False, False, "", False, 0), id="eos-in-think"
        ),
        pytest.param("", 0, 0, False, ForcingStep(False, True, QWEN_STOP, True, 0), id="budget-zero"),
    ],
)
def test_next_forcing_step(
    generated: str, tokens: int, budget: int, stopped: bool, expected: ForcingStep
) -> None:
    assert (
        next_forcing_step(TAGS, generated, thinking_tokens=tokens, budget=budget, stopped=stopped) == expected
    )


@pytest.mark.parametrize(
    "family", ["qwen3", "qwen3-thinking-2507", "deepseek-r1", "deepseek-v3.1", "glm-4.5", "smollm3"]
)
def test_forced_text_parses_back_into_reasoning_and_answer(family: str) -> None:
    fam = get_family(family)
    tags = think_tags_for(fam)
    prefix = "" if fam.opens_think else "<think>\n"
    text = prefix + "partial thought" + tags.early_stop_text + "Final answer."
    split = split_reasoning(text, thinking=True, opens_think=fam.opens_think)
    assert split.content == "Final answer."
    assert split.reasoning is not None and split.reasoning.startswith("partial thought")
    assert not split.truncated


@pytest.mark.parametrize("family", ["gpt-oss", "granite", "qwen3-instruct-2507"])
def test_families_without_think_tags_cannot_be_forced(family: str) -> None:
    with pytest.raises(UnknownFamilyError, match="budget forcing is not possible"):
        think_tags_for(get_family(family))


@pytest.mark.parametrize(("tokens", "budget"), [(-1, 10), (1, -5), (True, 10), (1, 2.5)])
def test_bad_counts_raise(tokens: object, budget: object) -> None:
    with pytest.raises(InvalidRequestError, match="non-negative int"):
        next_forcing_step(TAGS, "", thinking_tokens=tokens, budget=budget, stopped=False)  # type: ignore[arg-type]
