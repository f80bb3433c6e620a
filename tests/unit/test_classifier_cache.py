"""The gateway's classifier keeps predictions by what the classifier reads: the steps of one agent task (tool
calls and results appended after the same user turn) are classified once, with the same answer as uncached."""

from __future__ import annotations

import random
from typing import Any

import pytest

import gateway.classifier_loader as loader
from gateway.classifier_artifact import load_classifier
from router.classifier import EffortClassifier, Prediction, Reading, choose_effort, read_view, reading_of
from router.conversation import followup_weight, leaning, read_latest, view_from_messages
from router.policy import Policy, parse_policy

TASK = "Find the failing test in the repo and fix the off-by-one in the date parser."


def _policy() -> Policy:
    backends = {"p": {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": ["http://127.0.0.1:1"]}}
    return parse_policy({"version": 1, "backends": backends})


def _steps(n: int) -> list[list[dict[str, Any]]]:
    """Step 0 .. n-1 of one agent task: each resends the trajectory with one more call and result."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a coding agent."}]
    messages.append({"role": "user", "content": TASK})
    out = [list(messages)]
    for i in range(1, n):
        call = {"id": f"c{i}", "type": "function", "function": {"name": "run", "arguments": f'{{"i": {i}}}'}}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": f"output {i}\n" * 50})
        out.append(list(messages))
    return out


class Counting:
    """The artifact's classifier, counting the predictions it computes."""

    def __init__(self, inner: EffortClassifier) -> None:
        self.inner, self.calls = inner, 0

    def predict_reading(self, reading: Reading) -> Prediction:
        self.calls += 1
        return self.inner.predict_reading(reading)


@pytest.fixture()
def counting(monkeypatch: pytest.MonkeyPatch) -> Counting:
    model = Counting(load_classifier(None))
    monkeypatch.setattr(loader, "load_classifier", lambda _artifact: model)
    return model


def test_the_steps_of_one_task_are_classified_once(counting: Counting) -> None:
    classify = loader.load_default_classifier(_policy())
    steps = _steps(6)
    results = [classify(messages, True) for messages in steps]
    assert counting.calls == 1
    uncached = [counting.inner.predict(view_from_messages(m, tools=True)).p_think for m in steps]
    assert [r[1]["p_think"] for r in results] == [round(p, 4) for p in uncached]
    assert len({r for r in map(repr, results)}) == 1


def test_a_new_user_turn_tools_or_context_is_a_new_reading(counting: Counting) -> None:
    classify = loader.load_default_classifier(_policy())
    base = [{"role": "user", "content": TASK}]
    classify(base, True)
    classify(base, False)
    classify([{"role": "system", "content": "Be brief."}, *base], True)
    classify([*base, {"role": "assistant", "content": "Done."}, {"role": "user", "content": "thanks!"}], True)
    assert counting.calls == 4


def test_long_readings_are_not_kept(counting: Counting, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_CACHED_CHARS", 100)
    classify = loader.load_default_classifier(_policy())
    long_task = [{"role": "user", "content": TASK * 5}]
    assert len(read_view(view_from_messages(long_task)).latest) > 100
    classify(long_task, False)
    classify(long_task, False)
    assert counting.calls == 2


def _random_messages(rng: random.Random) -> list[Any]:
    """A conversation of odd and ordinary messages: roles anywhere, list/None/blank content, non-messages."""
    words = [
        "it",
        "why",
        "thanks",
        "now",
        "prove",
        "the",
        "same",
        "sort",
        "in",
        "Java",
        "ok",
        "what",
        "about",
    ]
    texts = ["", "   ", "thanks!", "why?", "continue", "x" * 700, " ".join(rng.choices(words, k=30)), TASK]

    def content() -> Any:
        kind = rng.randrange(6)
        if kind == 0:
            return None
        if kind == 1:
            return [
                {"type": "text", "text": rng.choice(texts)},
                {"type": "image_url", "image_url": {"url": "u"}},
            ]
        if kind == 2:
            return [rng.choice(texts), {"type": "output_text", "text": rng.choice(texts)}, 7]
        return rng.choice(texts) + " " + " ".join(rng.choices(words, k=rng.randrange(8)))

    roles = ["user", "user", "assistant", "tool", "system", "developer", "function", 3, None]
    out: list[Any] = []
    for _ in range(rng.randrange(12)):
        if rng.random() < 0.05:
            out.append(rng.choice(["junk", 5, None]))
        else:
            out.append({"role": rng.choice(roles), "content": content()})
    return out


def test_the_cache_key_reads_what_the_view_reads() -> None:
    """read_latest gives the view's latest user turn and context; the readings, predictions and efforts are the
    ones of the view of the whole conversation."""
    clf = load_classifier(None)
    thresholds = _policy().classifier.thresholds
    rng = random.Random(18)
    conversations: list[Any] = [*_steps(4), "text", None, {"role": "user"}, []]
    conversations += [_random_messages(rng) for _ in range(400)]
    for messages in conversations:
        for tools in (False, True):
            view = view_from_messages(messages, tools=tools)
            latest, context, other_turns = read_latest(messages)
            assert (latest, context) == (view.latest_user, view.context())
            reading = reading_of(latest, context, other_turns, tools)
            assert reading == read_view(view)
            fast, slow = clf.predict_reading(reading), clf.predict(view)
            assert fast == slow
            assert choose_effort(fast, thresholds) == choose_effort(slow, thresholds)


def test_leaning_keeps_the_follow_up_rule() -> None:
    view = view_from_messages([{"role": "user", "content": TASK}, {"role": "assistant", "content": "done"}])
    asks = [
        "now do it for n = 7",
        "what about 12?",
        "thanks!",
        "ok, great",
        "why?",
        "the same in Java please",
    ]
    asks += ["thanks! now translate hello into French", "what if the list is empty and sorted " * 5]
    weights = [leaning(text) for text in asks]
    assert weights[:6] == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert weights[6] == 0.0 and 0.6 <= weights[7] < 1.0
    assert followup_weight(view) == 0.0  # the latest user turn is the only user turn, with no reference
    assert followup_weight(view_from_messages([{"role": "user", "content": "why?"}])) == 0.0  # nothing before
