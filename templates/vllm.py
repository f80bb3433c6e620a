"""What a given vLLM release accepts, as pure data (PROTOCOLS.md §13).

Versions are ``(major, minor, patch)`` tuples; the gateway reads them from the backend's ``GET /version`` at
startup and passes them in.
"""

from __future__ import annotations

from typing import Final

from templates.effort import EFFORT_LEVELS, EffortLevel
from templates.errors import UnsupportedBackendError

VllmVersion = tuple[int, int, int]

#: The release the project's real-vLLM tests run against (VLLM_CPU.md).
DEFAULT_VLLM_VERSION: Final[VllmVersion] = (0, 32, 0)

# §13.4: accepted `reasoning_effort` values by first release that has them.
_REASONING_EFFORT_BY_RELEASE: Final[tuple[tuple[VllmVersion, tuple[EffortLevel, ...]], ...]] = (
    ((0, 22, 0), EFFORT_LEVELS),
    ((0, 18, 0), ("none", "low", "medium", "high")),
    ((0, 10, 1), ("low", "medium", "high")),
)


def require_version(version: object) -> VllmVersion:
    """Validate ``version`` as three non-negative ints, raising :class:`UnsupportedBackendError` otherwise."""
    if type(version) is tuple and len(version) == 3:  # the usual case, without the generator (~1 us)
        major, minor, patch = version
        if type(major) is int and type(minor) is int and type(patch) is int and min(version) >= 0:
            return (major, minor, patch)
    if (
        not isinstance(version, tuple)
        or len(version) != 3
        or not all(isinstance(part, int) and not isinstance(part, bool) and part >= 0 for part in version)
    ):
        raise UnsupportedBackendError(
            f"vLLM version must be a (major, minor, patch) tuple of ints, got {version!r}"
        )
    return (version[0], version[1], version[2])


def accepted_reasoning_efforts(version: VllmVersion) -> tuple[EffortLevel, ...]:
    """Values of the Chat Completions ``reasoning_effort`` field this release validates (empty: no field).

    Sending anything else is a 400, so callers must down-map (``≤0.10.0`` absent, ``0.10.1–0.17``
    low/medium/high, ``0.18–0.20`` adds none, ``≥0.22`` the full enum; 0.21 was not inspected and is treated
    as 0.18–0.20).
    """
    for first, values in _REASONING_EFFORT_BY_RELEASE:
        if version >= first:
            return values
    return ()


def supports_thinking_budget(version: VllmVersion) -> bool:
    """True when Chat Completions honours ``thinking_token_budget`` with only ``--reasoning-parser`` set.

    0.19 has the field but needs ``--reasoning-config`` (else an error); ≤0.18 silently ignores it (§13.5).
    """
    return version >= (0, 20, 0)


def reads_history_reasoning(version: VllmVersion) -> bool:
    """True when vLLM passes an assistant message's ``reasoning``/``reasoning_content`` to the template.

    ≤0.11.0 drops both keys before templating (§13.3); from 0.11.1 one or both reach the template, so the
    gateway sends both.
    """
    return version >= (0, 11, 1)
