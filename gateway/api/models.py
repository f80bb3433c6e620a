"""``GET /v1/models``: virtual models, exact aliases, then each backend's served model.

A request with an ``anthropic-version`` header (every Anthropic client sends one) gets Anthropic's list shape
(``type: model``, ``display_name``, ``created_at``, ``has_more``); others get OpenAI's."""

from __future__ import annotations

import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.pipeline.prologue import gateway_state
from gateway.state import GatewayState

router = APIRouter()


def _entries(state: GatewayState, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
    """OpenAI model objects the caller may use, in listing order."""
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
    for alias, target in state.policy.aliases.items():
        if alias.endswith("*"):
            continue  # a prefix pattern is not a model name
        resolved = state.target(alias)
        if allowed and (not resolved.virtual or resolved.name not in allowed):
            continue
        data.append(
            {
                "id": alias,
                "object": "model",
                "created": state.started,
                "owned_by": "thinkgate",
                "thinkgate": {"alias_of": target, "virtual": resolved.virtual},
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
    return data


def _anthropic(entry: dict[str, Any]) -> dict[str, Any]:
    created = datetime.datetime.fromtimestamp(entry["created"], tz=datetime.UTC)
    return {
        "type": "model",
        "id": entry["id"],
        "display_name": entry["id"],
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "lifecycle": "active",
    }


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    state = gateway_state(request)
    principal = state.keys.authenticate(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    data = _entries(state, principal.policy.models)
    if "anthropic-version" in request.headers:
        listed = [_anthropic(e) for e in data]
        first, last = (listed[0]["id"], listed[-1]["id"]) if listed else (None, None)
        return _json({"data": listed, "has_more": False, "first_id": first, "last_id": last})
    return _json({"object": "list", "data": data})
