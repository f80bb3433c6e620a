"""``render_chat``: the client's chat-completions body + decided effort → the exact upstream vLLM body.

Order of operations: plan (``templates.plan``) → switch kwargs → ``reasoning_effort`` → budget field →
sampling defaults → history (``templates.history``) → system-message quirks. The input body is never mutated;
unknown fields pass through untouched; everything changed or dropped is listed in ``Rendered.notes``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from templates.effort import EffortLevel, require_effort
from templates.errors import InvalidRequestError
from templates.family import Family, Switch
from templates.history import rewrite_history
from templates.plan import EffortPlan, plan_effort
from templates.registry import get_family
from templates.vllm import DEFAULT_VLLM_VERSION, VllmVersion, accepted_reasoning_efforts, require_version


class Rendered(NamedTuple):
    """The upstream request and what it really asks for (a named tuple, built for every request: see
    ``EffortPlan``).

    ``budget`` is the native ``thinking_token_budget`` placed in ``body`` (or None); ``forcing_budget`` is the
    budget the gateway must enforce itself by budget forcing (native budget unavailable); at most one is set.
    """

    family: str
    body: dict[str, Any]
    applied_effort: EffortLevel
    thinking: bool
    budget: int | None
    forcing_budget: int | None
    notes: tuple[str, ...]


def render_chat(
    family: Family | str,
    body: Mapping[str, Any],
    effort: EffortLevel,
    budget: int | None,
    *,
    vllm_version: VllmVersion = DEFAULT_VLLM_VERSION,
    native_budget: bool = True,
    share_input: bool = False,
) -> Rendered:
    """Build the upstream body for ``family`` at ``effort`` with thinking budget ``budget`` (None: no cap).

    ``body`` is never mutated. The result shares nothing with it, unless ``share_input``: then the result's
    nested values that no rule changes (messages other than the assistant's, tools, content parts, tool
    calls, unknown fields) are ``body``'s own, for a caller that only serialises the result and never edits
    it (the gateway). Every rule replaces what it changes (new top-level object, new message list and
    assistant messages from ``rewrite_history``, a new system message where a quirk edits one, new kwargs),
    so sharing is safe; it saves the deep copy, a full serialisation and parse of the body: ~20 % of the
    gateway's CPU on an 800 KB agent trajectory (benchmarks/RESULTS.md, hot path)."""
    fam = get_family(family) if isinstance(family, str) else family
    level = require_effort(effort)
    version = require_version(vllm_version)
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
        raise InvalidRequestError(f"thinking budget must be a non-negative int or None, got {budget!r}")
    if not isinstance(body, Mapping):
        raise InvalidRequestError(f"request body must be a JSON object, got {type(body).__name__}")

    notes: list[str] = []
    if fam.tools_without_thinking and level != "none" and offers_tools(body):
        notes.append(
            f"{fam.name}: tool step answered in non-thinking mode (effort {level} -> none; the model "
            "supports tool calls only without thinking)"
        )
        level, budget = "none", None
    plan = plan_effort(fam, level, budget, version, native_budget=native_budget)
    out = dict(body) if share_input else _independent_copy(body)
    notes.extend(plan.notes)
    _apply_kwargs(fam, out, plan.thinking, notes)
    _apply_reasoning_effort(fam, out, plan, version, notes)
    _apply_budget_field(out, plan, notes)
    _apply_sampling(fam, out, plan.thinking, notes)
    out["messages"] = rewrite_history(fam, out.get("messages"), version, notes)
    _apply_system_quirks(fam, out, plan.thinking, notes)
    return Rendered(
        family=fam.name,
        body=out,
        applied_effort=plan.applied_effort,
        thinking=plan.thinking,
        budget=plan.native_budget,
        forcing_budget=plan.forcing_budget,
        notes=tuple(notes),
    )


def offers_tools(body: Mapping[str, Any]) -> bool:
    """The request offers tools the model may call (a non-empty ``tools`` list, ``tool_choice`` not none)."""
    tools = body.get("tools")
    return isinstance(tools, list) and bool(tools) and body.get("tool_choice") != "none"


