"""Decide per family what an (effort, budget) pair really becomes: thinking, budget placement, effort.

Pure decision step of ``render_chat``; it never touches the request body. Every deviation from what was asked
is recorded in ``notes`` and visible in ``applied_effort`` / ``budget`` / ``forcing_budget``.
"""

from __future__ import annotations

from typing import NamedTuple

from templates.effort import EffortLevel, nearest_effort
from templates.errors import UnsupportedBackendError, UnsupportedEffortError
from templates.family import Family, Mode, Switch
from templates.vllm import VllmVersion, accepted_reasoning_efforts, supports_thinking_budget


class EffortPlan(NamedTuple):
    """What the backend will be asked to do. A named tuple: the render builds one per request, and a named
    tuple is as immutable as the frozen dataclass it was at about half the cost to build (seven fields by
    keyword: 0.60 vs 1.05 us, CPython 3.11, 2026-12-07)."""

    thinking: bool
    applied_effort: EffortLevel
    native_budget: int | None
    forcing_budget: int | None
    #: Value of the top-level ``reasoning_effort`` field, for families switched by it.
    reasoning_effort: EffortLevel | None
    notes: tuple[str, ...]


def plan_effort(
    family: Family, effort: EffortLevel, budget: int | None, version: VllmVersion, *, native_budget: bool
) -> EffortPlan:
    """Map ``effort``/``budget`` onto ``family`` served by vLLM ``version``."""
    if family.switch is Switch.REASONING_EFFORT:
        return _plan_native_effort(family, effort, budget, version)
    if family.mode is Mode.INSTRUCT_ONLY:
        if effort != "none":
            raise UnsupportedEffortError(
                f"family {family.name!r} is instruct-only and cannot think; effort {effort!r} must be routed "
                "to a thinking or hybrid backend"
            )
        return EffortPlan(False, "none", None, None, None, _ignored_budget(budget, "the family never thinks"))
    if effort == "none" and family.mode is Mode.HYBRID:
        return EffortPlan(False, "none", None, None, None, _ignored_budget(budget, "thinking is off"))
    notes: tuple[str, ...] = ()
    if effort == "none":  # thinking-only family
        notes = (
            f"{family.name} cannot turn thinking off: effort 'none' approximated by a thinking budget of 0 "
            "(forces the end tag at once; answer quality unverified)",
        )
        budget = 0
    return _place_budget(family, effort, budget, version, native_budget, notes)


def _place_budget(
    family: Family,
    effort: EffortLevel,
    budget: int | None,
    version: VllmVersion,
    native_budget: bool,
    notes: tuple[str, ...],
) -> EffortPlan:
    if budget is None:
        return EffortPlan(True, effort, None, None, None, notes)
    if family.native_budget and native_budget and supports_thinking_budget(version):
        return EffortPlan(True, effort, budget, None, None, notes)
    if family.think_tags is not None:
        why = (
            "native budgets are disabled for this backend"
            if not native_budget or not family.native_budget
            else f"vLLM {_dotted(version)} has no usable thinking_token_budget (needs >= 0.20)"
        )
        return EffortPlan(
            True, effort, None, budget, None, (*notes, f"budget {budget} enforced by forcing: {why}")
        )
    applied = nearest_effort(effort, family.native_efforts) or effort
    note = (
        f"budget {budget} cannot be enforced for {family.name} (no native budget, no think tags to force); "
        f"thinking is unbounded, applied effort {applied!r}"
    )
    return EffortPlan(True, applied, None, None, None, (*notes, note))


def _plan_native_effort(
    family: Family, effort: EffortLevel, budget: int | None, version: VllmVersion
) -> EffortPlan:
    accepted = accepted_reasoning_efforts(version)
    allowed = tuple(level for level in family.native_efforts if level in accepted)
    if not allowed:
        raise UnsupportedBackendError(
            f"family {family.name!r} needs the reasoning_effort field, which vLLM {_dotted(version)} "
            "does not accept (needs >= 0.10.1)"
        )
    applied = nearest_effort(effort, allowed)
    assert applied is not None  # allowed is non-empty
    notes: list[str] = []
    if applied != effort:
        notes.append(
            f"effort {effort!r} mapped to reasoning_effort {applied!r} ({family.name} accepts {allowed})"
        )
    if budget is not None:
        notes.append(
            f"budget {budget} not enforceable for {family.name}: reasoning_effort is the only control"
        )
    return EffortPlan(True, applied, None, None, applied, tuple(notes))


def _ignored_budget(budget: int | None, why: str) -> tuple[str, ...]:
    return () if budget is None else (f"budget {budget} ignored: {why}",)


def _dotted(version: VllmVersion) -> str:
    return ".".join(str(part) for part in version)
