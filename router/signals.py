"""Explicit client signals about thinking, read from a chat-completions body and one header.

Each signal says "thinking off", "thinking on" (level left to us), a level, or a budget. All the signals a
request carries must agree; a contradiction raises :class:`SignalConflict` (the gateway answers 400).
See the README section "Explicit signals and precedence".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from router.effort import Effort, parse_effort


class SignalError(ValueError):
    """A signal the client sent is malformed; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class SignalConflict(SignalError):
    """Two explicit signals contradict each other."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One explicit signal: ``on`` False = no thinking; ``effort``/``budget`` refine an ``on`` signal."""

    name: str
    on: bool
    effort: Effort | None = None
    budget: int | None = None

    def describe(self) -> str:
        if not self.on:
            return f"{self.name} (thinking off)"
        if self.effort is not None:
            return f"{self.name} (effort {self.effort.value})"
        if self.budget is not None:
            return f"{self.name} (budget {self.budget})"
        return f"{self.name} (thinking on)"


_SOFT = re.compile(r"(?<![\w/])/(no_think|think)(?![\w/])")


def _level(value: Any, name: str) -> Effort:
    if not isinstance(value, str):
        raise SignalError(f"{name} must be a string", name)
    try:
        return parse_effort(value)
    except ValueError as exc:
        raise SignalError(f"{name}: {exc}", name) from None


def _budget(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SignalError(f"{name} must be a non-negative integer", name)
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SignalError(f"{name} must be true or false", name)
    return value


def _from_effort(name: str, effort: Effort) -> Signal:
    return Signal(name, on=effort.thinks, effort=effort)


def _reasoning_object(value: Any) -> list[Signal]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise SignalError("reasoning must be an object", "reasoning")
    out: list[Signal] = []
    effort = value.get("effort")
    max_tokens = value.get("max_tokens")
    if effort is not None and max_tokens is not None:
        raise SignalConflict(
            "reasoning.effort and reasoning.max_tokens are mutually exclusive; send one", "reasoning"
        )
    if effort is not None:
        out.append(_from_effort("reasoning.effort", _level(effort, "reasoning.effort")))
    if max_tokens is not None:
        budget = _budget(max_tokens, "reasoning.max_tokens")
        out.append(Signal("reasoning.max_tokens", on=budget > 0, budget=budget))
    enabled = value.get("enabled")
    if enabled is not None:
        out.append(Signal("reasoning.enabled", on=_bool(enabled, "reasoning.enabled")))
    if "exclude" in value and value["exclude"] is not None:
        _bool(value["exclude"], "reasoning.exclude")
    return out


def _thinking_object(value: Any) -> list[Signal]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise SignalError("thinking must be an object", "thinking")
    kind = value.get("type")
    if kind == "disabled":
        return [Signal("thinking.type", on=False)]
    if kind == "adaptive":
        return [Signal("thinking.type", on=True)]
    if kind == "enabled":
        if value.get("budget_tokens") is None:
            return [Signal("thinking.type", on=True)]
        budget = _budget(value["budget_tokens"], "thinking.budget_tokens")
        return [Signal("thinking.budget_tokens", on=budget > 0, budget=budget)]
    raise SignalError("thinking.type must be one of enabled, disabled, adaptive", "thinking.type")


def _template_kwargs(value: Any) -> list[Signal]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise SignalError("chat_template_kwargs must be an object", "chat_template_kwargs")
    out = []
    for key in ("enable_thinking", "thinking"):
        if key in value and value[key] is not None:
            name = f"chat_template_kwargs.{key}"
            out.append(Signal(name, on=_bool(value[key], name)))
    return out


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return ""


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)