def _independent_copy(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy sharing nothing with the client's body. Request bodies are JSON, so an orjson round trip does
    it several times faster than ``copy.deepcopy``; anything else falls back to deepcopy."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(body))
    except TypeError:
        copied = copy.deepcopy(dict(body))
    return copied


def _apply_kwargs(family: Family, out: dict[str, Any], thinking: bool, notes: list[str]) -> None:
    """Send the switch explicitly (the decided value overwrites the client's) plus pinned kwargs."""
    client = out.get("chat_template_kwargs")
    if client is not None and not isinstance(client, dict):
        raise InvalidRequestError("'chat_template_kwargs' must be an object")
    kwargs: dict[str, Any] = dict(client or {})
    wanted: list[tuple[str, bool]] = list(family.pinned_kwargs)
    if family.switch is Switch.TEMPLATE_KWARG and family.switch_key is not None:
        wanted.append((family.switch_key, thinking))
        wanted.extend((alias, thinking) for alias in family.switch_aliases if alias in kwargs)
    for key, value in wanted:
        if key in kwargs and kwargs[key] != value:
            notes.append(f"chat_template_kwargs.{key}={kwargs[key]!r} overwritten with {value!r}")
        kwargs[key] = value
    if kwargs or client is not None:
        out["chat_template_kwargs"] = kwargs


def _apply_reasoning_effort(
    family: Family, out: dict[str, Any], plan: EffortPlan, version: VllmVersion, notes: list[str]
) -> None:
    """gpt-oss: set the native field. Others: never send it (the kwarg is explicit; §13.4: no benefit)."""
    client = out.pop("reasoning_effort", None)
    if family.switch is Switch.REASONING_EFFORT and plan.reasoning_effort is not None:
        out["reasoning_effort"] = plan.reasoning_effort
        if client is not None and client != plan.reasoning_effort:
            notes.append(f"reasoning_effort {client!r} replaced by {plan.reasoning_effort!r}")
        return
    if client is not None:
        accepted = accepted_reasoning_efforts(version)
        notes.append(
            f"reasoning_effort {client!r} removed: {family.name} is switched by chat_template_kwargs and "
            f"budget; this vLLM accepts {accepted or 'no such field'} and would at most derive "
            "enable_thinking from it"
        )


def _apply_budget_field(out: dict[str, Any], plan: EffortPlan, notes: list[str]) -> None:
    client = out.pop("thinking_token_budget", None)
    if plan.native_budget is not None:
        out["thinking_token_budget"] = plan.native_budget
    elif client is not None:
        notes.append(f"client thinking_token_budget {client!r} removed (budget decided by the gateway)")


def _apply_sampling(family: Family, out: dict[str, Any], thinking: bool, notes: list[str]) -> None:
    """Fill the authors' sampling for the mode where the client left a field unset (None counts as unset)."""
    filled = []
    for key, value in family.sampling(thinking=thinking).items:
        if out.get(key) is None:
            out[key] = value
            filled.append((key, value))
    if filled:
        notes.append(_sampling_note(thinking, tuple(filled)))
    if thinking and out.get("temperature") == 0 and family.sampling_thinking.temperature:
        notes.append(
            f"client temperature 0 kept; {family.name} authors advise against greedy decoding when thinking"
        )


@functools.lru_cache(maxsize=256)
def _sampling_note(thinking: bool, filled: tuple[tuple[str, float | int], ...]) -> str:
    """The note for the sampling defaults filled in: the same few per family and mode, so kept (~1 us)."""
    text = ", ".join(f"{key}={value}" for key, value in filled)
    return f"sampling defaults ({'thinking' if thinking else 'non-thinking'}): {text}"


def _apply_system_quirks(family: Family, out: dict[str, Any], thinking: bool, notes: list[str]) -> None:
    messages: list[dict[str, Any]] = out["messages"]  # the list is ours, its messages may be the client's
    # only a family with switch flags in the system message (SmolLM3) walks the messages for them
    for index, message in enumerate(messages) if family.system_switch_flags else ():
        content = message.get("content")
        if message["role"] != "system" or not isinstance(content, str):
            continue
        cleaned = content
        for flag in family.system_switch_flags:
            cleaned = cleaned.replace(flag, "")
        if cleaned != content:
            messages[index] = {**message, "content": cleaned.strip()}
            notes.append(
                f"removed {'/'.join(family.system_switch_flags)} flag from a system message "
                "(it would override the switch)"
            )
    first = messages[0]
    if thinking and family.thinking_system_instruction and first["role"] == "system":
        text = first.get("content")
        if isinstance(text, str) and family.thinking_system_instruction not in text:
            messages[0] = {
                **first,
                "content": f"{text}\n\n{family.thinking_system_instruction}"
                if text
                else family.thinking_system_instruction,
            }
            notes.append(
                f"appended the thinking instruction to the client system message ({family.name} quirk)"
            )
