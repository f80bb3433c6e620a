"""What differs between vLLM releases, as far as the simulator models it (PROTOCOLS.md §2.8, §13, §14).

`VersionProfile.for_version("0.19.0")` turns a version string into a frozen set of switches that the
request adaptation (`compat`), the response shapes (`responses`) and the serving code read. Pure: no I/O.

Releases not covered by PROTOCOLS.md (0.21.x) are treated like the release before them (0.20.x).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

Version = tuple[int, int, int]

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-]?(?:rc|dev|post|a|b)\d*)*(?:\+[0-9A-Za-z.]+)?$")

FULL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


class VersionError(ValueError):
    """A vLLM version string the simulator cannot interpret."""


class HistoryRead(enum.Enum):
    """Which assistant-history reasoning keys reach the chat template."""

    DROPPED = "dropped"  # ≤0.11.0: neither key
    EITHER = "either"  # `reasoning`, else `reasoning_content`; the template gets both keys
    REASONING_ONLY = "reasoning_only"  # `reasoning_content` alone is ignored


class BudgetSupport(enum.Enum):
    """What a request's `thinking_token_budget` does on one endpoint."""

    IGNORED = "ignored"  # unknown field: no effect, no validation, no error
    NEEDS_CONFIG = "needs_config"  # 0.19 chat: 400 without --reasoning-config (the simulator has none)
    ENFORCED = "enforced"


def parse_version(text: str) -> Version:
    """`"0.11.1"` -> `(0, 11, 1)`; a missing patch is 0; rc/dev/post/local suffixes are ignored.

    Raises `VersionError` for anything else.
    """
    match = _VERSION_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise VersionError(
            f"vllm_version {text!r} is not a vLLM release number such as '0.32.0', '0.11' or '0.10.2rc1'"
        )
    major, minor, patch = match.group(1), match.group(2), match.group(3)
    return int(major), int(minor), int(patch or 0)


@dataclass(frozen=True)
class VersionProfile:
    """The version-dependent behaviour of one simulated vLLM release (qwen3 reasoning parser).

    * `reasoning_keys`: keys carrying reasoning in `message` and stream `delta` (§13.3).
    * `history_chat` / `history_tokenize`: which history reasoning keys `/v1/chat/completions` and the
      chat form of `/tokenize` pass to the template (§13.3; `/tokenize` lacks the ≥0.22 renaming validator).
    * `efforts`: accepted `reasoning_effort` values, None = field unknown and ignored (§13.4).
    * `effort_sets_thinking`: `reasoning_effort` sets `enable_thinking` when the kwargs lack it (≥0.22).
    * `include_reasoning`: the `include_reasoning` field exists (≥0.10.1, §13.2).
    * `budget_chat` / `budget_completions`: `thinking_token_budget` per endpoint (§13.5).
    * `reasoning_tokens_details`: chat usage has `completion_tokens_details.reasoning_tokens` (≥0.28, §14).
    * `return_token_ids`: `/v1/completions` honours `return_token_ids` (≥0.10.2, §13.6).
    * `parser_needs_both_tags`: qwen3 parser 0.9.0–0.16.x reports everything as content unless the output
      holds both `<think>` and `</think>` (§2.8).
    """

    version: Version
    reasoning_keys: tuple[str, ...]
    history_chat: HistoryRead
    history_tokenize: HistoryRead
    efforts: tuple[str, ...] | None
    effort_sets_thinking: bool
    include_reasoning: bool
    budget_chat: BudgetSupport
    budget_completions: BudgetSupport
    reasoning_tokens_details: bool
    return_token_ids: bool
    parser_needs_both_tags: bool

    @classmethod
    def for_version(cls, text: str) -> VersionProfile:
        """The profile of vLLM release `text` (raises `VersionError` if it is not a version)."""
        v = parse_version(text)
        return cls(
            version=v,
            reasoning_keys=_reasoning_keys(v),
            history_chat=_history(v, tokenize=False),
            history_tokenize=_history(v, tokenize=True),
            efforts=_efforts(v),
            effort_sets_thinking=v >= (0, 22, 0),
            include_reasoning=v >= (0, 10, 1),
            budget_chat=_budget_chat(v),
            budget_completions=BudgetSupport.ENFORCED if v >= (0, 22, 0) else BudgetSupport.IGNORED,
            reasoning_tokens_details=v >= (0, 28, 0),
            return_token_ids=v >= (0, 10, 2),
            parser_needs_both_tags=v < (0, 17, 0),
        )


def _reasoning_keys(v: Version) -> tuple[str, ...]:
    if v <= (0, 11, 0):
        return ("reasoning_content",)
    if v < (0, 16, 0):
        return ("reasoning", "reasoning_content")
    return ("reasoning",)


def _history(v: Version, *, tokenize: bool) -> HistoryRead:
    if v <= (0, 11, 0):
        return HistoryRead.DROPPED
    if v < (0, 16, 0):
        return HistoryRead.EITHER
    if v < (0, 22, 0) or tokenize:
        return HistoryRead.REASONING_ONLY
    return HistoryRead.EITHER


def _efforts(v: Version) -> tuple[str, ...] | None:
    if v <= (0, 10, 0):
        return None
    if v < (0, 18, 0):
        return ("low", "medium", "high")
    if v < (0, 22, 0):
        return ("none", "low", "medium", "high")
    return FULL_EFFORTS


def _budget_chat(v: Version) -> BudgetSupport:
    if v < (0, 19, 0):
        return BudgetSupport.IGNORED
    if v < (0, 20, 0):
        return BudgetSupport.NEEDS_CONFIG
    return BudgetSupport.ENFORCED
