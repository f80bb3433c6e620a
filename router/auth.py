"""API keys and tenants in the policy file (the ``auth:`` section).

Keys are never written in clear: a key entry gives either the SHA-256 of the key (``sha256``) or the name
of an environment variable holding it (``env``; the gateway hashes it at startup and forgets the clear
text). Each key belongs to a tenant; a tenant may restrict the virtual models it can use and cap effort and
thinking budget.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.effort import Effort
from router.steps import AgentPolicy

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeySpec(_Frozen):
    """One API key: ``sha256`` (hex digest of the key) or ``env`` (variable holding the key)."""

    name: str = Field(min_length=1, description="a label for logs and metrics; never the key")
    tenant: str = Field(min_length=1)
    sha256: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KeySpec:
        if (self.sha256 is None) == (self.env is None):
            raise ValueError(f"key {self.name!r}: give exactly one of 'sha256' or 'env'")
        if self.sha256 is not None and not _HEX64.match(self.sha256):
            raise ValueError(f"key {self.name!r}: sha256 must be 64 lowercase hex characters")
        return self


class TenantPolicy(_Frozen):
    """What a tenant may use. ``models`` empty = every virtual model; caps apply after the decision.
    ``agent`` replaces the top-level step policy for this tenant's requests (null = use the top-level one)."""

    models: tuple[str, ...] = ()
    max_effort: Effort | None = None
    max_budget: int | None = Field(default=None, ge=0)
    agent: AgentPolicy | None = None


class AuthPolicy(_Frozen):
    """``enabled: false`` (default) serves everyone as the ``default`` tenant (local use)."""

    enabled: bool = False
    keys: tuple[KeySpec, ...] = ()
    tenants: dict[str, TenantPolicy] = Field(default_factory=dict)
    default_tenant: TenantPolicy = TenantPolicy()
    admin_token_env: str = "THINKGATE_ADMIN_TOKEN"

    @model_validator(mode="after")
    def _keys(self) -> AuthPolicy:
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names):
            raise ValueError("auth.keys: key names must be unique")
        for key in self.keys:
            if key.tenant not in self.tenants:
                known = ", ".join(sorted(self.tenants)) or "none"
                raise ValueError(
                    f"auth.keys: key {key.name!r} names unknown tenant {key.tenant!r}; known: {known}"
                )
        if self.enabled and not self.keys:
            raise ValueError("auth.enabled is true but auth.keys is empty")
        return self
