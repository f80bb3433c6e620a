"""Latency at one connection, revisions interleaved in short blocks: the stream's first and last byte and the
non-stream answer, through ``thinkgate serve`` in front of ``mock_backend.py`` (issue 18, answer side).

``hot_path.py`` measures each target's ``ttfb@1`` and ``p50@1`` in one window per round, minutes apart from
the other revision's; on a shared box whose load drifts by a factor of two in that time, a difference of
0.05-0.1 ms drowns. Here every revision runs as its own gateway for the whole run (one worker, the same
policy, the same mock), and the measurement alternates between them in blocks of ``--block`` sequential
requests on one keep-alive connection per gateway, in alternating order, so both see the same load within
seconds; the mock itself (``direct``) is measured the same way, block by block, for the added latency.

Per block: the median time to the first body byte and to the end of a stream (``hot_path.py``'s first-byte
request: the 1 KB trajectory with ``stream: true``; the mock answers 20 chunks and a usage chunk in one
read), the median non-stream latency (the same body, ``stream: false``), and the gateway's CPU per request
(user + system, from /proc's ``schedstat``). The table shows the median of the blocks and, for two
revisions, the median and range of the per-block ratios (last revision / first).

Run: ``.venv/bin/python benchmarks/stream_latency.py --rev main --rev HEAD [--blocks 40] [--block 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import orjson
from hot_path import REPO, source_dir, start_gateway, start_mock_with_policy, trajectory
from loadgen import JSON_HEADERS, Processes, aiohttp_session

MEASURES = ("first", "last", "plain", "cpu")
DIRECT = "direct"
LABELS = {
    "first": "stream: first body byte, ms (p50)",
    "last": "stream: last byte, ms (p50)",
    "plain": "non-stream answer, ms (p50)",
    "cpu": "gateway CPU per request, ms",
}


def cpu_ms(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (ms, from ``schedstat``: nanoseconds, not clock ticks)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks) / 1e6


async def block(
    session: aiohttp.ClientSession, url: str, stream: bytes, plain: bytes, n: int
) -> dict[str, float]:
    """``n`` streams then ``n`` non-stream requests, sequential on the session's one connection."""
    firsts, lasts, plains = [], [], []
    for _ in range(n):
        start = time.perf_counter()
        async with session.post(url, data=stream, headers=JSON_HEADERS) as resp:
            await resp.content.readany()
            firsts.append(time.perf_counter() - start)
            await resp.read()
            lasts.append(time.perf_counter() - start)
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}")
    for _ in range(n):
        start = time.perf_counter()
        async with session.post(url, data=plain, headers=JSON_HEADERS) as resp:
            await resp.read()
            plains.append(time.perf_counter() - start)
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}")
    ms = 1000.0
    return {
        "first": statistics.median(firsts) * ms,
        "last": statistics.median(lasts) * ms,
        "plain": statistics.median(plains) * ms,
    }


async def run(
    opts: argparse.Namespace, urls: dict[str, str], pids: dict[str, int]
) -> dict[str, list[dict[str, float]]]:
    plain = trajectory(1)
    body = orjson.loads(plain)
    body["stream"] = True
    stream = orjson.dumps(body)
    out: dict[str, list[dict[str, float]]] = {rev: [] for rev in urls}
    sessions = {rev: aiohttp_session(1) for rev in urls}
    try:
        for rev, url in urls.items():  # warm-up: connections, the app's first requests
            await block(sessions[rev], url, stream, plain, 50)
        for b in range(opts.blocks):
            order = list(urls) if b % 2 == 0 else list(urls)[::-1]
            for rev in order:
                pid = pids.get(rev)
                cpu = cpu_ms(pid) if pid else 0.0
                row = await block(sessions[rev], urls[rev], stream, plain, opts.block)
                row["cpu"] = (cpu_ms(pid) - cpu) / (2 * opts.block) if pid else 0.0
                out[rev].append(row)
    finally:
        for s in sessions.values():
            await s.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--blocks", type=int, default=40, help="blocks per revision")
    p.add_argument("--block", type=int, default=100, help="requests of each kind per block")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thinkgate-stream-latency-") as tmp:
        work = Path(tmp)
        procs = Processes(work, REPO)
        try:
            mock, policy = start_mock_with_policy(procs, work)
            urls, pids = {DIRECT: mock + "/v1/chat/completions"}, {}
            for rev in revs:
                name = f"gw:{rev}"
                url = start_gateway(procs, name, source_dir(rev, work), "uvicorn", policy)
                urls[rev] = url + "/v1/chat/completions"
                pids[rev] = procs.children[name].proc.pid
            results = asyncio.run(run(opts, urls, pids))
        finally:
            procs.close()
    print(f"one connection, {opts.blocks} blocks of {opts.block} requests per kind, revisions interleaved")
    head = "".join(rev[:12].rjust(14) for rev in [DIRECT, *revs])
    ratio_head = "   ratio median [min, max]" if len(revs) > 1 else ""
    print(f"{'measure (median of blocks)':<38}{head}{ratio_head}")
    for m in MEASURES:
        meds = [statistics.median(r[m] for r in results[rev]) for rev in [DIRECT, *revs]]
        line = f"{LABELS[m]:<38}" + "".join(f"{v:14.3f}" for v in meds)
        if len(revs) > 1:
            ratios = [b[m] / a[m] for a, b in zip(results[revs[0]], results[revs[-1]], strict=True)]
            line += f"   {statistics.median(ratios):.3f} [{min(ratios):.2f}, {max(ratios):.2f}]"
        print(line)
        if m != "cpu":  # what the gateway adds: its block minus the direct block measured next to it
            direct = results[DIRECT]
            added = [[r[m] - d[m] for r, d in zip(results[rev], direct, strict=True)] for rev in revs]
            line = f"{'  added vs direct':<52}" + "".join(f"{statistics.median(a):14.3f}" for a in added)
            if len(revs) > 1:
                ratios = [b / a for a, b in zip(added[0], added[-1], strict=True) if a > 0]
                line += f"   {statistics.median(ratios):.3f} [{min(ratios):.2f}, {max(ratios):.2f}]"
            print(line)
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        opts.json.write_text(json.dumps({"argv": sys.argv, "blocks": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
