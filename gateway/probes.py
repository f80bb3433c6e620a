"""Background checks of backend endpoints: ``/health`` (active health), ``/version`` (the vLLM version) and
``/metrics`` (load for endpoint choice and effort shedding).

``probe_forever`` runs the health loop and, per pool, a scrape loop every ``routing.scrape_interval`` seconds;
each scrape also moves the pool's shed level (:func:`router.shedding.next_level`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gateway.backends.client import UpstreamFailure
from gateway.backends.pool import Pool
from gateway.backends.scrape import parse_load
from gateway.metrics import GatewayMetrics
from router.shedding import next_level

log = logging.getLogger("thinkgate.probes")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"0.32.0"`` or ``"0.10.1+cpu"`` → ``(0, 32, 0)``; ``None`` if unreadable."""
    core = text.split("+", 1)[0].split("-", 1)[0]
    parts = core.split(".")
    try:
        nums = [int("".join(ch for ch in p if ch.isdigit()) or "0") for p in parts[:3]]
    except ValueError:
        return None
    while len(nums) < 3:
        nums.append(0)
    return nums[0], nums[1], nums[2]


def publish_health(pool: Pool, metrics: GatewayMetrics) -> None:
    """Set ``thinkgate_endpoint_up`` from the combined (active and passive) health of each endpoint."""
    now = time.monotonic()
    for endpoint in pool.endpoints:
        metrics.endpoint_up.labels(pool.name, endpoint.url).set(1 if endpoint.healthy(now) else 0)


async def probe_pool(pool: Pool, metrics: GatewayMetrics) -> None:
    for endpoint in pool.endpoints:
        try:
            status = await pool.client.get_status(endpoint.url + "/health")
            ok = status == 200
        except UpstreamFailure:
            ok = False
        was = endpoint.probed_ok
        pool.record_probe(endpoint, ok)
        if was is not None and was != endpoint.probed_ok:
            state = "up" if endpoint.probed_ok else "down"
            log.warning("endpoint %s of pool %s is now %s", endpoint.url, pool.name, state)
        if ok and pool.vllm_version is None:
            try:
                info = await pool.client.get_json(endpoint.url + "/version")
            except UpstreamFailure:
                continue
            if isinstance(info, dict) and isinstance(info.get("version"), str):
                pool.vllm_version = parse_version(info["version"])
    publish_health(pool, metrics)


async def probe_all(pools: list[Pool], metrics: GatewayMetrics) -> None:
    await asyncio.gather(*(probe_pool(p, metrics) for p in pools))


async def scrape_pool(pool: Pool, metrics: GatewayMetrics) -> None:
    """Scrape every endpoint's ``/metrics`` once, then update the pool's shed level."""

    async def one(url: str) -> str | None:
        try:
            return await pool.client.get_text(url + "/metrics")
        except UpstreamFailure:
            return None

    texts = await asyncio.gather(*(one(e.url) for e in pool.endpoints))
    now = time.monotonic()
    for endpoint, text in zip(pool.endpoints, texts, strict=True):
        pool.record_scrape(endpoint, None if text is None else parse_load(text))
        metrics.endpoint_score.labels(pool.name, endpoint.url).set(pool.score(endpoint, now))
        metrics.endpoint_tpot.labels(pool.name, endpoint.url).set(pool.tpot(endpoint, now) or 0.0)
    spec = pool.spec.shedding
    if spec is not None:
        before = pool.shed.steps
        pool.shed = next_level(pool.shed, pool.current_load(now), now, spec)
        metrics.shedding_level.labels(pool.name).set(pool.shed.steps)
        if pool.shed.steps != before:
            log.warning("pool %s sheds %d effort step(s) now (was %d)", pool.name, pool.shed.steps, before)


async def scrape_forever(pool: Pool, metrics: GatewayMetrics) -> None:
    while True:
        try:
            await scrape_pool(pool, metrics)
        except Exception:  # a scrape must never kill the loop
            log.exception("scraping pool %s failed", pool.name)
        await asyncio.sleep(pool.spec.routing.scrape_interval)


def needs_scraping(pool: Pool) -> bool:
    return pool.spec.routing.strategy == "load" or pool.spec.shedding is not None


async def probe_forever(pools: list[Pool], metrics: GatewayMetrics, interval: float) -> None:
    """Health probes every ``interval`` seconds, plus one scrape loop per pool that needs load data."""
    scrapers = [asyncio.create_task(scrape_forever(p, metrics)) for p in pools if needs_scraping(p)]
    try:
        while True:
            await asyncio.sleep(interval)
            await probe_all(pools, metrics)
    finally:
        for task in scrapers:
            task.cancel()
        for task in scrapers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
