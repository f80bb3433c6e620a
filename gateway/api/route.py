"""``POST /v1/route``: the decision for a chat-completions body, without generating."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.chat import make_decision
from gateway.api.common import budget_label, gateway_state, read_body
from gateway.protocol import parse_json_object, validate_chat
from gateway.state import GatewayState
from router.decide import Caps

router = APIRouter()


def decision_report(
    state: GatewayState, body: dict[str, Any], header: str | None, caps: Caps | None = None
) -> dict[str, Any]:
    """Effort, budget, source, reason, scores and the pool that would serve ``body`` (first healthy one)."""
    req = validate_chat(body)
    decision = make_decision(state, body, req.model, header, caps)
    plan = state.plan(state.target(req.model), decision.effort)
    chosen = next((p for p in plan if p.any_healthy()), plan[0])
    return {
        "model": req.model,
        "effort": decision.effort.value,
        "budget": decision.budget,
        "budget_label": budget_label(decision.budget),
        "source": decision.source.value,
        "reason": decision.reason,
        "scores": decision.scores,
        "capped": decision.capped,
        "backend": chosen.name,
        "backend_model": chosen.spec.model,
        "plan": [p.name for p in plan],
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
