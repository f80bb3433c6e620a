"""``GET /v1/models``: the policy's virtual models, then each backend's served model."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.pipeline.prologue import gateway_state

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    state = gateway_state(request)
    principal = state.keys.authenticate(request.headers.get("authorization"))
    allowed = principal.policy.models
    data = []
    for name, vm in state.policy.models.items():
        if allowed and name not in allowed:
            continue
        data.append(
            {
                "id": name,
                "object": "model",
                "created": state.started,
                "owned_by": "thinkgate",
                "thinkgate": {"virtual": True, "effort": vm.effort, "description": vm.description},
            }
        )
    seen: set[str] = set()
    for pool in state.pools.values():
        if allowed or pool.spec.model in seen:
            continue
        seen.add(pool.spec.model)
        data.append(
            {
                "id": pool.spec.model,
                "object": "model",
                "created": state.started,
                "owned_by": "vllm",
                "thinkgate": {"virtual": False, "backend": pool.name, "mode": pool.spec.mode},
            }
        )
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")
