"""Routing, pure: (policy, target, decision, a snapshot of pool health) -> the failover steps.

:func:`route` first sheds effort when the thinking pool the request would use is loaded, then lays out the
failover chain: the virtual model's pool list for the effort, then the cross-shape steps of
``policy.failover`` (:class:`router.policy.FailoverPolicy`). It returns data only; the gateway records the
metrics (``thinkgate_shed``, ``thinkgate_decisions``) from the :class:`Route` it gets back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from router.decision import Decision, Source
from router.effort import Effort
from router.policy import EffortSetting, Policy
from router.records import record
from router.shedding import shed_effort


class NoPoolForEffort(ValueError):
    """The model has no pool list for the decided effort (a thinking effort on an instruct-only model)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a client's ``model`` resolves to: a virtual model, or one pool addressed by its served name."""

    name: str
    fixed_effort: EffortSetting
    allow_client_effort: bool
    thinking: tuple[str, ...]
    instruct: tuple[str, ...]
    virtual: bool


@dataclass(frozen=True, slots=True)
class PoolHealth:
    """What routing needs to know of a pool right now: its mode, whether any endpoint is healthy, and how
    many effort steps it sheds."""

    mode: str
    healthy: bool = True
    shed_steps: int = 0


@record
class RouteStep:
    """One pool of the failover chain and the decision it is served with (a cross-shape step may differ from
    the request's decision: thinking off on an instruct pool, or the smallest budget on a thinking pool)."""

    pool: str
    decision: Decision


@record
class Route:
    """The routed request: its (possibly shed) decision, the ``from->to`` shed text, and the steps."""

    decision: Decision
    shed: str | None
    steps: tuple[RouteStep, ...]


def pools_for(target: Target, effort: Effort) -> tuple[str, ...]:
    """The model's pool list for ``effort``; :class:`NoPoolForEffort` when it has none."""
    names = target.thinking if effort.thinks else target.instruct
    if not names:
        what = "a thinking effort" if effort.thinks else "effort none"
        raise NoPoolForEffort(f"model {target.name!r} cannot serve {what}; it has no pool for it")
    return names


def shed(
    policy: Policy, target: Target, decision: Decision, health: Mapping[str, PoolHealth]
) -> tuple[Decision, str | None]:
    """Lower a thinking decision when the pool it would go to is shedding.

    The pool is the first of the model's thinking list with a healthy endpoint. Only decisions whose source
    ``policy.shedding.sources`` lists are touched. Returns the (possibly new) decision and the ``from->to``
    text for ``x-thinkgate-shed`` (``None`` if nothing changed).
    """
    rules = policy.shedding
    if not decision.effort.thinks or decision.source not in rules.sources or not target.thinking:
        return decision, None
    name = next((n for n in target.thinking if health[n].healthy), target.thinking[0])
    floor = rules.floor
    if floor is Effort.NONE and not target.instruct:
        floor = Effort.MINIMAL
    lowered = shed_effort(decision.effort, health[name].shed_steps, floor)
    if lowered == decision.effort:
        return decision, None
    budget = policy.budgets.for_effort(lowered)
    if decision.budget is not None and budget is not None:
        budget = min(budget, decision.budget)
    text = f"{decision.effort.value}->{lowered.value}"
    reason = f"{decision.reason}; shed {text} (pool {name} is loaded)"
    return replace(decision, effort=lowered, budget=budget, source=Source.SHED, reason=reason), text


def failover_steps(
    policy: Policy, target: Target, decision: Decision, health: Mapping[str, PoolHealth]
) -> tuple[RouteStep, ...]:
    """The model's pool list for the effort, then the cross-shape steps; pool names are unique in it."""
    steps = [RouteStep(name, decision) for name in pools_for(target, decision.effort)]
    seen = {step.pool for step in steps}
    failover = policy.failover

    def add(names: Sequence[str], mode: str, step_decision: Callable[[], Decision]) -> None:
        # the cross-shape decision is built only for a pool that takes it (most models have none: a
        # dataclasses.replace per request was ~2.7 of the ~7 us of routing, 2026-12-07)
        made: Decision | None = None
        for name in names:
            if name not in seen and health[name].mode == mode:
                seen.add(name)
                made = made or step_decision()
                steps.append(RouteStep(name, made))

    def off() -> Decision:
        return replace(decision, effort=Effort.NONE, budget=0, reason=decision.reason + "; failover")

    def least() -> Decision:
        budget = policy.budgets.for_effort(Effort.MINIMAL)
        return replace(decision, effort=Effort.MINIMAL, budget=budget, reason=decision.reason + "; failover")

    if decision.effort.thinks:
        add(target.instruct, "hybrid", lambda: decision)
        if failover.thinking_to_instruct:
            add(target.instruct, "instruct", off)
    else:
        add(target.thinking, "hybrid", lambda: decision)
        if failover.instruct_to_thinking:
            add(target.thinking, "thinking", least)
    return tuple(steps)


def route(policy: Policy, target: Target, decision: Decision, health: Mapping[str, PoolHealth]) -> Route:
    """Shedding, then the failover chain for the (possibly shed) decision."""
    decided, text = shed(policy, target, decision, health)
    return Route(decided, text, failover_steps(policy, target, decided, health))


def passthrough_route(target: Target, decision: Decision) -> Route:
    """A request that is not re-decided (raw ``/v1/completions``): the model's instruct pools, else its
    thinking pools, in order."""
    names = target.instruct or target.thinking
    return Route(decision, None, tuple(RouteStep(name, decision) for name in names))


def failover_chain(plan: Sequence[str], served: str) -> list[str] | None:
    """``[first, …, served]`` when ``served`` is not the first pool of ``plan`` (``None`` when it is)."""
    if not plan or served == plan[0]:
        return None
    return list(plan[: plan.index(served) + 1]) if served in plan else [plan[0], served]
