"""What a request costs the gateway under load and alone, measured in the same minutes (issue 18).

Session 10 found thinkgate's CPU per 1 KB request end to end at 64 connections (``hot_path.py``) ~0.09-0.17 ms
above its CPU in process (``request_cpu.py``: the app called directly, one request at a time), while the
framework floor (``floor-framework``: uvicorn, thinkgate's client and app shell, no pipeline) showed no such
gap. The two numbers came from different minutes of a shared box, and the in-process one from sequential
requests only. This script measures, round by round in alternating order, for thinkgate at ``--rev`` (under
``thinkgate serve``) and for ``floor-framework``:

* ``e2e``: CPU ms per 1 KB chat request of the server process at ``--connections`` (closed loop, aiohttp,
  ``mock_backend.py`` behind; ``hot_path.py``'s ``sat`` phase);
* ``alone@1`` and ``alone@C``: CPU ms per request of the same app in process, no HTTP server (a child process,
  ``time.process_time``), with 1 request at a time and with ``C`` = ``--connections`` requests in flight at
  once (each a task calling the app as ``request_cpu.py`` does, against the same mock);

and prints per target ``e2e - alone@C`` (the server layer and the sockets, plus whatever 64 interleaved
connections cost under a server) and, per round, thinkgate's minus the floor's: the pipeline's own
under-load excess. For each server process it also prints what each of its threads did in its last
window (CPU, voluntary and involuntary context switches, from /proc): which threads run under load, how
often the event loop sleeps and how often it is preempted.

``--pin`` adds a second end-to-end window per target and round (``e2e pinned``): the server's threads on
CPU 0, the mock's and the load generator's on CPU 1 (issue 18's setup: the gateway on a core of its own),
then every process back on every CPU. On a 2-core box that is shared, the unpinned server shares its cores
with the load generator and the mock and is preempted by them; the difference is what that costs it.

Run: ``.venv/bin/python benchmarks/under_load.py --rev 28b27b1 [--rev WORKTREE] [--rounds 4]
[--duration 3] [--requests 3000] [--pin] [--json F]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hot_path import (
    MOCK_MODEL,
    REPO,
    cpu_tree,
    source_dir,
    start_floor,
    start_gateway,
    start_mock_with_policy,
    trajectory,
)
from loadgen import Processes, run_async, saturate
from request_cpu import call_once, chat_scope

FLOOR = "floor-framework"


def thread_counters(pid: int) -> dict[str, tuple[float, int, int]]:
    """Per thread of ``pid`` (``name/tid``): CPU seconds, voluntary and involuntary context switches."""
    out: dict[str, tuple[float, int, int]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:  # the thread ended
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        switches = dict(line.split(":\t") for line in status.splitlines() if "ctxt_switches" in line)
        out[f"{name}/{task.name}"] = (
            (int(fields[11]) + int(fields[12])) / tick,
            int(switches["voluntary_ctxt_switches"]),
            int(switches["nonvoluntary_ctxt_switches"]),
        )
    return out


def thread_report(
    before: dict[str, tuple[float, int, int]], after: dict[str, tuple[float, int, int]]
) -> list[str]:
    """One line per thread: what it did between the two readings."""
    lines = []
    for key, (cpu, vol, invol) in after.items():
        b = before.get(key, (0.0, 0, 0))
        switches = f"voluntary {vol - b[1]:6d}, involuntary {invol - b[2]:6d}"
        lines.append(f"{key:<32} CPU {cpu - b[0]:6.2f} s  switches {switches}")
    return lines


def child(args: list[str]) -> None:
    """In a child: ``POLICY_OR_UPSTREAM WHICH REQUESTS C...`` (``WHICH``: ``gateway`` or ``floor``); prints
    ``RESULT {c: cpu ms per request}`` on stderr."""
    where, which, requests, levels = args[0], args[1], int(args[2]), [int(c) for c in args[3:]]
    body = trajectory(1)
    scope = chat_scope(body)

    async def at(app: Any, c: int) -> float:
        async def worker(k: int) -> None:
            for _ in range(k):
                await call_once(app, body, scope)

        each = max(1, requests // c)
        await asyncio.gather(*(worker(max(1, 200 // c)) for _ in range(c)))  # warm: pool, caches
        began = time.process_time()
        await asyncio.gather(*(worker(each) for _ in range(c)))
        return (time.process_time() - began) / (each * c) * 1000

    async def main() -> dict[int, float]:
        if which == "gateway":
            from gateway.app import create_app
            from gateway.settings import Settings

            app = create_app(Settings(config=where))
        else:
            from floor_proxy import framework_app

            app = framework_app(where, MOCK_MODEL)
        async with app.router.lifespan_context(app):
            return {c: await at(app, c) for c in levels}

    import uvloop

    result = uvloop.run(main())
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), file=sys.stderr)


def alone(src: Path, where: str, which: str, requests: int, levels: Sequence[int]) -> dict[int, float]:
    """One in-process child (the code in ``src``, this venv); its stdout (the access log) is dropped."""
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}"}
    code = "import sys, under_load; under_load.child(sys.argv[1:])"
    argv = [sys.executable, "-P", "-c", code, where, which, str(requests), *map(str, levels)]
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = [line for line in done.stderr.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{which} in {src}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return {int(k): v for k, v in json.loads(lines[-1].removeprefix("RESULT ")).items()}


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` on ``cpus`` (``sched_setaffinity`` of a pid moves only its main thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def window(
    procs: Processes, name: str, url: str, body: bytes, opts: argparse.Namespace
) -> tuple[float, list[str]]:
    """One end-to-end closed-loop window on ``name``: its CPU ms per request, and its threads' report."""
    pid = procs.children[name].proc.pid
    before, began = thread_counters(pid), time.monotonic()
    r = run_async(
        saturate(
            url + "/v1/chat/completions",
            body,
            name,
            stream=False,
            concurrency=opts.connections,
            duration=opts.duration,
            warmup=1.0,
            cpu=lambda: cpu_tree(procs),
        )
    )
    if r.errors:
        raise RuntimeError(f"{name}: {r.errors} errors, {r.first_error}")
    seconds = f"{time.monotonic() - began:.1f} s, {r.rps:.0f} req/s"
    return r.cpu_ms_per_request(name), [seconds, *thread_report(before, thread_counters(pid))]


