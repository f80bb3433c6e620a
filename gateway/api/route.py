"""``POST /v1/route``: a dry run of a chat-completions body — the decision, the route and the exact upstream
request of every step, without generating."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.chat import parse_chat
from gateway.errors import BadRequest
from gateway.pipeline.plan import budget_label, plan_call, step_view
from gateway.pipeline.prologue import gateway_state, read_body
from gateway.protocol import parse_json_object
from gateway.state import GatewayState
from router.decide import Caps
from router.routing import NoPoolForEffort, pools_for

router = APIRouter()


def decision_report(
    state: GatewayState, body: dict[str, Any], header: str | None, caps: Caps | None = None
) -> dict[str, Any]:
    """The plan of ``body``: effort, budget, source, reason, scores, the pool that would serve it (first
    healthy one of the model's list), every render note (``warnings``), and per step of the failover chain
    the exact first request the gateway would send (``upstream``)."""
    call = parse_chat(body)
    target = state.target(call.model)
    plan = plan_call(state, call, target, header, caps)
    decision = plan.decision
    assert decision is not None
    try:
        names = pools_for(target, decision.effort)
    except NoPoolForEffort as exc:  # plan_call raised it already; kept for the type checker
        raise BadRequest(str(exc), param="model", code="effort_not_supported") from None
    pools = [state.pools[n] for n in names]
    chosen = next((p for p in pools if p.any_healthy()), pools[0])
    return {
        "model": call.model,
        "effort": decision.effort.value,
        "budget": decision.budget,
        "budget_label": budget_label(decision.budget),
        "source": decision.source.value,
        "reason": decision.reason,
        "scores": decision.scores,
        "capped": decision.capped,
        "backend": chosen.name,
        "backend_model": chosen.spec.model,
        "plan": list(names),
        "shed": plan.shed,
        "warnings": plan.warnings,
        "upstream": [step_view(step, call.path) for step in plan.steps],
    }


@router.post("/v1/route")
async def route(request: Request) -> Response:
    state = gateway_state(request)
    principal = state.keys.authenticate(request.headers.get("authorization"))
    body = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    model = body.get("model")
    if isinstance(model, str):
        principal.check_model(model, state.target(model, principal.policy.models).virtual)
    report = decision_report(state, body, request.headers.get("x-thinkgate-effort"), principal.caps)
    return Response(orjson.dumps(report), media_type="application/json")
