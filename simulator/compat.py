"""Request handling that depends on the simulated vLLM release: fields an older server does not know are
dropped unvalidated (as vLLM ignores unknown fields), unsupported values are rejected with vLLM's 400, and
assistant-history reasoning is filtered the way that release reads it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.protocol import SimError
from simulator.versions import FULL_EFFORTS, BudgetSupport, HistoryRead, VersionProfile

BUDGET_NEEDS_CONFIG = (
    "thinking_token_budget is set but reasoning_config is not configured. "
    "Please set --reasoning-config to use thinking_token_budget."
)


def _quoted_choices(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def adapt_chat_body(profile: VersionProfile, data: dict[str, Any]) -> dict[str, Any]:
    """The chat request body as `profile`'s release sees it (a new dict; raises `SimError` 400)."""
    out = dict(data)
    if profile.efforts is None:
        out.pop("reasoning_effort", None)
    elif profile.efforts != FULL_EFFORTS:
        effort = out.get("reasoning_effort")
        if effort is not None and effort not in profile.efforts:
            raise SimError(
                400,
                f"reasoning_effort: Input should be {_quoted_choices(profile.efforts)}",
                "reasoning_effort",
            )
    if not profile.include_reasoning:
        out.pop("include_reasoning", None)
    if profile.budget_chat is BudgetSupport.IGNORED:
        out.pop("thinking_token_budget", None)
    elif profile.budget_chat is BudgetSupport.NEEDS_CONFIG and out.get("thinking_token_budget") is not None:
        raise SimError(400, BUDGET_NEEDS_CONFIG, "thinking_token_budget")
    return out


def adapt_completion_body(profile: VersionProfile, data: dict[str, Any]) -> dict[str, Any]:
    """The completion request body as `profile`'s release sees it (a new dict)."""
    out = dict(data)
    if profile.budget_completions is BudgetSupport.IGNORED:
        out.pop("thinking_token_budget", None)
    if not profile.return_token_ids:
        out.pop("return_token_ids", None)
    return out


def filter_history(read: HistoryRead, messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Messages with the reasoning keys removed that this release does not pass to the template.

    Non-object entries are passed through untouched (the template rendering rejects them).
    """
    if read is HistoryRead.EITHER:
        return list(messages)
    dropped = ("reasoning", "reasoning_content") if read is HistoryRead.DROPPED else ("reasoning_content",)
    out: list[Mapping[str, Any]] = []
    for message in messages:
        if isinstance(message, Mapping) and any(k in message for k in dropped):
            message = {k: v for k, v in message.items() if k not in dropped}
        out.append(message)
    return out
