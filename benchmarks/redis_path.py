"""The cost of the shared-state path per request: admission + accounting, in-memory store vs Redis.

One process: a ``redis-server`` on a free port (no persistence, started and stopped here) and the gateway's
:class:`gateway.limits.Limiter` on each store, with a rule that uses every counter (requests/minute,
tokens/minute, thinking quota), so one request = one admission script + two accounting scripts on Redis.

* sequential: one request at a time, latency of admit + account (awaited; the gateway runs accounting in
  the background, so the client only waits for admission — reported separately);
* concurrent: ``--concurrency`` tasks, requests per second of the whole path.

Run: ``.venv/bin/python benchmarks/redis_path.py [--requests 5000] [--json out.json]`` (~10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gateway.limits import Limiter
from gateway.metrics import GatewayMetrics
from gateway.store.base import LimitStore
from gateway.store.breaker import CircuitBreaker
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore, connect
from router.policy import Policy, parse_policy

BIG = 10**12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def policy() -> Policy:
    backend = {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": ["http://127.0.0.1:1"]}
    rule = {"requests_per_minute": BIG, "tokens_per_minute": BIG, "thinking_tokens": BIG}
    return parse_policy({"version": 1, "backends": {"h": backend}, "limits": {"default": rule}})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def sequential(store: LimitStore, n: int) -> dict[str, float]:
    limiter = Limiter(store, CircuitBreaker(3, 1.0), GatewayMetrics())
    p = policy()
    admit_us: list[float] = []
    total_us: list[float] = []
    for i in range(n):
        t0 = time.perf_counter()
        grant = await limiter.admit(f"k{i % 50}", "t", p, 100)
        t1 = time.perf_counter()
        await limiter._account(grant.ident, grant.rule, 20, 300)  # what Grant.account runs in the background
        t2 = time.perf_counter()
        admit_us.append((t1 - t0) * 1e6)
        total_us.append((t2 - t0) * 1e6)
    return {
        "admit_p50_us": pct(admit_us, 0.5),
        "admit_p99_us": pct(admit_us, 0.99),
        "path_p50_us": pct(total_us, 0.5),
        "path_p99_us": pct(total_us, 0.99),
        "path_mean_us": sum(total_us) / n,
    }


async def concurrent(store: LimitStore, n: int, concurrency: int) -> float:
    limiter = Limiter(store, CircuitBreaker(3, 1.0), GatewayMetrics())
    p = policy()
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            grant = await limiter.admit(f"k{left % 50}", "t", p, 100)
            await limiter._account(grant.ident, grant.rule, 20, 300)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t0)


async def measure(url: str, n: int, concurrency: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in ("memory", "redis"):
        store: LimitStore = MemoryStore() if name == "memory" else RedisStore(connect(url, 1.0), "bench", 1.0)
        await sequential(store, min(n, 500))  # warm-up (script load, connections)
        row = await sequential(store, n)
        row["rps_concurrent"] = await concurrent(store, n, concurrency)
        out[name] = row
        await store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not found: install it (make redis)", file=sys.stderr)
        return 1
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        results = asyncio.run(measure(f"redis://127.0.0.1:{port}/0", args.requests, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    cols = ["admit_p50_us", "admit_p99_us", "path_p50_us", "path_p99_us", "path_mean_us", "rps_concurrent"]
    print(f"{'store':8}" + "".join(f"{c:>15}" for c in cols))
    for name, row in results.items():
        print(f"{name:8}" + "".join(f"{row[c]:>15.1f}" for c in cols))
    extra = results["redis"]["path_mean_us"] - results["memory"]["path_mean_us"]
    print(f"redis path adds {extra:.0f} us per request (mean, admission + accounting, sequential)")
    if args.json:
        payload: dict[str, Any] = {"requests": args.requests, "concurrency": args.concurrency, **results}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
