"""API-key authentication and tenant permissions (policy ``auth:``; see :mod:`router.auth`).

Keys are held only as SHA-256 digests; a presented key is hashed and compared with every known digest in
constant time (no early exit), so neither timing nor logs reveal keys. Besides the policy's keys there are
*runtime* keys added through ``POST /admin/keys``: :class:`RuntimeKeys` is this process's copy of them (kept
current by :mod:`gateway.store.keys`), so checking one never waits on Redis.
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


class KeysUnavailable(GatewayError):
    """The runtime keys were never loaded (Redis down since startup) and ``on_redis_error`` is ``closed``."""

    status = 503
    type = "api_error"
    code = "shared_state_unavailable"


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


class InvalidAdminToken(GatewayError):
    """401 for a missing or wrong admin token, from the admin API and the console alike."""

    status = 401
    type = "authentication_error"
    code = "invalid_admin_token"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent, another scheme or empty."""
    header = authorization or ""
    if header[:7].lower() != "bearer " or not header[7:].strip():
        return None
    return header[7:].strip()


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time equality of two secrets (compared as SHA-256 digests, so their lengths leak nothing)."""
    a = hashlib.sha256(presented.encode("utf-8")).digest()
    return hmac.compare_digest(a, hashlib.sha256(expected.encode("utf-8")).digest())


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class RuntimeKey:
    """A key added at runtime: its label, tenant and SHA-256 digest (never the key)."""

    name: str
    tenant: str
    sha256: bytes


class RuntimeKeys:
    """This process's copy of the runtime keys. ``loaded`` is false until the first successful read (with
    Redis); ``fail_closed`` makes an unknown key a 503 instead of a 401 while nothing was ever loaded."""

    def __init__(self, fail_closed: bool = False, loaded: bool = True) -> None:
        self.fail_closed = fail_closed
        self.loaded = loaded
        self._keys: tuple[RuntimeKey, ...] = ()

    @property
    def keys(self) -> tuple[RuntimeKey, ...]:
        return self._keys

    def replace(self, keys: tuple[RuntimeKey, ...]) -> None:
        """Swap in a complete new set (one assignment: a request sees the old set or the new one)."""
        self._keys = tuple(sorted(keys, key=lambda k: k.name))
        self.loaded = True


class KeyStore:
    """The policy's keys, hashed, plus the runtime keys when :meth:`attach` gave them. Built at startup and on
    each policy change; a key whose ``env`` variable is unset fails startup."""

    def __init__(
        self, auth: AuthPolicy, environ: Mapping[str, str], runtime: RuntimeKeys | None = None
    ) -> None:
        self.enabled = auth.enabled
        self.runtime = runtime
        self._tenants = auth.tenants
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

    @property
    def policy_names(self) -> frozenset[str]:
        """The names of the policy's keys."""
        return frozenset(p.key_name for _, p in self._keys if p.key_name is not None)

    def attach(self, runtime: RuntimeKeys) -> None:
        """Also accept the keys of ``runtime`` (the same object across policy changes)."""
        self.runtime = runtime

    def known_digest(self, value: bytes) -> bool:
        """Whether some key (policy or runtime) already has this digest (constant time over all)."""
        found = False
        for known, _ in self._keys:
            found |= hmac.compare_digest(known, value)
        for key in self.runtime.keys if self.runtime is not None else ():
            found |= hmac.compare_digest(key.sha256, value)
        return found

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        """The caller for an ``Authorization: Bearer`` header value, else an ``x-api-key`` header value (what
        Anthropic clients send); 401 when auth is on and the key is unknown.

        Every candidate is compared (policy keys, then runtime keys), found or not; a runtime key whose tenant
        is no longer in the policy is not accepted."""
        if not self.enabled:
            return self._anonymous
        if authorization and authorization[:7].lower() == "bearer ":
            presented = digest(authorization[7:].strip())
        elif not authorization and api_key and api_key.strip():
            presented = digest(api_key.strip())
        else:
            raise Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                headers={"www-authenticate": "Bearer"},
            )
        found: Principal | None = None
        for value, principal in self._keys:
            if hmac.compare_digest(value, presented):
                found = principal
        runtime = self.runtime
        for key in runtime.keys if runtime is not None else ():
            if hmac.compare_digest(key.sha256, presented) and found is None:
                tenant = self._tenants.get(key.tenant)
                if tenant is not None:
                    found = Principal(key.name, key.tenant, tenant)
        if found is None:
            if runtime is not None and not runtime.loaded and runtime.fail_closed:
                raise KeysUnavailable("API keys cannot be checked: shared state unavailable")
            raise Unauthorized("invalid API key", headers={"www-authenticate": "Bearer"})
        return found
