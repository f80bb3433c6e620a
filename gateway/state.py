"""Everything a running gateway holds: policy, pools, classifier, metrics. Built in the app's lifespan."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.backends.pool import Pool
from gateway.errors import BadRequest, NotFound
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.tokens import LocalCounter, ReasoningCounter, counter_for
from router.effort import Effort
from router.policy import EffortSetting, Policy

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


@dataclass
class GatewayState:
    settings: Settings
    policy: Policy
    metrics: GatewayMetrics
    pools: dict[str, Pool] = field(default_factory=dict)
    classifier: Classifier | None = None
    local_counter: LocalCounter | None = None
    started: int = field(default_factory=lambda: int(time.time()))

    def target(self, model: str) -> Target:
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
        known = ", ".join(sorted([*self.policy.models, *(p.spec.model for p in self.pools.values())]))
        raise NotFound(f"The model {model!r} does not exist. Available models: {known}", param="model")

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

    def reasoning_counter(self, pool: Pool) -> ReasoningCounter | None:
        """A counter for pools whose vLLM may not report reasoning tokens (< 0.28 or not yet known)."""
        if pool.vllm_version is not None and pool.vllm_version >= (0, 28, 0):
            return None
        return counter_for(pool, self.local_counter)

    def classify(self, messages: list[Any], tools: bool) -> tuple[Effort, dict[str, float], str]:
        if self.classifier is None:
            raise RuntimeError("no classifier loaded")
        return self.classifier(messages, tools)
