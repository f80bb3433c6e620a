"""Map a decision to the upstream body of one pool; the family rules live in :mod:`templates`."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.backends.pool import Pool
from gateway.errors import BadRequest
from router.decision import Decision
from router.policy import BackendSpec, Policy
from router.records import record
from templates.errors import TemplatesError, UnknownFamilyError
from templates.family import Mode
from templates.registry import get_family
from templates.render import render_chat as render_family
from templates.vllm import DEFAULT_VLLM_VERSION

#: Client-side signal fields that are ours to interpret; never forwarded as they are.
SIGNAL_FIELDS = ("reasoning_effort", "reasoning", "thinking")


@record
class Rendered:
    payload: dict[str, Any]
    body: bytes
    applied_effort: str
    thinking: bool
    native_budget: int | None
    forcing_budget: int | None
    notes: tuple[str, ...]
    opens_think: bool = False

    def budget_hit(self, reasoning_tokens: int) -> bool:
        """Whether vLLM's native budget cut the thinking. When the template opens ``<think>\n`` itself, vLLM
        counts that newline against the budget, so the model generates one token less (seen on vLLM 0.32)."""
        if self.native_budget is None:
            return False
        return reasoning_tokens >= self.native_budget - (1 if self.opens_think else 0)


_MODE_FOR = {"hybrid": Mode.HYBRID, "thinking": Mode.THINKING_ONLY, "instruct": Mode.INSTRUCT_ONLY}


def check_backend_family(name: str, spec: BackendSpec) -> None:
    """Fail at startup, not per request: the family must exist and fit the backend's mode."""
    try:
        family = get_family(spec.family)
    except UnknownFamilyError as exc:
        raise ValueError(f"backends.{name}.family: {exc}") from None
    if family.mode is not _MODE_FOR[spec.mode]:
        raise ValueError(
            f"backends.{name}: family {spec.family!r} is a {family.mode.value} model but the backend says "
            f"mode {spec.mode!r}"
        )


def check_families(policy: Policy) -> None:
    """Every backend of ``policy`` passes :func:`check_backend_family`; raises ``ValueError`` otherwise."""
    for name, spec in policy.backends.items():
        check_backend_family(name, spec)


def render_chat(pool: Pool, body: dict[str, Any], decision: Decision, *, stream: bool) -> Rendered:
    client = dict(body)
    for name in SIGNAL_FIELDS:
        client.pop(name, None)
    client["model"] = pool.spec.model
    if stream:
        opts = dict(client.get("stream_options") or {})
        opts["include_usage"] = (
            True  # the gateway needs usage for metrics; dropped again if the client didn't ask
        )
        client["stream_options"] = opts
    try:
        family = get_family(pool.spec.family)  # once: the render and opens_think below both need it
        result = render_family(
            family,
            client,
            decision.effort._value_,  # the plain value: .value is a property, two Python calls
            decision.budget if decision.effort.thinks else 0,
            vllm_version=pool.vllm_version or DEFAULT_VLLM_VERSION,
            native_budget=pool.spec.budget != "forcing",
            share_input=True,  # the payload is serialised below and only read afterwards
        )
    except TemplatesError as exc:
        raise BadRequest(f"backend {pool.name!r}: {exc}", code="unsupported_for_backend") from None
    return Rendered(
        payload=result.body,
        body=orjson.dumps(result.body),
        applied_effort=result.applied_effort,
        thinking=result.thinking,
        native_budget=result.budget,
        forcing_budget=result.forcing_budget,
        notes=result.notes,
        opens_think=family.opens_think,
    )