def row(label: str, values: Sequence[float]) -> str:
    """``label``, the median and the per-round values of one measure."""
    per_round = ", ".join(f"{v:.3f}" for v in values)
    return f"  {label:<22}{statistics.median(values):8.3f}  [{per_round}]"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="thinkgate revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--duration", type=float, default=3.0, help="seconds per end-to-end window")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--requests", type=int, default=3000, help="requests per in-process measurement")
    p.add_argument(
        "--pin",
        action="store_true",
        help="also an end-to-end window with the server alone on CPU 0 (mock and load generator on CPU 1)",
    )
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    levels = [1, opts.connections]
    body = trajectory(1)
    load_before = os.getloadavg()
    began = time.monotonic()
    rounds: dict[str, list[dict[str, float]]] = {}
    threads: dict[str, list[str]] = {}  # per target and window kind, its threads in the last window
    with tempfile.TemporaryDirectory(prefix="thinkgate-under-load-") as tmp:
        work = Path(tmp)
        procs = Processes(work, REPO)
        try:
            mock, policy = start_mock_with_policy(procs, work)
            # name -> (URL served, code tree, what the in-process child gets, which app)
            targets: dict[str, tuple[str, Path, str, str]] = {}
            for rev in revs:
                src = source_dir(rev, work)
                name = f"gw:{rev}"
                targets[name] = (
                    start_gateway(procs, name, src, "uvicorn", policy),
                    src,
                    str(policy),
                    "gateway",
                )
            targets[FLOOR] = (start_floor(procs, FLOOR, mock), REPO, mock, "floor")
            rounds = {name: [] for name in targets}
            for n in range(opts.rounds):
                for name in targets if n % 2 == 0 else list(targets)[::-1]:
                    url, src, where, which = targets[name]
                    print(f"round {n + 1}: {name}", file=sys.stderr, flush=True)
                    got = {}
                    for pinned in (False, True) if opts.pin else (False,):
                        key = "e2e pinned" if pinned else "e2e"
                        if pinned:  # the server on CPU 0; the mock and this load generator on CPU 1
                            pin(procs.children[name].proc.pid, {0})
                            pin(procs.children["mock"].proc.pid, {1})
                            pin(os.getpid(), {1})
                        try:
                            got[key], threads[f"{name}, {key}"] = window(procs, name, url, body, opts)
                        finally:
                            everywhere = set(range(os.cpu_count() or 1))
                            for pid in (
                                procs.children[name].proc.pid,
                                procs.children["mock"].proc.pid,
                                os.getpid(),
                            ):
                                pin(pid, everywhere)
                    alone_ms = alone(src, where, which, opts.requests, levels)
                    rounds[name].append({**got, **{f"alone@{c}": alone_ms[c] for c in levels}})
        finally:
            procs.close()
    c = opts.connections
    print(f"CPU ms per 1 KB request, median of {opts.rounds} rounds (per-round values in brackets)")
    for name, rs in rounds.items():
        print(f"\n{name}")
        for key in ("e2e", "e2e pinned", "alone@1", f"alone@{c}"):
            if key in rs[0]:
                print(row(key, [r[key] for r in rs]))
        print(row(f"e2e - alone@{c}", [r["e2e"] - r[f"alone@{c}"] for r in rs]))
        if "e2e pinned" in rs[0]:
            print(row("e2e - e2e pinned", [r["e2e"] - r["e2e pinned"] for r in rs]))
    floor_gaps = [r["e2e"] - r[f"alone@{c}"] for r in rounds[FLOOR]]
    for name in (n for n in rounds if n != FLOOR):
        excess = [r["e2e"] - r[f"alone@{c}"] - f for r, f in zip(rounds[name], floor_gaps, strict=True)]
        print(f"\n{name}: its gap minus the floor's (the pipeline's own under-load excess)")
        print(row("excess", excess))
    for name, lines in threads.items():
        print(f"\nthreads of {name}: the last window (incl. warm-up), {lines[0]}")
        print("\n".join(f"  {line}" for line in lines[1:]))
    print(f"\nload average before {load_before}, after {os.getloadavg()}; {time.monotonic() - began:.0f} s")
    if opts.json:
        report = {"argv": sys.argv, "rounds": rounds, "threads": threads}
        opts.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
