"""The routing policy: the operator's YAML file, validated into frozen pydantic models.

The gateway reads the file and passes the parsed mapping in (:func:`parse_policy`); nothing here touches disk.
Top-level keys follow DESIGN.md: ``version``, ``backends``, ``models``, ``classifier``, ``budgets``,
``shedding``, ``failover``, ``state``, ``auth``, ``limits``, ``upstream``, ``agent``, ``aliases``,
``messages``. Per-pool ``routing``, ``health`` and ``shedding`` live under each backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from router.auth import AuthPolicy
from router.classifier import ClassifierThresholds
from router.effort import Effort
from router.limits import LimitsPolicy
from router.steps import AgentPolicy

BackendMode = Literal["hybrid", "thinking", "instruct"]
BudgetMode = Literal["native", "forcing", "auto"]
EffortSetting = Literal["classify", "none", "minimal", "low", "medium", "high", "xhigh", "max"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timeouts(_Frozen):
    """Upstream timeouts in seconds. ``first_byte`` bounds the wait for response headers, ``idle`` the gap
    between two chunks of a stream, ``total`` the whole exchange (thinking can take minutes)."""

    connect: float = Field(default=3.0, gt=0)
    first_byte: float = Field(default=60.0, gt=0)
    idle: float = Field(default=60.0, gt=0)
    total: float = Field(default=900.0, gt=0)


class ScoreWeights(_Frozen):
    """Weights of the load score (see :class:`EndpointRouting`)."""

    queue: float = Field(default=2.0, ge=0, description="per request waiting in vLLM's queue")
    kv: float = Field(default=4.0, ge=0, description="times KV-cache usage (0..1)")
    failure: float = Field(default=4.0, ge=0, description="per consecutive failed attempt")
    speed: float = Field(
        default=1.0,
        ge=0,
        description="exponent on the endpoint's decode time per token over the pool's fastest; 0 = ignore",
    )


class EndpointRouting(_Frozen):
    """How a pool chooses among its endpoints.

    ``load`` (default): power of two choices on a score per endpoint,
    ``requests + queue*waiting + kv*kv_usage + failure*consecutive_failures``, where ``requests`` is the
    scraped ``running + waiting`` corrected by the gateway's in-flight change since the scrape (never below
    the gateway's own in-flight count) and the other terms come from vLLM's ``/metrics``, scraped every
    ``scrape_interval`` seconds (older than three intervals = ignored, only in-flight counts).
    Decode speed: two endpoints are compared on ``(score + 1) * slowness ** speed``, where ``slowness`` is the
    endpoint's time per output token (vLLM's inter-token latency, mean over recent scrape windows) over the
    fastest healthy endpoint's (at least 1; 1 when unknown). A measurement is used for ``speed_memory``
    seconds after the last window with samples, so an endpoint that got no traffic because it was slow is
    tried and measured again. ``least_inflight``: the gateway's own in-flight count only. ``round_robin``:
    in turn (benchmark baseline). ``sticky``: requests with an ``x-session-id`` header or a ``user`` field
    go to the endpoint that rendezvous hashing picks among healthy ones (prefix-cache reuse), unless its
    score exceeds the best one by more than ``sticky_max_excess``.
    """

    strategy: Literal["load", "least_inflight", "round_robin"] = "load"
    scrape_interval: float = Field(default=2.0, gt=0)
    weights: ScoreWeights = ScoreWeights()
    sticky: bool = False
    sticky_max_excess: float = Field(default=4.0, ge=0)
    speed_memory: float = Field(default=30.0, gt=0)


class HealthPolicy(_Frozen):
    """Endpoint health, with Envoy outlier-detection defaults for the passive part.

    Passive: ``consecutive_failures`` failed attempts in a row (connect error, timeout, HTTP >= 500, a
    stream that dies before ``[DONE]``) eject the endpoint for ``base_ejection_seconds`` times the number of
    its ejections (capped at ``max_ejection_seconds``; the count restarts after ``max_ejection_seconds``
    without an ejection). At most ``max_ejection_percent`` of a pool is ejected at once, but always at least
    one endpoint. Active: ``unhealthy_probes`` failed ``/health`` probes in a row take an endpoint out,
    ``healthy_probes`` passing ones bring it back (probes run every ``THINKGATE_HEALTH_INTERVAL`` seconds).
    """

    consecutive_failures: int = Field(default=5, ge=1)
    base_ejection_seconds: float = Field(default=30.0, gt=0)
    max_ejection_seconds: float = Field(default=300.0, gt=0)
    max_ejection_percent: int = Field(default=10, ge=0, le=100)
    unhealthy_probes: int = Field(default=1, ge=1)
    healthy_probes: int = Field(default=1, ge=1)


class LoadThresholds(_Frozen):
    """A load level of a pool: mean vLLM queue per healthy endpoint and mean KV-cache usage (0..1)."""

    queue_per_endpoint: float = Field(ge=0)
    kv_usage: float = Field(ge=0, le=1)


class PoolShedding(_Frozen):
    """When a pool sheds effort: one more step each time the load is at or above ``engage`` (either
    threshold), one step less each time it is at or below ``disengage`` (both thresholds); at least
    ``dwell_seconds`` between two changes; at most ``max_steps`` steps."""

    engage: LoadThresholds = LoadThresholds(queue_per_endpoint=4, kv_usage=0.9)
    disengage: LoadThresholds = LoadThresholds(queue_per_endpoint=1, kv_usage=0.7)
    dwell_seconds: float = Field(default=10.0, ge=0)
    max_steps: int = Field(default=2, ge=1, le=6)

    @model_validator(mode="after")
    def _hysteresis(self) -> PoolShedding:
        if self.disengage.queue_per_endpoint > self.engage.queue_per_endpoint:
            raise ValueError("disengage.queue_per_endpoint must not exceed engage.queue_per_endpoint")
        if self.disengage.kv_usage > self.engage.kv_usage:
            raise ValueError("disengage.kv_usage must not exceed engage.kv_usage")
        return self


class BackendSpec(_Frozen):
    """A named pool of vLLM endpoints serving one model of one family.

    ``routing`` chooses endpoints, ``health`` ejects and restores them, ``shedding`` (absent = never) says
    when the pool's load lowers thinking effort.
    """

    family: str
    mode: BackendMode
    model: str = Field(min_length=1, description="the backend's served model name")
    endpoints: tuple[str, ...] = Field(min_length=1)
    budget: BudgetMode = "auto"
    timeouts: Timeouts = Timeouts()
    max_connections: int = Field(default=256, ge=1)
    routing: EndpointRouting = EndpointRouting()
    health: HealthPolicy = HealthPolicy()
    shedding: PoolShedding | None = None

    @field_validator("endpoints")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"endpoint {url!r} must start with http:// or https://")
            out.append(url.rstrip("/"))
        if len(set(out)) != len(out):
            raise ValueError("endpoints must be unique")
        return tuple(out)

    @property
    def can_think(self) -> bool:
        return self.mode in ("hybrid", "thinking")

    @property
    def can_answer_directly(self) -> bool:
        return self.mode in ("hybrid", "instruct")


class VirtualModel(_Frozen):
    """A model name clients send (``auto``, ``auto-fast`` …) and how it is served.

    ``thinking`` lists the pools (in preference order) for any thinking effort, ``instruct`` those for effort
    ``none``. ``allow_client_effort`` lets explicit client signals override ``effort``.
    """

    effort: EffortSetting = "classify"
    thinking: tuple[str, ...] = ()
    instruct: tuple[str, ...] = ()
    allow_client_effort: bool = True
    description: str = ""


class ClassifierPolicy(_Frozen):
    """How classifier scores become an effort, and what to do when the classifier fails.

    ``artifact`` names a trained classifier file (``thinkgate train``); ``null`` uses the packaged one.
    """

    thresholds: ClassifierThresholds = ClassifierThresholds()
    on_error: Effort = Effort.HIGH
    artifact: str | None = None


class Budgets(_Frozen):
    """Thinking-token budget per effort level; ``null`` means unlimited (bounded by ``max_tokens`` only)."""

    minimal: int | None = Field(default=512, ge=1)
    low: int | None = Field(default=1024, ge=1)
    medium: int | None = Field(default=4096, ge=1)
    high: int | None = Field(default=16384, ge=1)
    xhigh: int | None = Field(default=None, ge=1)
    max: int | None = Field(default=None, ge=1)

    def for_effort(self, effort: Effort) -> int | None:
        """The budget of a level: 0 for ``none`` (no thinking)."""
        if effort is Effort.NONE:
            return 0
        value: int | None = getattr(self, effort.value)
        return value


ShedSource = Literal["classifier", "policy", "explicit", "virtual-model"]


class SheddingPolicy(_Frozen):
    """Which decisions a loaded pool may lower, and how far.

    ``sources``: decision sources that may be shed (explicit client requests and fixed-effort virtual models
    are honoured unless listed). ``floor``: the lowest effort shedding reaches; ``none`` turns thinking off
    (the request then goes to the model's instruct pools; without any, the floor is ``minimal``).
    """

    sources: tuple[ShedSource, ...] = ("classifier", "policy")
    floor: Effort = Effort.LOW


class FailoverPolicy(_Frozen):
    """Cross-shape failover before the first byte, after the model's own pool lists.

    Effort ``none``: hybrid pools of the ``thinking`` list with thinking off, then (``instruct_to_thinking``)
    thinking pools at the smallest budget. A thinking effort: hybrid pools of the ``instruct`` list at the
    same effort, then (``thinking_to_instruct``) instruct pools without thinking.
    """

    instruct_to_thinking: bool = True
    thinking_to_instruct: bool = False


class StatePolicy(_Frozen):
    """Where shared state lives: ``redis_url: null`` = in this process only (the default).

    With Redis: ``on_redis_error`` ``open`` serves without limits while Redis is unusable (counted in
    ``thinkgate_redis_errors_total``), ``closed`` answers 503. Each Redis call waits at most ``timeout``
    seconds; ``breaker_failures`` failures in a row open the circuit breaker for ``breaker_reset`` seconds
    (no Redis calls), then one probe call decides. ``prefix`` starts every Redis key and channel name.

    Stored ``/v1/responses`` objects (``previous_response_id`` chains) live ``responses_ttl`` seconds, in
    Redis when ``redis_url`` is set (every replica continues a chain), else in this process, at most
    ``responses_max`` of them holding at most ``responses_max_bytes`` of JSON (the oldest go first).
    """

    redis_url: str | None = None
    on_redis_error: Literal["open", "closed"] = "open"
    timeout: float = Field(default=0.25, gt=0, le=10)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset: float = Field(default=1.0, gt=0)
    prefix: str = Field(default="thinkgate", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    responses_ttl: float = Field(default=86400.0, gt=0)
    responses_max: int = Field(default=10000, ge=1)
    responses_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)


class MessagesPolicy(_Frozen):
    """The Anthropic Messages front door (``/v1/messages``).

    Thinking blocks the gateway returns carry an HMAC signature under the secret in the environment variable
    ``signing_secret_env`` (at least 16 bytes; every replica needs the same one). When it is unset, each
    process makes a random secret (blocks then verify only on the replica that made them, until a restart).
    ``on_invalid_thinking``: what to do with a thinking block sent back whose signature does not verify
    (modified, or made by another service; ``redacted_thinking`` blocks never verify): ``drop`` it from the
    history the model sees, or ``reject`` the request with a 400.
    """

    signing_secret_env: str = Field(default="THINKGATE_THINKING_SECRET", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    on_invalid_thinking: Literal["drop", "reject"] = "drop"


_ALIAS_NAME = r"^[^*\s]+\*?$"


def _alias_matches(pattern: str, name: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


class Policy(_Frozen):
    """The whole validated policy.

    ``aliases`` map model names that clients hard-code (``claude-sonnet-4-5``, ``gpt-5``) onto a virtual model
    or a backend (by its name in ``backends``); a name ending in ``*`` matches every name with that prefix
    (the longest matching prefix wins; an exact alias beats every pattern).
    """

    version: Literal[1]
    backends: dict[str, BackendSpec] = Field(min_length=1)
    models: dict[str, VirtualModel] = Field(default_factory=dict)
    classifier: ClassifierPolicy = ClassifierPolicy()
    budgets: Budgets = Budgets()
    shedding: SheddingPolicy = SheddingPolicy()
    failover: FailoverPolicy = FailoverPolicy()
    state: StatePolicy = StatePolicy()
    auth: AuthPolicy = AuthPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    agent: AgentPolicy = AgentPolicy()

    def agent_for(self, tenant: str | None) -> AgentPolicy:
        """The step policy of ``tenant``: its own ``agent`` section if it has one, else the top-level one."""
        spec = self.auth.tenants.get(tenant) if tenant is not None else None
        return spec.agent if spec is not None and spec.agent is not None else self.agent

    aliases: dict[Annotated[str, StringConstraints(pattern=_ALIAS_NAME)], str] = Field(default_factory=dict)
    messages: MessagesPolicy = MessagesPolicy()

    def alias_target(self, name: str) -> str | None:
        """The virtual model or backend an alias sends ``name`` to, or ``None`` when no alias matches."""
        if name in self.aliases:
            return self.aliases[name]
        best: str | None = None
        for pattern in self.aliases:
            if (
                pattern.endswith("*")
                and _alias_matches(pattern, name)
                and (best is None or len(pattern) > len(best))
            ):
                best = pattern
        return None if best is None else self.aliases[best]

    @model_validator(mode="after")
    def _alias_references(self) -> Policy:
        served = {spec.model for spec in self.backends.values()}
        for alias, target in self.aliases.items():
            if target not in self.models and target not in self.backends:
                known = ", ".join(sorted([*self.models, *self.backends]))
                raise ValueError(
                    f"aliases.{alias}: unknown target {target!r}; known virtual models and backends: {known}"
                )
            for name in (*self.models, *served):
                if _alias_matches(alias, name):
                    raise ValueError(f"aliases.{alias}: would hide the model {name!r} of the same name")
        return self

    @model_validator(mode="after")
    def _references(self) -> Policy:
        served = {spec.model for spec in self.backends.values()}
        for name, vm in self.models.items():
            if name in served:
                raise ValueError(f"models.{name}: the name is also a backend's served model name")
            if not vm.thinking and not vm.instruct:
                raise ValueError(f"models.{name}: needs at least one pool in 'thinking' or 'instruct'")
            for kind, pools in (("thinking", vm.thinking), ("instruct", vm.instruct)):
                for pool in pools:
                    spec = self.backends.get(pool)
                    if spec is None:
                        known = ", ".join(sorted(self.backends))
                        raise ValueError(f"models.{name}.{kind}: unknown backend {pool!r}; known: {known}")
                    if kind == "thinking" and not spec.can_think:
                        raise ValueError(f"models.{name}.thinking: backend {pool!r} is mode {spec.mode}")
                    if kind == "instruct" and not spec.can_answer_directly:
                        raise ValueError(f"models.{name}.instruct: backend {pool!r} is mode {spec.mode}")
            if vm.effort == "none" and not vm.instruct:
                raise ValueError(f"models.{name}: effort none needs an 'instruct' pool list")
            if vm.effort not in ("none", "classify") and not vm.thinking:
                raise ValueError(f"models.{name}: effort {vm.effort} needs a 'thinking' pool list")
        return self


def _check_tenant_models(policy: Policy) -> None:
    for name, tenant in policy.auth.tenants.items():
        for model in tenant.models:
            if model not in policy.models:
                known = ", ".join(sorted(policy.models))
                raise ValueError(
                    f"auth.tenants.{name}.models: unknown virtual model {model!r}; known: {known}"
                )


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Validate a parsed policy mapping; raises :class:`pydantic.ValidationError` or ``ValueError``."""
    policy = Policy.model_validate(data)
    _check_tenant_models(policy)
    return policy
