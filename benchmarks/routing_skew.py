"""Routing under skewed load: one slow endpoint among several, load-aware choice vs round robin, same run.

Setup (one process, everything on 127.0.0.1): ``--sims`` simulated vLLM endpoints in one pool, one of them
decoding ``--slow-factor`` times slower than the others; two gateways in front of the same simulators, one
with ``routing.strategy: load`` (power of two choices on the load score, scrape every 0.5 s) and one with
``round_robin``. An open-loop load generator sends non-stream instruct requests at ``--rate`` requests/s
(Poisson arrivals), alternating windows between the two gateways (``--rounds`` x ``--window`` s each), so both
see the same machine conditions. Reported per strategy: latency percentiles, errors, and the share of requests
the slow endpoint received.

Run: ``.venv/bin/python benchmarks/routing_skew.py [--slow-max-seqs 2] [--json out.json]`` (about 75 s with
the defaults). ``--slow-max-seqs`` gives the slow endpoint few batch slots, so requests queue there (vLLM's
``num_requests_waiting``) instead of only decoding slowly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import make_policy, run_gateway

USER = [{"role": "user", "content": "Tell me about the weather."}]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def window(url: str, rate: float, seconds: float, rng: random.Random) -> tuple[list[float], int]:
    """Open loop: Poisson arrivals at ``rate`` for ``seconds``; returns latencies (s) and the error count."""
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=500)) as client:

        async def one(i: int) -> None:
            nonlocal errors
            body = {"model": "auto", "messages": USER, "reasoning_effort": "none", "seed": i}
            start = time.perf_counter()
            try:
                r = await client.post(url + "/v1/chat/completions", json=body)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

        tasks = []
        t0 = time.perf_counter()
        due = t0
        i = 0
        while due - t0 < seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            due += rng.expovariate(rate)
        await asyncio.gather(*tasks)
    return latencies, errors


def received(url: str) -> int:
    count: int = httpx.get(url + "/sim/stats", timeout=5).json()["received"]
    return count


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=4)
    ap.add_argument("--tokens-per-s", type=float, default=300.0, help="decode speed of the fast endpoints")
    ap.add_argument("--slow-factor", type=float, default=10.0)
    ap.add_argument("--slow-max-seqs", type=int, default=256, help="batch slots of the slow endpoint")
    ap.add_argument("--rate", type=float, default=25.0, help="requests per second (open loop)")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    fast = SimConfig(model="sim", mode="hybrid", tokens_per_s=args.tokens_per_s)
    slow = SimConfig(
        model="sim",
        mode="hybrid",
        tokens_per_s=args.tokens_per_s / args.slow_factor,
        max_num_seqs=args.slow_max_seqs,
        seed=9,
    )
    results: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        sims = [stack.enter_context(run_sim(slow if k == 0 else fast.model_copy(update={"seed": k})))
                for k in range(args.sims)]  # fmt: skip
        urls = [s.url for s in sims]
        gateways = {}
        for strategy in ("load", "round_robin"):
            policy = make_policy(
                {
                    "h": {
                        "family": "qwen3",
                        "mode": "hybrid",
                        "model": "sim",
                        "endpoints": urls,
                        "routing": {"strategy": strategy, "scrape_interval": 0.5},
                    }
                },
                {"auto": {"thinking": ["h"], "instruct": ["h"]}},
            )
            gateways[strategy] = stack.enter_context(run_gateway(policy, health_interval=2.0))
        rng = random.Random(7)
        lat: dict[str, list[float]] = {s: [] for s in gateways}
        errs = dict.fromkeys(gateways, 0)
        slow_hits = dict.fromkeys(gateways, 0)
        total_hits = dict.fromkeys(gateways, 0)
        for _ in range(args.rounds):
            for strategy, gw in gateways.items():
                before = [received(u) for u in urls]
                got, bad = asyncio.run(window(gw, args.rate, args.window, rng))
                after = [received(u) for u in urls]
                lat[strategy] += got
                errs[strategy] += bad
                slow_hits[strategy] += after[0] - before[0]
                total_hits[strategy] += sum(after) - sum(before)
        for strategy in gateways:
            ms = [x * 1000 for x in lat[strategy]]
            results[strategy] = {
                "requests": len(ms) + errs[strategy],
                "errors": errs[strategy],
                "p50_ms": percentile(ms, 50),
                "p90_ms": percentile(ms, 90),
                "p99_ms": percentile(ms, 99),
                "mean_ms": sum(ms) / len(ms) if ms else float("nan"),
                "slow_share": slow_hits[strategy] / max(1, total_hits[strategy]),
            }
    fair = 1 / args.sims
    print(f"{args.sims} endpoints, one {args.slow_factor:g}x slower ({args.slow_max_seqs} slots); "
          f"{args.rate:g} req/s open loop, {args.rounds} x {args.window:g} s per strategy; "
          f"fair share of the slow endpoint {fair:.2f}")  # fmt: skip
    print(f"{'strategy':<12}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}"
          f"{'slow share':>11}")  # fmt: skip
    for strategy, r in results.items():
        print(f"{strategy:<12}{r['requests']:>9}{r['errors']:>7}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}"
              f"{r['p99_ms']:>9.1f}{r['mean_ms']:>9.1f}{r['slow_share']:>11.3f}")  # fmt: skip
    ratio = results["round_robin"]["p99_ms"] / results["load"]["p99_ms"]
    print(f"p99 round_robin / load = {ratio:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results})
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
