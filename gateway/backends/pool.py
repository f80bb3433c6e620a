"""A backend pool: its endpoints, their in-flight counts and health, and the choice of an endpoint.

Choice: among healthy endpoints, the one with the fewest in-flight requests from this gateway (ties broken at
random). Passive health: ``eject_after`` consecutive failures eject an endpoint for ``eject_seconds``.
Active health: an endpoint whose ``/health`` probe fails is skipped until a probe passes again.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from gateway.backends.client import UpstreamClient
from router.policy import BackendSpec


@dataclass(slots=True)
class Endpoint:
    url: str
    inflight: int = 0
    failures: int = 0
    ejected_until: float = 0.0
    probed_ok: bool | None = None  # result of the last active probe, None before the first

    def healthy(self, now: float) -> bool:
        return now >= self.ejected_until and self.probed_ok is not False


@dataclass(slots=True)
class Pool:
    """One named pool of the policy, with its upstream client and version facts."""

    name: str
    spec: BackendSpec
    client: UpstreamClient
    endpoints: list[Endpoint] = field(default_factory=list)
    vllm_version: tuple[int, int, int] | None = None
    eject_after: int = 3
    eject_seconds: float = 10.0
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    @classmethod
    def build(cls, name: str, spec: BackendSpec) -> Pool:
        client = UpstreamClient(spec.timeouts, spec.max_connections)
        return cls(name=name, spec=spec, client=client, endpoints=[Endpoint(u) for u in spec.endpoints])

    def candidates(self, exclude: set[str]) -> list[Endpoint]:
        """Endpoints to try in order: healthy ones by load, then ejected ones as a last resort."""
        now = time.monotonic()
        usable = [e for e in self.endpoints if e.url not in exclude]
        healthy = [e for e in usable if e.healthy(now)]
        self._rng.shuffle(healthy)
        healthy.sort(key=lambda e: e.inflight)
        return healthy

    def any_healthy(self) -> bool:
        now = time.monotonic()
        return any(e.healthy(now) for e in self.endpoints)

    def record_success(self, endpoint: Endpoint) -> None:
        endpoint.failures = 0
        endpoint.ejected_until = 0.0

    def record_failure(self, endpoint: Endpoint) -> None:
        endpoint.failures += 1
        if endpoint.failures >= self.eject_after:
            endpoint.ejected_until = time.monotonic() + self.eject_seconds

    def record_probe(self, endpoint: Endpoint, ok: bool) -> None:
        """An active probe result. A passing probe does not end a passive ejection early: an endpoint whose
        ``/health`` is fine can still fail every request (Envoy's outlier detection behaves the same)."""
        endpoint.probed_ok = ok
