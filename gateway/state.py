"""What a running gateway holds: settings, policy, pools, classifier, keys, metrics — a frozen container.

Nothing here decides or records anything per request: routing is :func:`router.routing.route` (pure), its
metrics are recorded by :mod:`gateway.pipeline`. A request takes the container in use when it starts and
keeps it; the lifespan and policy reload swap in a new one through :class:`LiveState` (one assignment, so a
request sees the old or the new policy, never a mix).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.anthropic.signature import ThinkingSigner
from gateway.auth import KeyStore
from gateway.backends.pool import Pool
from gateway.errors import NotFound
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.tokens import LocalCounter, ReasoningCounter, counter_for
from router.auth import AuthPolicy
from router.effort import Effort
from router.policy import EffortSetting, Policy
from router.routing import PoolHealth, Target

#: (messages, tools present) -> (effort, scores, reason); raises on failure.
Classifier = Callable[[list[Any], bool], tuple[Effort, dict[str, float], str]]


#: Effort setting for a request that names a backend's served model directly.
_DIRECT_EFFORT: dict[str, EffortSetting] = {"hybrid": "classify", "thinking": "high", "instruct": "none"}


def session_of(header: str | None, body: Mapping[str, Any]) -> str | None:
    """The stickiness key of a request: the ``x-session-id`` header, else the OpenAI ``user`` field."""
    if header:
        return header
    user = body.get("user")
    return user if isinstance(user, str) and user else None


class HealthSnapshot(Mapping[str, PoolHealth]):
    """Pool health as routing reads it, taken per pool on first look (routing usually reads one or two pools;
    a request's view of a pool does not change once read)."""

    __slots__ = ("_pools", "_seen")

    def __init__(self, pools: Mapping[str, Pool]) -> None:
        self._pools = pools
        self._seen: dict[str, PoolHealth] = {}

    def __getitem__(self, name: str) -> PoolHealth:
        found = self._seen.get(name)
        if found is None:
            pool = self._pools[name]
            found = self._seen[name] = PoolHealth(pool.spec.mode, pool.any_healthy(), pool.shed.steps)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)


@dataclass(frozen=True, slots=True)
class GatewayState:
    settings: Settings
    policy: Policy
    metrics: GatewayMetrics
    pools: Mapping[str, Pool] = field(default_factory=dict)
    classifier: Classifier | None = None
    local_counter: LocalCounter | None = None
    keys: KeyStore = field(default_factory=lambda: KeyStore(AuthPolicy(), {}))
    signer: ThinkingSigner = field(default_factory=ThinkingSigner.ephemeral)  # /v1/messages thinking blocks
    started: int = field(default_factory=lambda: int(time.time()))
    #: :meth:`target`'s answers by model name: a function of the policy and pools only (a reload builds a
    #: new container, so a new cache); only names that resolve are kept, so it stays as small as the policy.
    _targets: dict[str, Target] = field(default_factory=dict, init=False, repr=False, compare=False)

    def target(self, model: str, allowed: Collection[str] = ()) -> Target:
        """What ``model`` names: a virtual model, a backend's served model, or an alias of either (the
        target then carries the resolved name, so metrics and tenant checks never see alias spellings);
        else 404 listing the models a tenant limited to ``allowed`` may use."""
        found = self._targets.get(model)
        if found is None:
            found = self._targets[model] = self._resolve(model, allowed)
        return found

    def _resolve(self, model: str, allowed: Collection[str]) -> Target:
        vm = self.policy.models.get(model)
        if vm is not None:
            return Target(model, vm.effort, vm.allow_client_effort, vm.thinking, vm.instruct, True)
        for name, pool in self.pools.items():
            if pool.spec.model == model:
                return self._direct(name, pool)
        alias = self.policy.alias_target(model)
        if alias is not None:
            if alias in self.policy.models:
                return self._resolve(alias, allowed)
            return self._direct(alias, self.pools[alias])
        known = ", ".join(self.visible_models(allowed))
        raise NotFound(f"The model {model!r} does not exist. Available models: {known}", param="model")

    @staticmethod
    def _direct(name: str, pool: Pool) -> Target:
        fixed = _DIRECT_EFFORT[pool.spec.mode]
        think = (name,) if pool.spec.can_think else ()
        direct = (name,) if pool.spec.can_answer_directly else ()
        return Target(pool.spec.model, fixed, True, think, direct, False)

    def visible_models(self, allowed: Collection[str] = ()) -> list[str]:
        """The model ids a tenant limited to ``allowed`` may use, as ``/v1/models`` lists them: only its
        virtual models when it has a list, else every virtual model and every backend's served model."""
        if allowed:
            return sorted(name for name in self.policy.models if name in allowed)
        return sorted({*self.policy.models, *(p.spec.model for p in self.pools.values())})

    def health(self) -> HealthSnapshot:
        """Every pool's health and shed level, the input of :func:`router.routing.route`."""
        return HealthSnapshot(self.pools)

    def reasoning_counter(self, pool: Pool) -> ReasoningCounter:
        """Counts reasoning where the backend does not (vLLM < 0.28) or reports 0 for real reasoning."""
        return counter_for(pool, self.local_counter)

    def classify(self, messages: list[Any], tools: bool) -> tuple[Effort, dict[str, float], str]:
        if self.classifier is None:
            raise RuntimeError("no classifier loaded")
        return self.classifier(messages, tools)


class LiveState:
    """The one mutable cell: the :class:`GatewayState` requests see now, kept on ``app.state.gateway``."""

    def __init__(self, holder: Any) -> None:
        self._holder = holder  # the app's ``state`` (anything with a ``gateway`` attribute)

    @property
    def current(self) -> GatewayState:
        state: GatewayState = self._holder.gateway
        return state

    def swap(self, **changes: Any) -> GatewayState:
        """Replace the container by a copy with ``changes`` (policy, keys, classifier) in one assignment."""
        new = replace(self.current, **changes)
        self._holder.gateway = new
        return new
