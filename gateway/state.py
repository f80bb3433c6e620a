"""Everything a running gateway holds: policy, pools, classifier, metrics. Built in the app's lifespan."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.auth import KeyStore
from gateway.backends.pool import Pool
from gateway.errors import BadRequest, NotFound
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.tokens import LocalCounter, ReasoningCounter, counter_for
from router.auth import AuthPolicy
from router.decision import Decision, Source
from router.effort import Effort
from router.policy import EffortSetting, Policy
from router.shedding import shed_effort

#: (messages, tools present) -> (effort, scores, reason); raises on failure.
Classifier = Callable[[list[Any], bool], tuple[Effort, dict[str, float], str]]


#: Effort setting for a request that names a backend's served model directly.
_DIRECT_EFFORT: dict[str, EffortSetting] = {"hybrid": "classify", "thinking": "high", "instruct": "none"}


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
class Step:
    """One pool of a failover chain and the decision it is served with (a cross-shape step may differ from
    the request's decision: thinking off on a hybrid pool, or the smallest budget on a thinking pool)."""

    pool: Pool
    decision: Decision


def session_of(header: str | None, body: dict[str, Any]) -> str | None:
    """The stickiness key of a request: the ``x-session-id`` header, else the OpenAI ``user`` field."""
    if header:
        return header
    user = body.get("user")
    return user if isinstance(user, str) and user else None


@dataclass
class GatewayState:
    settings: Settings
    policy: Policy
    metrics: GatewayMetrics
    pools: dict[str, Pool] = field(default_factory=dict)
    classifier: Classifier | None = None
    local_counter: LocalCounter | None = None
    keys: KeyStore = field(default_factory=lambda: KeyStore(AuthPolicy(), {}))
    started: int = field(default_factory=lambda: int(time.time()))

    def target(self, model: str, allowed: Collection[str] = ()) -> Target:
        """What ``model`` names; else 404 listing the models a tenant limited to ``allowed`` may use."""
        vm = self.policy.models.get(model)
        if vm is not None:
            return Target(model, vm.effort, vm.allow_client_effort, vm.thinking, vm.instruct, True)
        for name, pool in self.pools.items():
            if pool.spec.model == model:
                mode = pool.spec.mode
                fixed = _DIRECT_EFFORT[mode]
                think = (name,) if pool.spec.can_think else ()
                direct = (name,) if pool.spec.can_answer_directly else ()
                return Target(model, fixed, True, think, direct, False)
        known = ", ".join(self.visible_models(allowed))
        raise NotFound(f"The model {model!r} does not exist. Available models: {known}", param="model")

    def visible_models(self, allowed: Collection[str] = ()) -> list[str]:
        """The model ids a tenant limited to ``allowed`` may use, as ``/v1/models`` lists them: only its
        virtual models when it has a list, else every virtual model and every backend's served model."""
        if allowed:
            return sorted(name for name in self.policy.models if name in allowed)
        return sorted({*self.policy.models, *(p.spec.model for p in self.pools.values())})

    def plan(self, target: Target, effort: Effort) -> list[Pool]:
        names = target.thinking if effort.thinks else target.instruct
        if not names:
            what = "a thinking effort" if effort.thinks else "effort none"
            raise BadRequest(
                f"model {target.name!r} cannot serve {what}; it has no pool for it",
                param="model",
                code="effort_not_supported",
            )
        return [self.pools[n] for n in names]

    def route(self, target: Target, decision: Decision) -> list[Step]:
        """The failover chain: the model's pool list for the effort, then the cross-shape steps of
        ``policy.failover`` (see :class:`router.policy.FailoverPolicy`). Pool names are unique in it."""
        steps = [Step(pool, decision) for pool in self.plan(target, decision.effort)]
        seen = {step.pool.name for step in steps}
        failover = self.policy.failover

        def add(names: Sequence[str], mode: str, step_decision: Decision) -> None:
            for name in names:
                pool = self.pools[name]
                if name not in seen and pool.spec.mode == mode:
                    seen.add(name)
                    steps.append(Step(pool, step_decision))

        if decision.effort.thinks:
            add(target.instruct, "hybrid", decision)
            if failover.thinking_to_instruct:
                off = replace(decision, effort=Effort.NONE, budget=0, reason=decision.reason + "; failover")
                add(target.instruct, "instruct", off)
        else:
            add(target.thinking, "hybrid", decision)
            if failover.instruct_to_thinking:
                budget = self.policy.budgets.for_effort(Effort.MINIMAL)
                least = replace(
                    decision, effort=Effort.MINIMAL, budget=budget, reason=decision.reason + "; failover"
                )
                add(target.thinking, "thinking", least)
        return steps

    def routing_headers(self, plan: Sequence[Pool], served: Pool, endpoint: str) -> dict[str, str]:
        """``x-thinkgate-endpoint`` (the endpoint that answered) and, when ``served`` is not the first pool of
        the plan, ``x-thinkgate-failover: first->…->served`` plus the failover metric."""
        headers = {"x-thinkgate-endpoint": endpoint}
        if not plan or served is plan[0]:
            return headers
        names = [p.name for p in plan]
        chain = names[: names.index(served.name) + 1] if served.name in names else [names[0], served.name]
        self.metrics.failovers.labels(chain[0], served.name).inc()
        headers["x-thinkgate-failover"] = "->".join(chain)
        return headers

    def apply_shedding(self, target: Target, decision: Decision) -> tuple[Decision, str | None]:
        """Lower a thinking decision when the pool it would go to is shedding.

        The pool is the first of the model's thinking list with a healthy endpoint. Only decisions whose
        source ``policy.shedding.sources`` lists are touched. Returns the (possibly new) decision and the
        ``from->to`` text for ``x-thinkgate-shed`` (``None`` if nothing changed); counts ``thinkgate_shed``.
        """
        rules = self.policy.shedding
        if not decision.effort.thinks or decision.source.value not in rules.sources or not target.thinking:
            return decision, None
        pools = [self.pools[name] for name in target.thinking]
        pool = next((p for p in pools if p.any_healthy()), pools[0])
        floor = rules.floor
        if floor is Effort.NONE and not target.instruct:
            floor = Effort.MINIMAL
        lowered = shed_effort(decision.effort, pool.shed.steps, floor)
        if lowered == decision.effort:
            return decision, None
        budget = self.policy.budgets.for_effort(lowered)
        if decision.budget is not None and budget is not None:
            budget = min(budget, decision.budget)
        text = f"{decision.effort.value}->{lowered.value}"
        reason = f"{decision.reason}; shed {text} (pool {pool.name} is loaded)"
        self.metrics.shed.labels(decision.effort.value, lowered.value).inc()
        shed = replace(decision, effort=lowered, budget=budget, source=Source.SHED, reason=reason)
        return shed, text

    def reasoning_counter(self, pool: Pool) -> ReasoningCounter:
        """Counts reasoning where the backend does not (vLLM < 0.28) or reports 0 for real reasoning."""
        return counter_for(pool, self.local_counter)

    def classify(self, messages: list[Any], tools: bool) -> tuple[Effort, dict[str, float], str]:
        if self.classifier is None:
            raise RuntimeError("no classifier loaded")
        return self.classifier(messages, tools)
