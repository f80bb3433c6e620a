"""Budget forcing: the pure decision behind Qwen's two-pass thinking-budget recipe (PROTOCOLS §2.7).

The gateway generates thinking up to the budget; then it asks :func:`next_forcing_step` whether thinking ended
by itself or what text to append (the family's early-stop text, which closes the think block) before it
continues generation for the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from templates.errors import InvalidRequestError, UnknownFamilyError
from templates.family import Family, ThinkTags


@dataclass(frozen=True)
class ForcingStep:
    """What to do next in a forced-budget generation.

    ``append_text`` is appended to the generated text before continuing (empty when nothing is forced).
    ``continue_generation`` is False when the turn is over. ``remaining_thinking_tokens`` bounds the next
    thinking pass when thinking continues.
    """

    ended_naturally: bool
    budget_exhausted: bool
    append_text: str
    continue_generation: bool
    remaining_thinking_tokens: int


def think_tags_for(family: Family) -> ThinkTags:
    """The family's think tags; a family without them cannot be budget-forced."""
    if family.think_tags is None:
        raise UnknownFamilyError(f"family {family.name!r} has no think tags: budget forcing is not possible")
    return family.think_tags


def next_forcing_step(
    tags: ThinkTags, generated: str, *, thinking_tokens: int, budget: int, stopped: bool
) -> ForcingStep:
    """Decide the next step after a thinking pass.

    ``generated`` is the text produced so far in this turn, ``thinking_tokens`` how many tokens of it count
    against the budget, and ``stopped`` whether the model ended the turn itself (EOS / stop string).
    """
    for name, value in (("thinking_tokens", thinking_tokens), ("budget", budget)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidRequestError(f"{name} must be a non-negative int, got {value!r}")
    remaining = max(0, budget - thinking_tokens)
    if tags.end in generated:
        return ForcingStep(True, False, "", not stopped, 0)
    if stopped:
        # The model ended its turn inside thinking: nothing to force, the reasoning is truncated.
        return ForcingStep(False, False, "", False, 0)
    if thinking_tokens >= budget:
        return ForcingStep(False, True, tags.early_stop_text, True, 0)
    return ForcingStep(False, False, "", True, remaining)
