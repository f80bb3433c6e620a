"""API-key authentication and tenant permissions (policy ``auth:``; see :mod:`router.auth`).

Keys are held only as SHA-256 digests; a presented key is hashed and compared with every known digest in
constant time (no early exit), so neither timing nor logs reveal keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.errors import GatewayError
from router.auth import AuthPolicy, TenantPolicy
from router.decide import Caps


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "model_not_allowed"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's label (never the key) and its tenant."""

    key_name: str | None
    tenant: str
    policy: TenantPolicy

    @property
    def caps(self) -> Caps | None:
        if self.policy.max_effort is None and self.policy.max_budget is None:
            return None
        return Caps(max_effort=self.policy.max_effort, max_budget=self.policy.max_budget)

    def check_model(self, model: str, virtual: bool) -> None:
        allowed = self.policy.models
        if allowed and virtual and model not in allowed:
            raise Forbidden(
                f"tenant {self.tenant!r} may not use model {model!r}; allowed: {', '.join(allowed)}",
                param="model",
            )
        if allowed and not virtual:
            raise Forbidden(
                f"tenant {self.tenant!r} may only use the virtual models {', '.join(allowed)}", param="model"
            )


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyStore:
    """The policy's keys, hashed. Built at startup; a key whose ``env`` variable is unset fails startup."""

    def __init__(self, auth: AuthPolicy, environ: Mapping[str, str]) -> None:
        self.enabled = auth.enabled
        self._anonymous = Principal(None, "default", auth.default_tenant)
        self._keys: list[tuple[bytes, Principal]] = []
        for spec in auth.keys:
            if spec.sha256 is not None:
                value = bytes.fromhex(spec.sha256)
            else:
                assert spec.env is not None
                clear = environ.get(spec.env)
                if not clear:
                    raise ValueError(f"auth.keys: key {spec.name!r} reads ${spec.env}, which is not set")
                value = digest(clear)
            self._keys.append((value, Principal(spec.name, spec.tenant, auth.tenants[spec.tenant])))

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller for an ``Authorization`` header value; 401 when auth is on and the key is unknown."""
        if not self.enabled:
            return self._anonymous
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>'", headers={"www-authenticate": "Bearer"}
            )
        presented = digest(authorization[7:].strip())
        found: Principal | None = None
        for value, principal in self._keys:
            if hmac.compare_digest(value, presented):
                found = principal
        if found is None:
            raise Unauthorized("invalid API key", headers={"www-authenticate": "Bearer"})
        return found
