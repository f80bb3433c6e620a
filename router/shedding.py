"""Effort shedding, pure: the per-pool hysteresis controller and the effort a shed request gets.

A pool's shed level is a small integer (0 = not shedding). :func:`next_level` moves it at most one step per
call and only after ``dwell_seconds`` since the previous change; the gateway calls it after every load scrape.
:func:`shed_effort` lowers an effort by that many steps, never below the policy's floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.effort import Effort
from router.policy import PoolShedding


@dataclass(frozen=True, slots=True)
class PoolLoad:
    """A pool's load as the shedding thresholds see it (means over its healthy, freshly scraped endpoints)."""

    queue_per_endpoint: float
    kv_usage: float


@dataclass(frozen=True, slots=True)
class ShedLevel:
    """The controller's state: how many steps the pool sheds, and when that last changed."""

    steps: int = 0
    changed_at: float | None = None


def next_level(current: ShedLevel, load: PoolLoad | None, now: float, spec: PoolShedding) -> ShedLevel:
    """One controller step. ``load`` ``None`` (no fresh data) keeps the level."""
    if load is None:
        return current
    if current.changed_at is not None and now - current.changed_at < spec.dwell_seconds:
        return current
    engage, disengage = spec.engage, spec.disengage
    above = load.queue_per_endpoint >= engage.queue_per_endpoint or load.kv_usage >= engage.kv_usage
    below = load.queue_per_endpoint <= disengage.queue_per_endpoint and load.kv_usage <= disengage.kv_usage
    if above and current.steps < spec.max_steps:
        return ShedLevel(current.steps + 1, now)
    if below and current.steps > 0:
        return ShedLevel(current.steps - 1, now)
    return current


def shed_effort(effort: Effort, steps: int, floor: Effort) -> Effort:
    """``effort`` lowered by ``steps`` levels, not below ``floor``; an effort already at or below the floor
    (and ``none``) is left alone."""
    if steps <= 0 or effort <= floor or not effort.thinks:
        return effort
    lowered = effort
    for _ in range(steps):
        lowered = lowered.step_down()
    return max(lowered, floor)
