"""The effort scale as seen by the templates package.

``templates`` must not import ``router``, so the scale is restated here as plain strings (PROTOCOLS.md §1):
``none < minimal < low < medium < high < xhigh < max``. ``none`` means instruct mode (no thinking).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, TypeGuard, get_args

from templates.errors import InvalidEffortError

EffortLevel = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]

#: Every level, lowest first.
EFFORT_LEVELS: Final[tuple[EffortLevel, ...]] = get_args(EffortLevel)


def is_effort(value: object) -> TypeGuard[EffortLevel]:
    """True when ``value`` is one of the effort strings."""
    return isinstance(value, str) and value in EFFORT_LEVELS


def require_effort(value: object) -> EffortLevel:
    """Return ``value`` as an effort level or raise :class:`InvalidEffortError` naming the valid ones."""
    if not is_effort(value):
        raise InvalidEffortError(f"unknown effort {value!r}; expected one of {', '.join(EFFORT_LEVELS)}")
    return value


def effort_rank(effort: EffortLevel) -> int:
    """Position of ``effort`` on the scale (``none`` is 0)."""
    return EFFORT_LEVELS.index(effort)


def nearest_effort(effort: EffortLevel, allowed: Iterable[EffortLevel]) -> EffortLevel | None:
    """The level of ``allowed`` closest to ``effort``, or None when ``allowed`` is empty.

    A thinking level never maps to ``none`` (that would silently turn thinking off) unless ``none`` is all
    there is; on a tie the lower level wins (less compute, same as a shed).
    """
    choices = [e for e in EFFORT_LEVELS if e in set(allowed)]
    if effort in choices:
        return effort
    if effort != "none" and any(c != "none" for c in choices):
        choices = [c for c in choices if c != "none"]
    if not choices:
        return None
    target = effort_rank(effort)
    return min(choices, key=lambda c: (abs(effort_rank(c) - target), effort_rank(c)))
