"""What a request's metric updates cost: prometheus_client at once vs ``GatewayMetrics`` tallies (issue 18).

Per update (``timeit``, best of 5, warm): a labelled counter increment through a resolved child and a
histogram observation, straight to prometheus_client (a locked value; with several workers an mmap write
too) and through ``GatewayMetrics.inc`` / ``observe`` (one worker only: with several they write through);
a short request's updates in three event-loop turns, both ways; and what handing 50 requests' tallies over
costs at a scrape (``flush``). Run in a child process without and one with
``PROMETHEUS_MULTIPROC_DIR`` (several workers: prometheus_client picks its value class at import).

Run (repo root): ``.venv/bin/python benchmarks/metric_updates.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
N = 100_000

#: the labels of a short chat request's updates (ledger, plan metrics, decision, in-flight lease)
REQUEST = ("chat", "auto", "low", "classifier", "h", "ok")
TURNS = "a short request's updates in three loop turns"


def per_update_us(stmt: str, env: dict[str, object]) -> float:
    return min(timeit.repeat(stmt, globals=env, number=N, repeat=5)) / N * 1e6


def measure() -> list[tuple[str, float]]:
    sys.path.insert(0, str(REPO))
    from gateway.metrics import GatewayMetrics

    m = GatewayMetrics()
    env: dict[str, object] = {"m": m, "req": REQUEST, "hist": ("chat", "low", "h")}
    env["c"] = m.requests.labels(*REQUEST)
    env["h"] = m.request_seconds.labels("chat", "low", "h")
    rows = [
        ("counter: child.inc() (prometheus_client)", per_update_us("c.inc()", env)),
        ("histogram: child.observe() (prometheus_client)", per_update_us("h.observe(0.0003)", env)),
        (
            "unlabelled histogram: observe() (prometheus_client)",
            per_update_us("m.decision_seconds.observe(4e-5)", env),
        ),
    ]
    if not m.multiprocess:
        rows += [
            ("counter: m.inc(metric, labels) (tally)", per_update_us("m.inc(m.requests, req)", env)),
            (
                "histogram: m.observe(metric, labels, v) (tally)",
                per_update_us("m.observe(m.request_seconds, hist, 3e-4)", env),
            ),
            (
                "unlabelled histogram: m.observe (tally)",
                per_update_us("m.observe(m.decision_seconds, (), 4e-5)", env),
            ),
        ]
    m.flush()
    rows += per_request(m)
    return rows


def per_request(m: object) -> list[tuple[str, float]]:
    """A short chat request's updates as the pipeline makes them, in three turns of an event loop (the plan's
    decision observations; the lease; the bookkeeping after the last byte), straight to prometheus_client
    and through the tallies; the same loop with no update subtracted. Tallies are handed over when a scrape
    collects the registry (one worker: not counted here; see the flush row); with several workers
    ``GatewayMetrics`` writes through."""
    import asyncio

    from gateway.metrics import GatewayMetrics

    assert isinstance(m, GatewayMetrics)
    n = 20_000

    inflight = m.inflight.labels("h", "http://e")
    decisions = m.decisions.labels("low", "classifier", "chat")
    tokens = [m.tokens.labels("low", kind) for kind in ("prompt", "completion", "reasoning")]
    requests = m.requests.labels(*REQUEST)
    seconds = m.request_seconds.labels("chat", "low", "h")

    async def direct() -> None:
        m.decision_seconds.observe(4e-5)
        m.classifier_p_think.observe(0.3)
        await asyncio.sleep(0)
        inflight.inc()
        await asyncio.sleep(0)
        inflight.dec()
        decisions.inc()
        tokens[0].inc(20)
        tokens[1].inc(30)
        tokens[2].inc(10)
        requests.inc()
        seconds.observe(3e-4)
        await asyncio.sleep(0)

    async def tallied() -> None:
        m.observe(m.decision_seconds, (), 4e-5)
        m.observe(m.classifier_p_think, (), 0.3)
        await asyncio.sleep(0)
        m.inc(m.inflight, ("h", "http://e"))
        await asyncio.sleep(0)
        m.inc(m.inflight, ("h", "http://e"), -1.0)
        m.inc(m.decisions, ("low", "classifier", "chat"))
        m.inc(m.tokens, ("low", "prompt"), 20)
        m.inc(m.tokens, ("low", "completion"), 30)
        m.inc(m.tokens, ("low", "reasoning"), 10)
        m.inc(m.requests, REQUEST)
        m.observe(m.request_seconds, ("chat", "low", "h"), 3e-4)
        await asyncio.sleep(0)

    async def bare() -> None:
        for _ in range(3):
            await asyncio.sleep(0)

    async def timed(fn: Any) -> float:
        import time

        best = float("inf")
        for _ in range(5):
            began = time.process_time()
            for _ in range(n):
                await fn()
            best = min(best, time.process_time() - began)
        return best / n * 1e6

    async def run() -> list[tuple[str, float]]:
        empty = await timed(bare)
        # the children resolved beforehand: the old path also looked each up in a dict (GatewayMetrics.child,
        # ~0.25 us), so this row is a lower bound of what it cost
        return [
            (
                f"{TURNS}: prometheus_client at once (children resolved beforehand)",
                await timed(direct) - empty,
            ),
            (
                f"{TURNS}: GatewayMetrics.inc / observe (tallies; with several workers at once)",
                await timed(tallied) - empty,
            ),
        ]

    rows = asyncio.run(run())
    if m.multiprocess:
        return rows  # with several workers nothing is tallied: nothing to hand over
    m.flush()
    flushes = []
    for _ in range(200):
        for _ in range(50):
            m.inc(m.decisions, ("low", "classifier", "chat"))
            m.inc(m.tokens, ("low", "prompt"), 20)
            m.inc(m.tokens, ("low", "completion"), 30)
            m.inc(m.tokens, ("low", "reasoning"), 10)
            m.inc(m.requests, REQUEST)
            m.observe(m.request_seconds, ("chat", "low", "h"), 3e-4)
            m.observe(m.decision_seconds, (), 4e-5)
            m.observe(m.classifier_p_think, (), 0.3)
        flushes.append(timeit.timeit(m.flush, number=1) * 1e6)
    rows.append(("hand-over (flush) of 50 requests' tallies, per scrape", sorted(flushes)[len(flushes) // 2]))
    return rows


def main() -> int:
    if os.environ.get("METRIC_UPDATES_CHILD"):
        for name, us in measure():
            print(f"{us:8.3f}  {name}")
        return 0
    for title, extra in (("one worker", {}), ("several workers (PROMETHEUS_MULTIPROC_DIR)", None)):
        with tempfile.TemporaryDirectory(prefix="thinkgate-mp-") as tmp:
            env = {**os.environ, "METRIC_UPDATES_CHILD": "1"}
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            if extra is None:
                env["PROMETHEUS_MULTIPROC_DIR"] = tmp
            out = subprocess.run(
                [sys.executable, __file__], env=env, capture_output=True, text=True, check=True
            ).stdout
        print(f"us per update, {title}, warm, best of 5 x {N}")
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
