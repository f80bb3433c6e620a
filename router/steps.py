"""The step policy (policy file ``agent:``): how each step kind of an agent loop adjusts the task's effort.

The task's effort is what the decision would be without agent awareness (the classifier's view of the task,
or the virtual model's level). A :class:`StepRule` moves it: ``base`` (``task`` or a fixed level), ``shift``
(levels up or down on ``none < minimal < low < medium < high < xhigh``), then ``min`` / ``max`` bounds.
Strings are shorthands: ``task``, ``up`` (task + 1), ``down`` (task - 1), or a level name (that level).

Defaults and why (Cuadron et al. 2025, "The Danger of Overthinking": agents that deliberate instead of
acting resolve fewer issues at more compute):

* ``plan: task`` — the first step decides the approach; think as much as the task needs.
* ``act: {base: task, max: low}`` — after a good result the next action is usually mechanical; at most a
  short think, never more than the task itself needs.
* ``recover: {base: task, shift: 1, min: low}`` — an error, exception, failing test or empty result is where
  thinking changes the next action: one level above the task, and at least ``low``.
* ``stuck`` (the same call ``stuck_after`` = 3 times in a row, or the same cycle of 2-3 steps with the same
  results ``stuck_cycles`` = 2 rounds in a row): ``{base: task, shift: 1, min: low}`` for the first
  ``stuck_escalations`` stuck steps, then ``stuck_then: none`` — one harder think to break the loop; if the
  loop persists more thinking is waste, so it runs without thinking and ``x-thinkgate-step: stuck`` lets the
  harness see it. A cycle must repeat its results too: running the tests after each *different* edit is work.
* ``answer: task`` — no tools (plain chat: exactly the decision without agent awareness) or checks pass.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from router.agent import AgentState, StepKind, StepView, step_kind
from router.effort import Effort
from router.episodes import EpisodePolicy

_SCALE: tuple[Effort, ...] = (
    Effort.NONE, Effort.MINIMAL, Effort.LOW, Effort.MEDIUM, Effort.HIGH, Effort.XHIGH,
)  # fmt: skip
LevelName = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
#: String shorthands of a :class:`StepRule`.
SHORTHANDS: tuple[str, ...] = ("task", "up", "down", *(e.value for e in _SCALE))
DecisionSource = Literal["classifier", "policy", "explicit", "virtual-model"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepRule(_Frozen):
    """The effort of one step kind: ``base`` moved by ``shift`` levels, then bounded by ``min`` and ``max``.

    A string is a shorthand: ``task``, ``up``, ``down``, or a level name.
    """

    base: Literal["task"] | LevelName = "task"
    shift: int = Field(default=0, ge=-5, le=5)
    min: LevelName | None = None
    max: LevelName | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word == "up":
                return {"base": "task", "shift": 1}
            if word == "down":
                return {"base": "task", "shift": -1}
            return {"base": word}
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Published schema: the object form or one of the string shorthands."""
        obj = handler(core_schema)
        words = {"type": "string", "enum": list(SHORTHANDS), "description": "shorthand of a step rule"}
        return {"anyOf": [words, obj]}

    @model_validator(mode="after")
    def _bounds(self) -> StepRule:
        if self.min is not None and self.max is not None and Effort(self.min) > Effort(self.max):
            raise ValueError(f"min {self.min!r} is above max {self.max!r}")
        return self

    def apply(self, task: Effort) -> Effort:
        """The step's effort for a task at ``task`` (``max`` effort counts as ``xhigh`` on the scale)."""
        level = task if self.base == "task" else Effort(self.base)
        if self.shift:
            rank = _SCALE.index(level) if level in _SCALE else len(_SCALE) - 1  # `max` moves as `xhigh`
            level = _SCALE[max(0, min(len(_SCALE) - 1, rank + self.shift))]
        if self.min is not None and level < Effort(self.min):
            level = Effort(self.min)
        if self.max is not None and level > Effort(self.max):
            level = Effort(self.max)
        return level

    def describe(self) -> str:
        text = self.base if self.shift == 0 else f"{self.base}{self.shift:+d}"
        if self.min is not None:
            text += f", min {self.min}"
        if self.max is not None:
            text += f", max {self.max}"
        return text


class StepRules(_Frozen):
    """One rule per step kind."""

    plan: StepRule = StepRule()
    act: StepRule = StepRule(max="low")
    recover: StepRule = StepRule(shift=1, min="low")
    stuck: StepRule = StepRule(shift=1, min="low")
    answer: StepRule = StepRule()

    def for_kind(self, kind: StepKind) -> StepRule:
        rule: StepRule = getattr(self, kind)  # a StrEnum member is its value (no .value property call)
        return rule


class AgentPolicy(_Frozen):
    """Step awareness for agent loops (policy ``agent:``; a tenant may replace it under ``auth.tenants``).

    ``enabled: false`` keeps the decision of the task for every step. ``sources``: decision sources the
    step policy adjusts (explicit client signals and fixed-effort virtual models are honoured unless listed).
    ``stuck_after``: the same call (name and arguments) this many times in a row is a loop.
    ``stuck_cycles``: the same cycle of two or three steps (same calls with the same results, such as
    ``A, B, A, B``) this many rounds in a row is a loop.
    ``stuck_escalations``: stuck steps that get the ``stuck`` rule; later ones get ``stuck_then``.
    ``episodes``: the thinking-token budget of one task across its steps (:mod:`router.episodes`).
    """

    enabled: bool = True
    sources: tuple[DecisionSource, ...] = ("classifier", "policy")
    stuck_after: int = Field(default=3, ge=2)
    stuck_cycles: int = Field(default=2, ge=2)
    stuck_escalations: int = Field(default=1, ge=0)
    stuck_then: StepRule = StepRule(base="none")
    steps: StepRules = StepRules()
    episodes: EpisodePolicy = EpisodePolicy()

    def step(self, state: AgentState) -> StepView:
        """Name the step of ``state`` with this policy's loop thresholds."""
        return step_kind(state, stuck_after=self.stuck_after, stuck_cycles=self.stuck_cycles)

    def rule_for(self, view: StepView) -> tuple[StepRule, str]:
        """The rule for a step and its name as the reason shows it."""
        if view.kind is StepKind.STUCK and view.stuck_count > self.stuck_escalations:
            return self.stuck_then, "stuck_then"
        return self.steps.for_kind(view.kind), view.kind

    def step_effort(self, view: StepView, task: Effort) -> tuple[Effort, str]:
        """The effort for this step of a task at ``task``, and why (pure)."""
        rule, name = self.rule_for(view)
        effort = rule.apply(task)
        return effort, f"{name} ({rule.describe()}): {task} -> {effort}"  # members are their value (StrEnum)
