"""Map a decision to the upstream body of one pool (delegates the family rules to :mod:`templates`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.backends.pool import Pool
from router.decision import Decision

#: Client-side signal fields that are ours to interpret; never forwarded as they are.
SIGNAL_FIELDS = ("reasoning_effort", "reasoning", "thinking")


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    applied_effort: str
    thinking: bool
    native_budget: int | None


def render_chat(pool: Pool, body: dict[str, Any], decision: Decision, *, stream: bool) -> Rendered:
    out = {k: v for k, v in body.items() if k not in SIGNAL_FIELDS}
    out["model"] = pool.spec.model
    thinking = decision.effort.thinks and pool.spec.can_think
    kwargs = dict(out.get("chat_template_kwargs") or {})
    if pool.spec.mode == "hybrid":
        kwargs["enable_thinking"] = thinking
    kwargs.pop("thinking", None)
    if kwargs:
        out["chat_template_kwargs"] = kwargs
    else:
        out.pop("chat_template_kwargs", None)
    native = decision.budget if thinking and decision.budget is not None else None
    if native is not None:
        out["thinking_token_budget"] = native
    if stream:
        opts = dict(out.get("stream_options") or {})
        opts["include_usage"] = True
        out["stream_options"] = opts
    return Rendered(orjson.dumps(out), decision.effort.value if thinking else "none", thinking, native)