def soft_switch(messages: Sequence[Any]) -> Signal | None:
    """Qwen's ``/think`` / ``/no_think``: the last one in the latest user message, else in the system one."""
    # plain loops, dicts first: the ABC check costs ~0.15 us per message, which adds up on long agent
    # trajectories, and the two generators of next(...) scans were ~0.6 of this function's ~1.5 us warm
    last_user: Mapping[str, Any] | None = None
    system: Mapping[str, Any] | None = None
    for m in reversed(messages):
        if _is_mapping(m) and m.get("role") == "user":
            last_user = m
            break
    for m in messages:
        if _is_mapping(m) and m.get("role") in ("system", "developer"):
            system = m
            break
    for message, where in ((last_user, "user"), (system, "system")):
        if message is None:
            continue
        text = _text_of(message.get("content"))
        # every match holds one of these substrings; the regex (lookarounds at each position) costs ~9 us on
        # a 1 KB message, the substring checks well under 1 us
        found = _SOFT.findall(text) if "/think" in text or "/no_think" in text else None
        if found:
            return Signal(f"/{found[-1]} in the {where} message", on=found[-1] == "think")
    return None


#: The body fields :func:`explicit_signals` reads.
SIGNAL_FIELDS = ("reasoning_effort", "reasoning", "thinking", "chat_template_kwargs")


def explicit_signals(body: Mapping[str, Any], header_effort: str | None) -> list[Signal]:
    """Every explicit field-level signal of a request (soft switches excluded), in precedence order."""
    out: list[Signal] = []
    if header_effort is not None and header_effort.strip():
        out.append(_from_effort("x-thinkgate-effort header", _level(header_effort, "x-thinkgate-effort")))
    if body.get("reasoning_effort") is not None:
        out.append(_from_effort("reasoning_effort", _level(body["reasoning_effort"], "reasoning_effort")))
    out.extend(_reasoning_object(body.get("reasoning")))
    out.extend(_thinking_object(body.get("thinking")))
    out.extend(_template_kwargs(body.get("chat_template_kwargs")))
    return out


def reasoning_excluded(body: Mapping[str, Any]) -> bool:
    """OpenRouter's ``reasoning.exclude``: think, but do not return the reasoning text."""
    reasoning = body.get("reasoning")
    return isinstance(reasoning, Mapping) and reasoning.get("exclude") is True


@dataclass(frozen=True, slots=True)
class Ask:
    """What the explicit signals agree on: thinking off, or on with an optional level and budget."""

    on: bool
    effort: Effort | None
    budget: int | None
    signals: tuple[Signal, ...]

    def describe(self) -> str:
        return ", ".join(s.describe() for s in self.signals)


def merge(signals: Sequence[Signal]) -> Ask | None:
    """Combine agreeing signals; raise :class:`SignalConflict` naming the two that disagree."""
    if not signals:
        return None
    first = signals[0]
    effort_sig: Signal | None = None
    budget_sig: Signal | None = None
    for sig in signals:
        if sig.on != first.on:
            raise SignalConflict(
                f"contradictory thinking signals: {first.describe()} vs {sig.describe()}", sig.name
            )
        if sig.effort is not None:
            if effort_sig is not None and effort_sig.effort is not sig.effort:
                raise SignalConflict(
                    f"contradictory thinking signals: {effort_sig.describe()} vs {sig.describe()}", sig.name
                )
            effort_sig = effort_sig or sig
        if sig.budget is not None:
            if budget_sig is not None and budget_sig.budget != sig.budget:
                raise SignalConflict(
                    f"contradictory thinking signals: {budget_sig.describe()} vs {sig.describe()}", sig.name
                )
            budget_sig = budget_sig or sig
    if first.on and effort_sig is not None and budget_sig is not None:
        raise SignalConflict(
            f"send an effort level or a thinking budget, not both: {effort_sig.describe()} and "
            f"{budget_sig.describe()}",
            budget_sig.name,
        )
    return Ask(
        on=first.on,
        effort=effort_sig.effort if effort_sig else None,
        budget=budget_sig.budget if budget_sig else None,
        signals=tuple(signals),
    )
