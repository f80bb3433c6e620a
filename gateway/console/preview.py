"""``/console/api/info`` (what the page's pickers offer) and ``/console/api/route`` (the Try view).

The Try view's decision is ``/v1/route``'s report (:func:`gateway.api.route.decision_report`), asked with the
admin token for any tenant instead of with that tenant's API key.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.route import decision_report
from gateway.auth import Principal
from gateway.console.access import require_bearer
from gateway.errors import BadRequest
from gateway.pipeline.prologue import gateway_state, read_body
from gateway.protocol import parse_json_object
from gateway.wiring import SharedState
from router.effort import Effort

router = APIRouter()

_FIELDS = {"body", "tenant", "effort_header"}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json", headers={"cache-control": "no-store"})


@router.get("/console/api/info", include_in_schema=False)
async def info(request: Request) -> Response:
    """Virtual models, tenants, pools, thresholds and budgets of the policy in use, and its version."""
    require_bearer(request)
    state = gateway_state(request)
    policy = state.policy
    shared: SharedState = request.app.state.shared
    tenants = {"default": policy.auth.default_tenant, **policy.auth.tenants}
    return _json(
        {
            "policy_version": shared.policies.current.version,
            "models": {
                name: {"effort": vm.effort, "description": vm.description}
                for name, vm in policy.models.items()
            },
            "tenants": {name: t.model_dump(mode="json") for name, t in tenants.items()},
            "backends": {
                name: {"family": b.family, "mode": b.mode, "model": b.model}
                for name, b in policy.backends.items()
            },
            "efforts": [e.value for e in Effort],
            "thresholds": policy.classifier.thresholds.model_dump(),
            "budgets": policy.budgets.model_dump(),
            "auth_enabled": policy.auth.enabled,
        }
    )


def _principal(request: Request, tenant: Any) -> Principal:
    auth = gateway_state(request).policy.auth
    if tenant is None or tenant == "default":
        return Principal(None, "default", auth.default_tenant)
    if not isinstance(tenant, str) or tenant not in auth.tenants:
        known = ", ".join(["default", *sorted(auth.tenants)])
        raise BadRequest(f"unknown tenant {tenant!r}; the policy's tenants: {known}", param="tenant")
    return Principal(None, tenant, auth.tenants[tenant])


@router.post("/console/api/route", include_in_schema=False)
async def route_preview(request: Request) -> Response:
    """``{"body": <chat completions body>, "tenant"?: str, "effort_header"?: str}`` → the decision report."""
    require_bearer(request)
    state = gateway_state(request)
    wrapper = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    unknown = sorted(set(wrapper) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; expected body, tenant, effort_header")
    body = wrapper.get("body")
    if not isinstance(body, dict):
        raise BadRequest("'body' must be a chat completions request object", param="body")
    header = wrapper.get("effort_header")
    if header is not None and not isinstance(header, str):
        raise BadRequest("'effort_header' must be a string", param="effort_header")
    principal = _principal(request, wrapper.get("tenant"))
    model = body.get("model")
    if isinstance(model, str):
        principal.check_model(model, state.target(model, principal.policy.models).virtual)
    report = decision_report(state, body, header or None, principal.caps)
    report["tenant"] = principal.tenant
    return _json(report)
