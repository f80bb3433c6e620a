"""The result of deciding how much a request should think."""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum

from router.agent import StepView
from router.effort import Effort
from router.records import record


class Source(StrEnum):
    """Where the effort of a decision came from."""

    EXPLICIT = "explicit"
    VIRTUAL_MODEL = "virtual-model"
    CLASSIFIER = "classifier"
    POLICY = "policy"
    SHED = "shed"


@record
class Decision:
    """Effort and thinking budget for one request, and why.

    ``budget`` is the thinking-token budget; ``None`` means unlimited (bounded by ``max_tokens`` only),
    ``0`` means no thinking.
    """

    effort: Effort
    budget: int | None
    source: Source
    reason: str
    scores: dict[str, float] = field(default_factory=dict)
    capped: bool = False
    #: The agent step this request is (None when step awareness is off), and the effort of its task.
    step: StepView | None = None
    task_effort: Effort | None = None
    #: The client asked to think but not to get the reasoning text back (``reasoning.exclude``).
    exclude_reasoning: bool = False
    #: What the episode's thinking budget did to this step: ``bounded`` (its budget lowered to what is
    #: left), ``no_thinking`` (the episode is spent), or None (nothing).
    episode_effect: str | None = None
