"""Who may use the console: the admin token (``auth.admin_token_env``) as a bearer header or session cookie.

* no admin token configured: every console URL answers 404 (the console does not exist);
* no credentials: 401; credentials that do not match: 403.

The cookie (set by ``POST /console/session`` after a bearer check) only opens the HTML page on navigation;
it holds an HMAC of the token, never the token, so a new token invalidates it. Every data and action
endpoint takes the bearer header only, which a cross-site form cannot send.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from fastapi import Request

from gateway.auth import InvalidAdminToken, bearer_token, same_secret
from gateway.errors import GatewayError
from gateway.pipeline.prologue import gateway_state

COOKIE = "thinkgate_console"


class ConsoleOff(GatewayError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class ConsoleForbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "invalid_admin_token"


def admin_token(request: Request) -> str:
    """The configured admin token; :class:`ConsoleOff` (404) when there is none."""
    env = gateway_state(request).policy.auth.admin_token_env
    token = os.environ.get(env)
    if not token:
        raise ConsoleOff("not found")
    return token


def session_value(token: str) -> str:
    """The cookie value for ``token``: an HMAC, so the cookie never carries the token itself."""
    return hmac.new(token.encode("utf-8"), b"thinkgate console session v1", hashlib.sha256).hexdigest()


def bearer(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization"))


def require_bearer(request: Request) -> None:
    """The check of every ``/console/api`` endpoint: 404 off, 401 no bearer token, 403 a wrong one."""
    token = admin_token(request)
    presented = bearer(request)
    if presented is None:
        raise InvalidAdminToken(
            "missing admin token: send 'Authorization: Bearer <admin token>'",
            headers={"www-authenticate": "Bearer"},
        )
    if not same_secret(presented, token):
        raise ConsoleForbidden("invalid admin token")


def page_access(request: Request) -> int:
    """The status for the HTML page: 200 (bearer or cookie matches), 401 (neither given), 403 (mismatch)."""
    token = admin_token(request)
    presented = bearer(request)
    if presented is not None:
        return 200 if same_secret(presented, token) else 403
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        return 401
    return 200 if same_secret(cookie, session_value(token)) else 403
