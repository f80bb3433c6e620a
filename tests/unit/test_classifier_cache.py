"""The gateway's classifier keeps predictions by what the classifier reads: the steps of one agent task (tool
calls and results appended after the same user turn) are classified once, with the same answer as uncached."""

from __future__ import annotations

from typing import Any

import pytest

import gateway.classifier_loader as loader
from gateway.classifier_artifact import load_classifier
from router.classifier import EffortClassifier, Prediction, Reading, read_view
from router.conversation import view_from_messages
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
