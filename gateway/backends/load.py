"""The load score of an endpoint and the choice among endpoints (power of two choices, rendezvous hashing).

Score (lower is better), documented for operators in the README ("Routing")::

    requests = max(inflight, running + waiting + (inflight - inflight_at_scrape))
    score    = requests + w_queue * waiting + w_kv * kv_usage + w_failure * consecutive_failures

``requests`` is vLLM's own count (all clients) brought up to date with what this gateway sent or finished
since the scrape, and never below the gateway's own in-flight count. ``waiting`` is counted twice on purpose:
a queued request waits for a whole slot. KV usage near 1 means preemptions. Recent failures push an endpoint
back before it is ejected. Without a fresh scrape (older than three scrape intervals) only in-flight and
failures count.

Decode speed multiplies it: endpoints are compared on ``(score + 1) * slowness``, see :func:`slowness` (the
``+ 1`` is the request being placed, so an idle slow endpoint still costs its slowness).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from gateway.backends.scrape import ScrapedLoad
from router.policy import ScoreWeights

E = TypeVar("E")


class Loaded(Protocol):
    """What scoring needs to know about an endpoint."""

    url: str
    inflight: int
    failures: int
    load: ScrapedLoad | None
    inflight_at_scrape: int
    scraped_at: float


def score(endpoint: Loaded, weights: ScoreWeights, now: float, stale_after: float) -> float:
    """The endpoint's load score (see the module docstring)."""
    value = float(endpoint.inflight) + weights.failure * endpoint.failures
    load = endpoint.load
    if load is None or now - endpoint.scraped_at > stale_after:
        return value
    waiting = load.waiting or 0.0
    reported = (load.running or 0.0) + waiting
    requests = max(float(endpoint.inflight), reported + endpoint.inflight - endpoint.inflight_at_scrape)
    kv = load.kv_usage or 0.0
    return requests + weights.queue * waiting + weights.kv * kv + weights.failure * endpoint.failures


def slowness(tpot: float | None, best: float | None, exponent: float) -> float:
    """The decode-speed multiplier of an endpoint's cost: ``(tpot / best) ** exponent``, at least 1; 1 when
    either time per output token is unknown (or the exponent is 0)."""
    if tpot is None or best is None or best <= 0 or exponent == 0:
        return 1.0
    return float(max(1.0, tpot / best) ** exponent)


def two_choices(items: Sequence[E], key: Callable[[E], float], rng: random.Random) -> E:
    """Power of two choices: two distinct random items, the lower key wins (the first on a tie)."""
    if len(items) == 1:
        return items[0]
    a, b = rng.sample(list(items), 2)
    return b if key(b) < key(a) else a


def rendezvous(items: Sequence[E], session: str, url: Callable[[E], str]) -> E:
    """Highest-random-weight hashing: the same session maps to the same item while it is in ``items``,
    and removing one item only moves the sessions that were on it."""

    def weight(item: E) -> int:
        digest = hashlib.blake2b(f"{session}\x00{url(item)}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return max(items, key=weight)
