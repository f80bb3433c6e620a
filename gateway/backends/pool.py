"""A backend pool: its endpoints, their load and health, and the choice of an endpoint.

Choice (``spec.routing.strategy``): ``load`` = power of two choices on the score of
:mod:`gateway.backends.load` times the endpoint's decode slowness, optionally sticky per session;
``least_inflight``; ``round_robin``. The chosen endpoint comes first, the other healthy ones follow by cost
(the retry order).

Health (``spec.health``): passive ejection after consecutive failed attempts, Envoy-style (growing ejection
time, a cap on the ejected share of the pool); active ``/health`` probes take an endpoint out after
``unhealthy_probes`` failures and back after ``healthy_probes`` passes. An endpoint is healthy when it is
neither ejected nor probed down.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from types import TracebackType

from gateway.backends.client import UpstreamClient
from gateway.backends.load import rendezvous, score, slowness, two_choices
from gateway.backends.scrape import ScrapedLoad
from gateway.metrics import GatewayMetrics
from router.policy import BackendSpec
from router.shedding import PoolLoad, ShedLevel

#: A scrape older than this many scrape intervals is ignored.
STALE_INTERVALS = 3.0


@dataclass(slots=True)
class Endpoint:
    """One vLLM endpoint of a pool and what the gateway knows about it."""

    url: str
    inflight: int = 0
    failures: int = 0  # consecutive failed attempts (passive health)
    ejected_until: float = 0.0
    ejections: int = 0  # ejections so far; multiplies the ejection time
    last_ejection: float | None = None
    probed_ok: bool | None = None  # active health state, None before the first probe
    probe_streak: int = 0  # consecutive probe results that disagree with probed_ok
    load: ScrapedLoad | None = None
    inflight_at_scrape: int = 0
    scraped_at: float = 0.0
    tpot: float | None = None  # seconds per output token, from vLLM's inter-token latency between scrapes
    tpot_at: float = 0.0  # when the last scrape window with samples ended
    itl_seen: tuple[float, float] | None = None  # the previous scrape's cumulative (sum, count)

    def healthy(self, now: float) -> bool:
        return now >= self.ejected_until and self.probed_ok is not False

    def ejected(self, now: float) -> bool:
        return now < self.ejected_until


@dataclass(slots=True)
class Lease:
    """One request's in-flight slot on an endpoint: the count load-aware choice reads and the
    ``thinkgate_inflight_requests`` gauge. Taken by :meth:`Pool.acquire`; :meth:`release` is idempotent, and
    leaving a ``with`` block releases it."""

    pool: Pool
    endpoint: Endpoint
    metrics: GatewayMetrics
    released: bool = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self.endpoint.inflight -= 1
        self.metrics.inc(self.metrics.inflight, (self.pool.name, self.endpoint.url), -1.0)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


@dataclass(slots=True)
class Pool:
    """One named pool of the policy, with its upstream client, version facts and shed level."""

    name: str
    spec: BackendSpec
    client: UpstreamClient
    endpoints: list[Endpoint] = field(default_factory=list)
    vllm_version: tuple[int, int, int] | None = None
    shed: ShedLevel = field(default_factory=ShedLevel)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))
    _turn: int = 0

    @classmethod
    def build(cls, name: str, spec: BackendSpec) -> Pool:
        client = UpstreamClient(spec.timeouts, spec.max_connections)
        return cls(name=name, spec=spec, client=client, endpoints=[Endpoint(u) for u in spec.endpoints])

    def acquire(self, endpoint: Endpoint, metrics: GatewayMetrics) -> Lease:
        """Take an in-flight slot on ``endpoint`` (the only place that adds one)."""
        endpoint.inflight += 1
        metrics.inc(metrics.inflight, (self.name, endpoint.url))
        return Lease(self, endpoint, metrics)

    @property
    def stale_after(self) -> float:
        return STALE_INTERVALS * self.spec.routing.scrape_interval

    def score(self, endpoint: Endpoint, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return score(endpoint, self.spec.routing.weights, now, self.stale_after)

    def candidates(self, exclude: set[str], session: str | None = None) -> list[Endpoint]:
        """Healthy endpoints not in ``exclude``, in the order to try them (first = the choice)."""
        now = time.monotonic()
        healthy = [e for e in self.endpoints if e.url not in exclude and e.healthy(now)]
        if len(healthy) <= 1:
            return healthy
        routing = self.spec.routing
        if routing.strategy == "round_robin":
            start = self._turn % len(healthy)
            self._turn += 1
            return healthy[start:] + healthy[:start]
        self._rng.shuffle(healthy)  # random tie-breaks
        if routing.strategy == "least_inflight":
            healthy.sort(key=lambda e: e.inflight)
            return healthy
        best = self.fastest_tpot(healthy, now)
        speed = routing.weights.speed
        costs = {
            e.url: (self.score(e, now) + 1.0) * slowness(self.tpot(e, now), best, speed) for e in healthy
        }
        ordered = sorted(healthy, key=lambda e: costs[e.url])
        first = two_choices(healthy, lambda e: costs[e.url], self._rng)
        if routing.sticky and session:
            home = rendezvous(healthy, session, lambda e: e.url)
            if costs[home.url] <= costs[ordered[0].url] + routing.sticky_max_excess:
                first = home
        return [first, *(e for e in ordered if e is not first)]

    def tpot(self, endpoint: Endpoint, now: float) -> float | None:
        """The endpoint's time per output token while it is remembered (``routing.speed_memory``)."""
        if endpoint.tpot is None or now - endpoint.tpot_at > self.spec.routing.speed_memory:
            return None
        return endpoint.tpot

    def fastest_tpot(self, endpoints: list[Endpoint], now: float) -> float | None:
        known = [t for t in (self.tpot(e, now) for e in endpoints) if t is not None and t > 0]
        return min(known, default=None)

    def any_healthy(self) -> bool:
        now = time.monotonic()
        return any(e.healthy(now) for e in self.endpoints)

    def record_success(self, endpoint: Endpoint) -> None:
        endpoint.failures = 0

    def record_failure(self, endpoint: Endpoint) -> bool:
        """A failed attempt (passive health). Returns True if it ejected the endpoint."""
        now = time.monotonic()
        endpoint.failures += 1
        health = self.spec.health
        if endpoint.failures < health.consecutive_failures or endpoint.ejected(now):
            return False
        if not self._may_eject(now):
            return False
        last = endpoint.last_ejection
        if last is not None and now - last > health.base_ejection_seconds + health.max_ejection_seconds:
            endpoint.ejections = 0  # a long healthy spell forgives earlier ejections
        endpoint.ejections += 1
        endpoint.last_ejection = now
        duration = min(health.base_ejection_seconds * endpoint.ejections, health.max_ejection_seconds)
        endpoint.ejected_until = now + duration
        endpoint.failures = 0
        return True

    def _may_eject(self, now: float) -> bool:
        percent = self.spec.health.max_ejection_percent
        if percent == 0:
            return False
        allowed = max(1, len(self.endpoints) * percent // 100)
        return sum(1 for e in self.endpoints if e.ejected(now)) < allowed

    def record_probe(self, endpoint: Endpoint, ok: bool) -> None:
        """An active probe result, applied after ``unhealthy_probes`` / ``healthy_probes`` in a row.

        A passing probe does not end a passive ejection early: an endpoint whose ``/health`` is fine can
        still fail every request (Envoy's outlier detection behaves the same)."""
        if endpoint.probed_ok is None:
            endpoint.probed_ok = ok
            endpoint.probe_streak = 0
            return
        if ok == endpoint.probed_ok:
            endpoint.probe_streak = 0
            return
        endpoint.probe_streak += 1
        needed = self.spec.health.healthy_probes if ok else self.spec.health.unhealthy_probes
        if endpoint.probe_streak >= needed:
            endpoint.probed_ok = ok
            endpoint.probe_streak = 0

    def record_scrape(self, endpoint: Endpoint, load: ScrapedLoad | None) -> None:
        """A ``/metrics`` scrape result (``None`` = the scrape failed; the old one goes stale)."""
        if load is None:
            return
        now = time.monotonic()
        endpoint.load = load
        endpoint.inflight_at_scrape = endpoint.inflight
        endpoint.scraped_at = now
        if load.itl_sum is None or load.itl_count is None:
            return
        previous, endpoint.itl_seen = endpoint.itl_seen, (load.itl_sum, load.itl_count)
        if previous is None:
            return
        intervals, seconds = load.itl_count - previous[1], load.itl_sum - previous[0]
        if intervals <= 0 or seconds < 0:  # no decoding since the last scrape, or vLLM restarted
            return
        mean = seconds / intervals
        remembered = self.tpot(endpoint, now)
        endpoint.tpot = mean if remembered is None else 0.5 * (remembered + mean)
        endpoint.tpot_at = now

    def current_load(self, now: float | None = None) -> PoolLoad | None:
        """Mean queue and KV usage over healthy endpoints with a fresh scrape; ``None`` if there is none."""
        now = time.monotonic() if now is None else now
        fresh = [
            e.load
            for e in self.endpoints
            if e.healthy(now) and e.load is not None and now - e.scraped_at <= self.stale_after
        ]
        if not fresh:
            return None
        queue = sum(load.waiting or 0.0 for load in fresh) / len(fresh)
        kv = sum(load.kv_usage or 0.0 for load in fresh) / len(fresh)
        return PoolLoad(queue_per_endpoint=queue, kv_usage=kv)
