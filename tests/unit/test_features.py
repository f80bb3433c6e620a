"""Feature extraction: robustness of the message reader and properties of the signals."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from gateway.classifier_artifact import load_classifier
from router.conversation import ChatView, followup_weight, view_from_messages
from router.features import (
    DENSE_NAMES,
    HEAD_CHARS,
    TAIL_CHARS,
    WordWeights,
    text_features,
    tokens,
    window,
    word_sums,
    word_tokens,
)
from tests.unit.test_classifier_scoring import PROMPTS

LONG = "word " * 50_000


@pytest.mark.parametrize(
    ("messages", "latest"),
    [
        pytest.param([{"role": "user", "content": "Solve 2x + 3 = 7"}], "Solve 2x + 3 = 7", id="string"),
        pytest.param(
            [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
            "a\nb",
            id="parts",
        ),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "x"}},
                        {"type": "text", "text": "hi"},
                    ],
                }
            ],
            "hi",
            id="image-ignored",
        ),
        pytest.param([{"role": "user", "content": None}], "", id="none"),
        pytest.param([{"role": "user", "content": "  \n\t "}], "", id="whitespace"),
        pytest.param([{"role": "user", "content": 42}], "", id="number-content"),
        pytest.param([{"role": "user"}], "", id="missing-content"),
        pytest.param([{"content": "no role"}, {"role": "user", "content": "ok"}], "ok", id="missing-role"),
        pytest.param(["junk", None, 3, {"role": "user", "content": "ok"}], "ok", id="junk-items"),
        pytest.param(
            [{"role": "user", "content": [None, "raw", {"type": "text", "text": 5}]}], "raw", id="odd-parts"
        ),
        pytest.param(
            [{"role": "user", "content": "已知函数 f(x)=x^2，求极值。"}],
            "已知函数 f(x)=x^2，求极值。",
            id="cjk",
        ),
        pytest.param(
            [{"role": "user", "content": "def f(x):\n    return x"}], "def f(x):\n    return x", id="code"
        ),
        pytest.param([{"role": "user", "content": LONG}], LONG.strip(), id="long"),
    ],
)
def test_view_reads_latest_user(messages: list[Any], latest: str) -> None:
    view = view_from_messages(messages)
    assert view.latest_user == latest
    feats = text_features(view.latest_user)
    assert len(feats.dense) == len(DENSE_NAMES)
    assert all(v == v and abs(v) < 1e6 for v in feats.dense)  # finite


@pytest.mark.parametrize("messages", [None, "a string", 5, {}, [], b"bytes"], ids=repr)
def test_view_of_non_lists_is_empty(messages: Any) -> None:
    assert view_from_messages(messages) == ChatView()


def test_view_splits_system_turns_and_ignores_reasoning() -> None:
    view = view_from_messages(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1", "reasoning_content": "SECRET THOUGHTS"},
            {"role": "user", "content": "q2"},
        ],
        tools=True,
    )
    assert view.system == "You are terse.\n\nUse metric units."
    assert view.turns == (("user", "q1"), ("assistant", "a1"), ("user", "q2"))
    assert view.tools is True
    assert view.latest_user == "q2"
    assert "SECRET" not in view.context()
    assert view.context().startswith("a1")


def test_window_bounds_long_text() -> None:
    text = "A" * 10_000 + "B" * 10_000
    win = window(text)
    assert len(win) <= HEAD_CHARS + TAIL_CHARS + 2
    assert win.startswith("A") and win.endswith("B")
    assert window("short") == "short"


def test_length_feature_sees_full_text() -> None:
    short, long = text_features("x " * 2_000), text_features("x " * 20_000)
    i = DENSE_NAMES.index("len_chars")
    assert long.dense[i] > short.dense[i]


def test_tokens_normalise_numbers_and_split_cjk() -> None:
    assert tokens("Add 12 and 3.5!") == ["add", "<n>", "and", "<n>", ".", "<n>", "!"]
    assert tokens("求极值") == ["求", "极", "值"]


def test_features_are_deterministic() -> None:
    text = "Prove that sqrt(2) is irrational. Then compute 3 * 4 + 5."
    assert text_features(text) == text_features(text)


def test_empty_text_flags_empty() -> None:
    feats = text_features("   ")
    assert feats.dense[DENSE_NAMES.index("empty")] == 1.0
    assert feats.grams == frozenset()


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("What is 17 * 23 + 4?", "arithmetic"),
        ("Let $x^2 = \\frac{1}{2}$", "math_notation"),
        ("def f(a):\n    return a[0]\n", "code_lines"),
        ("Premises: all cats are animals. Conclusion: therefore ...", "logic_words"),
        ("Rewrite this sentence more formally", "instruct_verbs"),
        ("A) 12\nB) 14\nC) 16", "choices"),
        ("Kuno Pajula (1885 - 1942) was born in Estonia.", "years"),
        ("The company was founded by Kuno Pajula in New Delhi.", "proper_nouns"),
        ("I want you to act as my travel guide.", "dialogue_words"),
        ("Summarise the article.", "word_length"),
        ("Summarise the article.", "word_variety"),
    ],
)
def test_signals_fire(text: str, signal: str) -> None:
    assert text_features(text).dense[DENSE_NAMES.index(signal)] > 0


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        pytest.param((("user", "What is 2+2?"),), 0.0, id="single-turn"),
        pytest.param((("user", "Solve x^2=4"), ("assistant", "x=2"), ("user", "now for 9")), 1.0, id="short"),
        pytest.param(
            (("user", "Solve x^2=4"), ("assistant", "x=2"), ("user", "word " * 300)), 0.0, id="long-new-topic"
        ),
        pytest.param(
            (
                ("user", "Prove that sqrt(2) is irrational."),
                ("assistant", "Suppose ..."),
                ("user", "thanks! now translate hello into French"),
            ),
            0.0,
            id="new-task-of-its-own",
        ),
        pytest.param(
            (("user", "Solve x^2=4"), ("assistant", "x=2"), ("user", "now do it for n = 7")),
            1.0,
            id="refers-back",
        ),
        pytest.param(
            (
                ("user", "Prove that sqrt(2) is irrational."),
                ("assistant", "Suppose ..."),
                ("user", "thanks!"),
            ),
            0.0,
            id="courtesy-only",
        ),
        pytest.param(
            (("user", "Solve x^2=4"), ("assistant", "x=2"), ("user", "ok great, now do it for n = 7")),
            1.0,
            id="courtesy-then-refers-back",
        ),
        pytest.param(
            (("user", "Solve x^2=4"), ("assistant", "x=2"), ("user", "why?")), 1.0, id="bare-fragment"
        ),
        pytest.param(
            (
                ("user", "Write a sort in C"),
                ("assistant", "..."),
                (
                    "user",
                    "Could you please write the same thing again but in Rust, and keep the comments short",
                ),
            ),
            0.96,
            id="same-medium-length",
        ),
    ],
)
def test_followup_weight(turns: tuple[tuple[str, str], ...], expected: float) -> None:
    assert followup_weight(ChatView(turns=turns)) == pytest.approx(expected)


def _signal(text: str, name: str) -> float:
    return text_features(text).dense[DENSE_NAMES.index(name)]


@pytest.mark.parametrize("text", ["hi", "Hello!", "thanks!", "Hey! How's it going?", "ok, bye"])
def test_small_talk_is_all_social(text: str) -> None:
    """A greeting or a thank-you is made only of courtesy words: nothing to work out."""
    assert _signal(text, "social_share") == 1.0
    assert _signal(text, "content_words") == 0.0


@pytest.mark.parametrize(
    "text", ["Prove that sqrt(2) is irrational.", "Sort these words: pear apple kiwi", "What is 7 + 5?"]
)
def test_tasks_have_content_words(text: str) -> None:
    assert _signal(text, "social_share") == 0.0
    assert _signal(text, "content_words") > 0.0


def test_thanks_with_a_task_is_partly_social() -> None:
    assert 0.0 < _signal("thanks! now translate hello into French", "social_share") < 1.0


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("Betty has 12 pens. She buys 30 more. How many?", "proper_nouns", id="sentence-openers"),
        pytest.param("Add 12345 and 678 to 19, then subtract 3000.", "years", id="not-years"),
        pytest.param("Compute the sum of the first ten primes.", "dialogue_words", id="no-persona"),
        pytest.param("12 + 3 = ?", "word_length", id="no-words"),
    ],
)
def test_prose_signals_stay_quiet(text: str, name: str) -> None:
    assert _signal(text, name) == 0.0


def test_prose_signals_order_texts() -> None:
    """Encyclopaedic prose has more inner capitals and longer words than a word problem; repetition lowers
    the word variety."""
    wiki = "Carzonrent India Private Limited is an Indian car rental company headquartered in New Delhi."
    problem = "Tom has 5 apples and he buys 3 more apples. How many apples does he have now?"
    assert _signal(wiki, "proper_nouns") > _signal(problem, "proper_nouns")
    assert _signal(wiki, "word_length") > _signal(problem, "word_length")
    assert _signal("go go go go go go", "word_variety") < _signal(
        "one two three four five six", "word_variety"
    )
    assert 0.0 < _signal("Tell me a joke", "word_variety") <= 1.0


_PASSAGE = (
    "The Rhine flows from the Swiss Alps through Germany and the Netherlands into the North Sea. " * 8
    + "\n\nQuestion: Through which countries does the Rhine flow before it reaches the North Sea?"
)


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        pytest.param("Write a python function that sorts a list.", "code_request", 1.0, id="code-request"),
        pytest.param("Write a poem about the sea.", "code_request", 0.0, id="poem-is-not-code"),
        pytest.param("Solve for x: 2x + 3 = 7", "math_request", 1.0, id="math-request"),
        pytest.param("Describe the sea in winter.", "math_request", 0.0, id="no-math-request"),
        pytest.param("Who directed the film Alien in 1979?", "entity_question", 1.0, id="entity-with-year"),
        pytest.param("How many apples are left if Tom eats 3 of 12?", "entity_question", 0.0, id="count"),
        pytest.param(
            "Which company founded by Steve Jobs makes the iPhone?", "trivia_question", 1.0, id="trivia"
        ),
        pytest.param("Which of 12, 15 and 18 is divisible by 9?", "trivia_question", 0.0, id="numbers"),
        pytest.param(
            "Come up with a good question for the passage below.", "question_request", 1.0, id="qgen"
        ),
        pytest.param("Answer the question below.", "question_request", 0.0, id="answering"),
        pytest.param("Write one questionnaire for the staff.", "question_request", 0.0, id="other-word"),
        pytest.param("Q: pick one\nA) 12\nB) 14", "numeric_choices", math.log1p(2), id="numeric-choices"),
        pytest.param("Q: pick one\nA) red\nB) blue", "text_choices", math.log1p(2), id="text-choices"),
        pytest.param("Q: pick one\nA) red\nB) blue", "numeric_choices", 0.0, id="no-numeric-choices"),
        pytest.param("Short text with no passage?", "passage_overlap", 0.0, id="no-passage"),
    ],
)
def test_request_shape_signals(text: str, name: str, expected: float) -> None:
    assert _signal(text, name) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Create a responsive login page in HTML and CSS.", "tech_terms"),
        ("Write a short story and a poem about a dragon.", "creative"),
        ("What are some tips for sleeping better? Any advice?", "advice"),
        ("Classify the review: is the sentiment positive or negative?", "classify_cues"),
    ],
)
def test_request_cues_fire(text: str, name: str) -> None:
    assert _signal(text, name) > 0.0
    assert _signal("Tom has 5 apples and buys 3 more. How many now?", name) == 0.0


def test_passage_overlap_reads_the_question_against_the_passage() -> None:
    """Most content words of the final question occur in the passage before it; unrelated text shares none."""
    assert _signal(_PASSAGE, "passage_overlap") > 0.5
    filler = " ".join(f"item{i}" for i in range(150))
    unrelated = filler + "\n\nQuestion: Through which countries does the Rhine flow?"
    assert _signal(unrelated, "passage_overlap") == 0.0


_PARAPHRASE = (
    "Sentence 1: The museum was built in the classic style.\nSentence 2: The museum keeps its classic style."
    "\nQuestion: Do Sentence 1 and Sentence 2 express the same meaning? Yes or No?"
)


@pytest.mark.parametrize(
    ("text", "closed", "read_off"),
    [
        pytest.param(_PARAPHRASE, 1.0, 1.0, id="paraphrase-yes-no"),
        pytest.param("Will the resistance increase or decrease?", 1.0, 1.0, id="two-options"),
        pytest.param(
            "If it rains, then the grass is wet. If the grass is wet, then all shoes get wet. It rains. "
            "Must the shoes be wet? Yes or no?",
            1.0,
            0.0,
            id="premises-make-it-deduction",
        ),
        pytest.param("Is 3 + 4 * 2 equal to 11? True or false?", 1.0, 0.0, id="arithmetic"),
        pytest.param("Solve the equation and say whether x is even or odd?", 1.0, 0.0, id="math-request"),
        pytest.param("Describe the museum in two sentences.", 0.0, 0.0, id="open-answer"),
    ],
)
def test_closed_answer_and_read_off(text: str, closed: float, read_off: float) -> None:
    assert _signal(text, "closed_answer") == closed
    assert _signal(text, "read_off") == read_off


def test_rule_words_are_a_rate() -> None:
    premises = "If all birds fly and every robin is a bird, then every robin flies. Therefore robins fly."
    assert _signal(premises, "rule_words") > _signal(premises + " The sky is blue today." * 20, "rule_words")
    assert _signal("The museum keeps its classic style.", "rule_words") == 0.0


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("напиши историю про лес", "creative", id="russian-story"),
        pytest.param("Escribe un cuento sobre un personaje", "creative", id="spanish-story"),
        pytest.param("写一篇火影忍者同人轻小说", "creative", id="chinese-novel"),
        pytest.param("посчитай мне рентабельность", "math_words", id="russian-calculate"),
        pytest.param("用辛普森方法计算积分", "math_words", id="chinese-integral"),
        pytest.param("Доработай код бота", "code_words", id="russian-code"),
    ],
)
def test_non_english_cues_count_in_their_theme(text: str, name: str) -> None:
    assert _signal(text, name) > 0.0


def test_english_words_do_not_hit_foreign_cues() -> None:
    """Whole words only: "describe" contains "escribe" and "historian" contains "historia"."""
    assert _signal("Describe what the historian wrote.", "creative") == 0.0


# --- text_features' word-vector signal equals word_sums to the last bit (issue 18, session 12) ---------------


@pytest.fixture(scope="module")
def word_table() -> WordWeights:
    table = load_classifier()._words
    assert table
    return table


@pytest.mark.parametrize("text", PROMPTS)
def test_word_signal_equals_word_sums(word_table: WordWeights, text: str) -> None:
    """``text_features``' word-vector signal must *equal* (``==`` on floats) :func:`word_sums`, the plain
    loop, over the counts of the tokens it reads: a rewrite for speed (e.g. the sums folded into its own loop
    over distinct tokens) must add the same products in the same order."""
    expected = word_sums(Counter(word_tokens(text)), word_table) if text.strip() else (0.0,) * 4
    assert text_features(text, word_table).words == expected


def test_word_sums_see_the_order(word_table: WordWeights) -> None:
    """The comparison above is sharp: adding the same products in another order changes a sum's last bit."""
    counts = Counter(word_tokens(PROMPTS[-2] + " " + PROMPTS[7] + " " + PROMPTS[13]))
    backwards = dict(reversed(counts.items()))
    assert word_sums(backwards, word_table) != word_sums(counts, word_table)
