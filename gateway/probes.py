"""Active probes of backend endpoints: ``/health`` for health, ``/version`` for the vLLM version."""

from __future__ import annotations

import asyncio
import logging

from gateway.backends.client import UpstreamFailure
from gateway.backends.pool import Pool
from gateway.metrics import GatewayMetrics

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


async def probe_pool(pool: Pool, metrics: GatewayMetrics) -> None:
    for endpoint in pool.endpoints:
        try:
            status = await pool.client.get_status(endpoint.url + "/health")
            ok = status == 200
        except UpstreamFailure:
            ok = False
        was = endpoint.probed_ok
        pool.record_probe(endpoint, ok)
        metrics.endpoint_up.labels(pool.name, endpoint.url).set(1 if ok else 0)
        if was is not None and was != ok:
            log.warning("endpoint %s of pool %s is now %s", endpoint.url, pool.name, "up" if ok else "down")
        if ok and pool.vllm_version is None:
            try:
                info = await pool.client.get_json(endpoint.url + "/version")
            except UpstreamFailure:
                continue
            if isinstance(info, dict) and isinstance(info.get("version"), str):
                pool.vllm_version = parse_version(info["version"])


async def probe_all(pools: list[Pool], metrics: GatewayMetrics) -> None:
    await asyncio.gather(*(probe_pool(p, metrics) for p in pools))


async def probe_forever(pools: list[Pool], metrics: GatewayMetrics, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await probe_all(pools, metrics)
