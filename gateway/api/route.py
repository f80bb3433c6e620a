"""``POST /v1/route``: the decision for a chat-completions body, without generating."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.chat import make_decision
from gateway.api.common import budget_label, gateway_state, read_body, request_id
from gateway.protocol import parse_json_object, validate_chat

router = APIRouter()


@router.post("/v1/route")
async def route(request: Request) -> Response:
    state = gateway_state(request)
    body = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    req = validate_chat(body)
    decision = make_decision(state, body, req.model, request.headers.get("x-thinkgate-effort"))
    target = state.target(req.model)
    plan = state.plan(target, decision.effort)
    chosen = next((p for p in plan if p.any_healthy()), plan[0])
    out = {
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
    headers = {"x-request-id": request_id(request)}
    return Response(orjson.dumps(out), media_type="application/json", headers=headers)
