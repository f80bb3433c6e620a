"""The canonical reasoning-effort scale.

``none < minimal < low < medium < high < xhigh < max`` is the union of OpenAI's ``reasoning_effort`` enum and
vLLM's request enum (PROTOCOLS.md §1). ``none`` means instruct mode (no thinking at all).
"""

from __future__ import annotations

from enum import StrEnum


class Effort(StrEnum):
    """One level of the effort scale; compare levels with :func:`rank` or the rich comparisons."""

    NONE = "none"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"
    MAX = "max"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def thinks(self) -> bool:
        """True for every level that turns thinking on."""
        return self is not Effort.NONE

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Effort):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Effort):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Effort):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Effort):
            return NotImplemented
        return self.rank >= other.rank

    def step_down(self) -> Effort:
        """The next lower level (``none`` stays ``none``)."""
        return _ORDER[max(0, self.rank - 1)]


_ORDER: tuple[Effort, ...] = tuple(Effort)

#: Levels the classifier predicts.
CLASSIFIER_LEVELS: tuple[Effort, ...] = (Effort.NONE, Effort.LOW, Effort.MEDIUM, Effort.HIGH)


def parse_effort(value: str) -> Effort:
    """Parse a client- or operator-written level; raise ``ValueError`` listing the valid ones."""
    try:
        return Effort(value.strip().lower())
    except ValueError:
        valid = ", ".join(e.value for e in Effort)
        raise ValueError(f"unknown reasoning effort {value!r}; valid values: {valid}") from None
