"""The routing policy: the operator's YAML file, validated into frozen pydantic models.

The gateway reads the file and passes the parsed mapping in (:func:`parse_policy`); nothing here touches disk.
Top-level keys follow DESIGN.md: ``version``, ``backends``, ``models``, ``classifier``, ``budgets``,
``shedding``, ``state``, ``auth``, ``limits``, ``upstream``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from router.classifier import ClassifierThresholds
from router.effort import Effort

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


class BackendSpec(_Frozen):
    """A named pool of vLLM endpoints serving one model of one family."""

    family: str
    mode: BackendMode
    model: str = Field(min_length=1, description="the backend's served model name")
    endpoints: tuple[str, ...] = Field(min_length=1)
    budget: BudgetMode = "auto"
    timeouts: Timeouts = Timeouts()
    max_connections: int = Field(default=256, ge=1)

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


class StatePolicy(_Frozen):
    redis_url: str | None = None
    on_redis_error: Literal["open", "closed"] = "open"


class Policy(_Frozen):
    """The whole validated policy."""

    version: Literal[1]
    backends: dict[str, BackendSpec] = Field(min_length=1)
    models: dict[str, VirtualModel] = Field(default_factory=dict)
    classifier: ClassifierPolicy = ClassifierPolicy()
    budgets: Budgets = Budgets()
    shedding: dict[str, Any] = Field(default_factory=dict)
    state: StatePolicy = StatePolicy()
    auth: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, Any] = Field(default_factory=dict)

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


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Validate a parsed policy mapping; raises :class:`pydantic.ValidationError`."""
    return Policy.model_validate(data)
