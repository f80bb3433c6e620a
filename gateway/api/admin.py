"""Admin endpoints: the policy in use, replacing it, rolling it back; runtime API keys. Need the admin token.

The token is read from the environment variable named by ``auth.admin_token_env`` (default
``THINKGATE_ADMIN_TOKEN``) at each request and compared in constant time; unset = admin disabled (403).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from gateway.auth import InvalidAdminToken, RuntimeKey, bearer_token, digest, same_secret
from gateway.errors import BadRequest, GatewayError
from gateway.limits import StateUnavailable
from gateway.pipeline.prologue import gateway_state, read_body
from gateway.reload import PolicyManager, PolicyVersion
from gateway.store.base import StoreError
from gateway.store.keys import KeyConflict, KeyManager
from gateway.wiring import SharedState

router = APIRouter()
log = logging.getLogger("thinkgate.admin")

#: a runtime key's name: used in Redis key names and logs, so a small alphabet
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: a key given by the caller: printable ASCII without spaces, long enough not to be guessed
_KEY_TEXT = re.compile(r"^[\x21-\x7e]{20,256}$")


class AdminForbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "admin_disabled"


def _check_token(request: Request) -> None:
    env = gateway_state(request).policy.auth.admin_token_env
    token = os.environ.get(env)
    if not token:
        raise AdminForbidden(f"admin endpoints are disabled: set the environment variable {env} to a token")
    presented = bearer_token(request.headers.get("authorization"))
    if presented is None:
        raise InvalidAdminToken(
            "missing admin token: send 'Authorization: Bearer <admin token>'",
            headers={"www-authenticate": "Bearer"},
        )
    if not same_secret(presented, token):
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


def _key_manager(request: Request) -> KeyManager:
    _check_token(request)
    shared: SharedState = request.app.state.shared
    return shared.keys


def _field(body: dict[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{name}' must be a non-empty string", param=name, code="invalid_key_request")
    return value


async def _key_request(request: Request) -> tuple[str, str, str | None]:
    raw = await read_body(request, gateway_state(request).settings.max_body_bytes)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be a JSON object", code="invalid_key_request") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_key_request")
    unknown = sorted(set(body) - {"name", "tenant", "key"})
    if unknown:
        raise BadRequest(
            f"unknown field(s): {', '.join(unknown)}", param=unknown[0], code="invalid_key_request"
        )
    name, tenant = _field(body, "name", True), _field(body, "tenant", True)
    assert name is not None and tenant is not None
    if not _KEY_NAME.match(name):
        raise BadRequest(
            "'name' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            param="name",
            code="invalid_key_request",
        )
    key = _field(body, "key", False)
    if key is not None and not _KEY_TEXT.match(key):
        raise BadRequest(
            "'key' must be 20-256 printable ASCII characters without spaces (or leave it out to get one)",
            param="key",
            code="invalid_key_request",
        )
    return name, tenant, key


@router.post("/admin/keys")
async def add_key(request: Request) -> JSONResponse:
    """Add a runtime key ``{"name", "tenant", "key"?}``; the key (generated when not given) is in this
    response only: only its SHA-256 is stored."""
    manager = _key_manager(request)
    name, tenant, key = await _key_request(request)
    state = gateway_state(request)
    auth = state.policy.auth
    if tenant not in auth.tenants:
        known = ", ".join(sorted(auth.tenants)) or "none"
        raise BadRequest(
            f"unknown tenant {tenant!r}; the policy's tenants: {known}", param="tenant", code="unknown_tenant"
        )
    if name in state.keys.policy_names:
        raise KeyConflict(f"{name!r} is a key of the policy file; choose another name", param="name")
    clear = key if key is not None else "sk-tg-" + secrets.token_urlsafe(32)
    value = digest(clear)
    if state.keys.known_digest(value):
        raise KeyConflict("this key is already in use; choose another", param="key")
    try:
        await manager.add(RuntimeKey(name, tenant, value))
    except StoreError as exc:
        raise StateUnavailable(f"key not added: shared state unavailable ({exc})") from None
    log.info("runtime API key %r added for tenant %r", name, tenant)
    out = {"name": name, "tenant": tenant, "key": clear, "auth_enabled": auth.enabled}
    return JSONResponse(out, status_code=201)


@router.get("/admin/keys")
async def list_keys(request: Request) -> JSONResponse:
    """Every key's name, tenant and source (``policy`` or ``runtime``); never a key or a digest."""
    manager = _key_manager(request)
    state = gateway_state(request)
    try:
        await manager.reload()
        stale = False
    except StoreError:
        stale = True  # list this process's copy
    data = [{"name": k.name, "tenant": k.tenant, "source": "policy"} for k in state.policy.auth.keys]
    data += [{"name": k.name, "tenant": k.tenant, "source": "runtime"} for k in manager.cache.keys]
    return JSONResponse({"object": "list", "data": data, "stale": stale})


@router.delete("/admin/keys/{name}")
async def delete_key(request: Request, name: str) -> JSONResponse:
    """Delete a runtime key (404 when there is none; a policy key is changed in the policy: 409)."""
    manager = _key_manager(request)
    if name in gateway_state(request).keys.policy_names:
        raise KeyConflict(
            f"{name!r} is a key of the policy file: change the policy to remove it", param="name"
        )
    try:
        await manager.remove(name)
    except StoreError as exc:
        raise StateUnavailable(f"key not deleted: shared state unavailable ({exc})") from None
    log.info("runtime API key %r deleted", name)
    return JSONResponse({"name": name, "deleted": True})
