"""Turn a request into a :class:`Decision`: explicit signals, then the virtual model, then the classifier.

Precedence (documented in the README):
1. explicit fields and the ``x-thinkgate-effort`` header — they must agree, else :class:`SignalConflict`;
2. a Qwen soft switch (``/think``, ``/no_think``) in the latest user message or the system message;
3. the virtual model's fixed effort (``auto-fast`` = none, ``auto-deep`` = high …);
4. the classifier (virtual models with ``effort: classify``).
Then the step policy (``agent:``, :mod:`router.steps`) moves the effort for the agent step the request is
(plan, act, recover, stuck, answer), for the decision sources it lists. Caps (per key or tenant) apply last
and mark the decision ``capped``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.agent import StepView
from router.decision import Decision, Source
from router.effort import Effort
from router.policy import Budgets, EffortSetting
from router.signals import (
    SIGNAL_FIELDS,
    Ask,
    SignalConflict,
    explicit_signals,
    merge,
    reasoning_excluded,
    soft_switch,
)
from router.steps import AgentPolicy

#: A classifier call: returns the chosen effort, the scores, and a short reason. May raise.
ClassifyFn = Callable[[], tuple[Effort, dict[str, float], str]]


@dataclass(frozen=True, slots=True)
class Caps:
    """Upper bounds a key or tenant may use."""

    max_effort: Effort | None = None
    max_budget: int | None = None


def level_for_budget(budget: int, budgets: Budgets) -> Effort:
    """The lowest thinking level whose policy budget covers ``budget`` (0 means ``none``)."""
    if budget <= 0:
        return Effort.NONE
    for level in (Effort.MINIMAL, Effort.LOW, Effort.MEDIUM, Effort.HIGH, Effort.XHIGH, Effort.MAX):
        limit = budgets.for_effort(level)
        if limit is None or limit >= budget:
            return level
    return Effort.MAX


def _client_ask(body: Mapping[str, Any], header_effort: str | None) -> Ask | None:
    # most requests carry no explicit signal: the check skips the five readers of explicit_signals and merge
    # (~1 us warm, ~3-4 us of a cold request's ~6.5 us here: request_stages.py, 2026-12-07)
    if header_effort is not None or not body.keys().isdisjoint(SIGNAL_FIELDS):
        ask = merge(explicit_signals(body, header_effort))
        if ask is not None:
            return ask
    messages = body.get("messages")
    if type(messages) is list or (isinstance(messages, Sequence) and not isinstance(messages, str)):
        soft = soft_switch(messages)
        if soft is not None:
            return merge([soft])
    return None


def _check_fixed(ask: Ask, fixed: Effort, model: str) -> None:
    agrees = ask.on == fixed.thinks and (ask.effort is None or ask.effort is fixed)
    if not agrees:
        raise SignalConflict(
            f"model {model!r} always runs at effort {fixed.value} and does not accept {ask.describe()}",
            ask.signals[0].name,
        )


def _classified(classify: ClassifyFn, on_error: Effort) -> tuple[Effort, dict[str, float], str, bool]:
    try:
        effort, scores, reason = classify()
    except Exception as exc:
        return (
            on_error,
            {},
            f"classifier failed ({type(exc).__name__}); policy on_error={on_error.value}",
            False,
        )
    return effort, scores, reason, True


def decide(
    body: Mapping[str, Any],
    *,
    model: str,
    header_effort: str | None,
    fixed_effort: EffortSetting,
    allow_client_effort: bool,
    budgets: Budgets,
    classify: ClassifyFn,
    on_classifier_error: Effort,
    caps: Caps | None = None,
    agent: AgentPolicy | None = None,
    step: StepView | None = None,
) -> Decision:
    """Decide effort and thinking budget for one chat request. Raises ``SignalError`` on bad signals.

    ``step`` (from :func:`router.agent.read_agent_state` and :func:`router.agent.step_kind`) is recorded on
    the decision; ``agent`` adjusts the effort for it when enabled and the source is one it adjusts.
    """
    ask = _client_ask(body, header_effort)
    fixed = None if fixed_effort == "classify" else Effort(fixed_effort)
    if ask is not None and fixed is not None and not allow_client_effort:
        _check_fixed(ask, fixed, model)

    scores: dict[str, float] = {}
    budget: int | None
    if ask is not None:
        source = Source.EXPLICIT
        if not ask.on:
            effort, budget, reason = Effort.NONE, 0, f"client asked: {ask.describe()}"
        elif ask.effort is not None:
            effort = ask.effort
            budget = budgets.for_effort(effort)
            reason = f"client asked: {ask.describe()}"
        elif ask.budget is not None:
            effort, budget = level_for_budget(ask.budget, budgets), ask.budget
            reason = f"client asked: {ask.describe()}"
        else:
            if fixed is not None and fixed.thinks:
                effort, why = fixed, f"level from model {model!r}"
            else:
                effort, scores, why, ok = _classified(classify, on_classifier_error)
                if not effort.thinks:
                    effort, why = Effort.LOW, "classifier saw no need to think; lowest default level"
                why = f"level from classifier: {why}" if ok else why
            budget = budgets.for_effort(effort)
            reason = f"client asked: {ask.describe()}; {why}"
    elif fixed is not None:
        source = Source.VIRTUAL_MODEL
        effort, budget = fixed, budgets.for_effort(fixed)
        reason = f"model {model!r} runs at effort {fixed.value}"
    else:
        effort, scores, why, ok = _classified(classify, on_classifier_error)
        source = Source.CLASSIFIER if ok else Source.POLICY
        budget = budgets.for_effort(effort)
        reason = why

    task_effort = effort
    if step is not None and agent is not None and agent.enabled and source in agent.sources:
        stepped, why = agent.step_effort(step, effort)
        reason += f"; step {step.kind} ({step.reason}); {why}"  # StrEnum: formats as its value
        if stepped is not effort:
            effort, budget = stepped, budgets.for_effort(stepped)

    capped = False
    if caps is not None:
        if caps.max_effort is not None and effort > caps.max_effort:
            effort, budget, capped = caps.max_effort, budgets.for_effort(caps.max_effort), True
            reason += f"; capped to {effort.value} by key policy"
        if caps.max_budget is not None and effort.thinks and (budget is None or budget > caps.max_budget):
            budget, capped = caps.max_budget, True
            reason += f"; budget capped to {caps.max_budget} by key policy"
            if caps.max_budget == 0:
                effort = Effort.NONE
    return Decision(
        effort=effort,
        budget=budget,
        source=source,
        reason=reason,
        scores=scores,
        capped=capped,
        step=step,
        task_effort=task_effort,
        exclude_reasoning=reasoning_excluded(body),
    )
