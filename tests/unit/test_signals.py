"""Explicit thinking signals: every signal, the precedence, and conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from router.decide import Caps, decide, level_for_budget
from router.decision import Source
from router.effort import Effort
from router.policy import Budgets, EffortSetting
from router.signals import SignalConflict, SignalError

BUDGETS = Budgets()


def run(
    body: dict[str, Any],
    header: str | None = None,
    fixed: EffortSetting = "classify",
    allow: bool = True,
    classified: Effort = Effort.MEDIUM,
    caps: Caps | None = None,
) -> tuple[Effort, int | None, Source]:
    body.setdefault("messages", [{"role": "user", "content": "hello"}])

    def classify() -> tuple[Effort, dict[str, float], str]:
        return classified, {"p_think": 0.5}, "test classifier"

    d = decide(
        body,
        model="auto",
        header_effort=header,
        fixed_effort=fixed,
        allow_client_effort=allow,
        budgets=BUDGETS,
        classify=classify,
        on_classifier_error=Effort.HIGH,
        caps=caps,
    )
    return d.effort, d.budget, d.source


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        pytest.param({"reasoning_effort": "none"}, None, (Effort.NONE, 0), id="reasoning_effort-none"),
        pytest.param(
            {"reasoning_effort": "minimal"}, None, (Effort.MINIMAL, 512), id="reasoning_effort-minimal"
        ),
        pytest.param({"reasoning_effort": "low"}, None, (Effort.LOW, 1024), id="reasoning_effort-low"),
        pytest.param(
            {"reasoning_effort": "medium"}, None, (Effort.MEDIUM, 4096), id="reasoning_effort-medium"
        ),
        pytest.param({"reasoning_effort": "high"}, None, (Effort.HIGH, 16384), id="reasoning_effort-high"),
        pytest.param({"reasoning_effort": "xhigh"}, None, (Effort.XHIGH, None), id="reasoning_effort-xhigh"),
        pytest.param({"reasoning_effort": "max"}, None, (Effort.MAX, None), id="reasoning_effort-max"),
        pytest.param({"reasoning": {"effort": "high"}}, None, (Effort.HIGH, 16384), id="openrouter-effort"),
        pytest.param(
            {"reasoning": {"max_tokens": 2000}}, None, (Effort.MEDIUM, 2000), id="openrouter-max_tokens"
        ),
        pytest.param({"reasoning": {"enabled": False}}, None, (Effort.NONE, 0), id="openrouter-disabled"),
        pytest.param({"reasoning": {"enabled": True}}, None, (Effort.MEDIUM, 4096), id="openrouter-enabled"),
        pytest.param(
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            None,
            (Effort.LOW, 1024),
            id="anthropic-budget",
        ),
        pytest.param({"thinking": {"type": "disabled"}}, None, (Effort.NONE, 0), id="anthropic-disabled"),
        pytest.param(
            {"thinking": {"type": "adaptive"}}, None, (Effort.MEDIUM, 4096), id="anthropic-adaptive"
        ),
        pytest.param(
            {"chat_template_kwargs": {"enable_thinking": False}},
            None,
            (Effort.NONE, 0),
            id="kwargs-enable-off",
        ),
        pytest.param(
            {"chat_template_kwargs": {"enable_thinking": True}},
            None,
            (Effort.MEDIUM, 4096),
            id="kwargs-enable-on",
        ),
        pytest.param(
            {"chat_template_kwargs": {"thinking": False}}, None, (Effort.NONE, 0), id="kwargs-thinking-off"
        ),
        pytest.param({}, "low", (Effort.LOW, 1024), id="header"),
        pytest.param(
            {"messages": [{"role": "user", "content": "Summarise this /no_think"}]},
            None,
            (Effort.NONE, 0),
            id="soft-no_think-user",
        ),
        pytest.param(
            {"messages": [{"role": "system", "content": "/think"}, {"role": "user", "content": "hi"}]},
            None,
            (Effort.MEDIUM, 4096),
            id="soft-think-system",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "system", "content": "/no_think"},
                    {"role": "user", "content": [{"type": "text", "text": "prove it /think"}]},
                ]
            },
            None,
            (Effort.MEDIUM, 4096),
            id="soft-latest-user-wins-over-system",
        ),
    ],
)
def test_every_explicit_signal(
    body: dict[str, Any], header: str | None, expected: tuple[Effort, int | None]
) -> None:
    effort, budget, source = run(body, header)
    assert (effort, budget) == expected
    assert source is Source.EXPLICIT


def test_thinking_on_without_level_never_picks_none() -> None:
    effort, budget, _ = run({"chat_template_kwargs": {"enable_thinking": True}}, classified=Effort.NONE)
    assert effort is Effort.LOW and budget == 1024


@pytest.mark.parametrize(
    ("body", "header"),
    [
        pytest.param(
            {"reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": False}},
            None,
            id="level-vs-off",
        ),
        pytest.param({"reasoning_effort": "low", "reasoning": {"effort": "high"}}, None, id="two-levels"),
        pytest.param({"reasoning_effort": "high"}, "none", id="header-vs-body"),
        pytest.param(
            {"thinking": {"type": "disabled"}, "reasoning": {"enabled": True}},
            None,
            id="anthropic-vs-openrouter",
        ),
        pytest.param({"reasoning": {"effort": "low", "max_tokens": 100}}, None, id="effort-and-max_tokens"),
        pytest.param(
            {"reasoning_effort": "low", "thinking": {"type": "enabled", "budget_tokens": 9000}},
            None,
            id="level-and-budget",
        ),
        pytest.param(
            {"reasoning": {"max_tokens": 100}, "thinking": {"type": "enabled", "budget_tokens": 200}},
            None,
            id="two-budgets",
        ),
    ],
)
def test_contradictions_are_rejected(body: dict[str, Any], header: str | None) -> None:
    with pytest.raises(SignalConflict) as info:
        run(body, header)
    assert (
        "contradictory" in str(info.value) or "not both" in str(info.value) or "exclusive" in str(info.value)
    )
    assert info.value.param


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"reasoning_effort": "extreme"}, id="unknown-level"),
        pytest.param({"reasoning_effort": 3}, id="level-not-string"),
        pytest.param({"reasoning": "high"}, id="reasoning-not-object"),
        pytest.param({"reasoning": {"max_tokens": -1}}, id="negative-budget"),
        pytest.param({"thinking": {"type": "sometimes"}}, id="bad-thinking-type"),
        pytest.param({"chat_template_kwargs": {"enable_thinking": "yes"}}, id="switch-not-bool"),
        pytest.param({"chat_template_kwargs": []}, id="kwargs-not-object"),
    ],
)
def test_malformed_signals(body: dict[str, Any]) -> None:
    with pytest.raises(SignalError):
        run(body)


def test_soft_switch_is_weaker_than_fields() -> None:
    body = {"reasoning_effort": "high", "messages": [{"role": "user", "content": "quick one /no_think"}]}
    assert run(body)[0] is Effort.HIGH


def test_virtual_model_fixed_effort_and_override() -> None:
    assert run({}, fixed="none")[:3] == (Effort.NONE, 0, Source.VIRTUAL_MODEL)
    assert run({}, fixed="high")[:3] == (Effort.HIGH, 16384, Source.VIRTUAL_MODEL)
    assert run({"reasoning_effort": "low"}, fixed="high")[0] is Effort.LOW
    with pytest.raises(SignalConflict, match="always runs at effort none"):
        run({"reasoning_effort": "low"}, fixed="none", allow=False)
    assert run({"reasoning_effort": "none"}, fixed="none", allow=False)[0] is Effort.NONE


def test_classifier_and_its_failure() -> None:
    assert run({}, classified=Effort.HIGH) == (Effort.HIGH, 16384, Source.CLASSIFIER)

    def broken() -> tuple[Effort, dict[str, float], str]:
        raise RuntimeError("model file missing")

    d = decide(
        {"messages": [{"role": "user", "content": "x"}]},
        model="auto",
        header_effort=None,
        fixed_effort="classify",
        allow_client_effort=True,
        budgets=BUDGETS,
        classify=broken,
        on_classifier_error=Effort.LOW,
    )
    assert (d.effort, d.source) == (Effort.LOW, Source.POLICY)
    assert "classifier failed" in d.reason


def test_caps() -> None:
    effort, budget, _ = run({"reasoning_effort": "xhigh"}, caps=Caps(max_effort=Effort.MEDIUM))
    assert (effort, budget) == (Effort.MEDIUM, 4096)
    effort, budget, _ = run({"reasoning_effort": "high"}, caps=Caps(max_budget=2000))
    assert (effort, budget) == (Effort.HIGH, 2000)


@pytest.mark.parametrize(
    ("budget", "level"),
    [
        (0, Effort.NONE),
        (1, Effort.MINIMAL),
        (512, Effort.MINIMAL),
        (513, Effort.LOW),
        (5000, Effort.HIGH),
        (10**6, Effort.XHIGH),
    ],
)
def test_level_for_budget(budget: int, level: Effort) -> None:
    assert level_for_budget(budget, BUDGETS) is level
