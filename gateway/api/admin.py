"""Admin endpoints: the policy in use, replacing it, rolling it back. Need the admin token.

The token is read from the environment variable named by ``auth.admin_token_env`` (default
``THINKGATE_ADMIN_TOKEN``) at each request and compared in constant time; unset = admin disabled (403).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from gateway.api.common import gateway_state, read_body
from gateway.errors import BadRequest, GatewayError
from gateway.reload import PolicyManager, PolicyVersion
from gateway.store.shared import SharedState

router = APIRouter()


class AdminUnauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_admin_token"


class AdminForbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "admin_disabled"


def _check_token(request: Request) -> None:
    env = gateway_state(request).policy.auth.admin_token_env
    token = os.environ.get(env)
    if not token:
        raise AdminForbidden(f"admin endpoints are disabled: set the environment variable {env} to a token")
    header = request.headers.get("authorization") or ""
    if header[:7].lower() != "bearer " or not header[7:].strip():
        raise AdminUnauthorized(
            "missing admin token: send 'Authorization: Bearer <admin token>'",
            headers={"www-authenticate": "Bearer"},
        )
    presented = hashlib.sha256(header[7:].strip().encode("utf-8")).digest()
    if not hmac.compare_digest(presented, hashlib.sha256(token.encode("utf-8")).digest()):
        raise AdminForbidden("invalid admin token", code="invalid_admin_token")


def _manager(request: Request) -> PolicyManager:
    _check_token(request)
    shared: SharedState = request.app.state.shared
    return shared.policies


def _view(manager: PolicyManager, current: PolicyVersion, text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": current.version,
        "source": current.source,
        "sha256": current.sha256,
        "previous_version": None if manager.previous is None else manager.previous.version,
        "shared": manager.shared is not None,
    }
    if text:
        out["text"] = current.text
    return out


@router.get("/admin/policy")
async def get_policy(request: Request) -> JSONResponse:
    manager = _manager(request)
    return JSONResponse(_view(manager, manager.current, text=True))


@router.put("/admin/policy")
async def put_policy(request: Request) -> JSONResponse:
    """Replace the policy: YAML or JSON body, validated like the policy file (400 names line and reason)."""
    manager = _manager(request)
    raw = await read_body(request, gateway_state(request).settings.max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the policy must be UTF-8 text (YAML or JSON)", code="invalid_policy") from None
    current = await manager.put(text, "PUT /admin/policy")
    return JSONResponse(_view(manager, current, text=False))


@router.post("/admin/policy/rollback")
async def rollback_policy(request: Request) -> JSONResponse:
    manager = _manager(request)
    current = await manager.rollback()
    return JSONResponse(_view(manager, current, text=False))
