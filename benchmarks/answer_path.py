"""The answer side's CPU per request, split at the client's first and last byte, in process (issue 18).

Like ``request_cpu.py``, the whole request goes through the ASGI app (``create_app``) called directly, with a
real socket to ``mock_backend.py`` and no HTTP server; the ``send`` it is given takes the main thread's CPU
time (``time.thread_time``) when the app sends its first body message and its last one (``more_body``
false), and again when the app returns. So each request's CPU splits into

* ``first``: from the app call to the first body bytes (for a stream: what the client waits for before its
  first byte; for the mock's stream, which arrives in one read, the whole relay),
* ``last``: to the last body bytes (what the client waits for before it can send its next request),
* ``total``: to the app's return; ``total - last`` is the bookkeeping after the answer (ledger, metrics,
  access line, the watch's exit), which the client does not wait for but which still costs the worker CPU;
* ``w.first``, ``w.last``: the median wall-clock time to the first and last body bytes (the mock's own
  time included): work the gateway does while the backend works (on the other core) leaves them, even
  though it is still counted in the CPU parts.
* ``c.first``, ``c.last``: ``first`` and ``last`` minus the thread CPU between the end of the upstream write
  (``Connection.send`` returns) and the first upstream bytes (``Connection.data_received``): the CPU on the
  critical path at one connection, where the work done while the backend works costs the client nothing
  (as long as the backend takes longer). The two wrappers that take these marks cost every revision alike.

Kinds: ``short`` (the doors' short chat task, non-stream), ``1KB`` (``hot_path.py``'s 1 KB trajectory, an
agent step), ``stream`` (the 1 KB trajectory with ``stream: true``: the body of ``hot_path.py``'s first-byte
phase; the mock answers 20 chunks and a usage chunk).

Each revision runs in its own child process (``git archive`` of it, ``python -P``, this venv); revisions
alternate round by round; the table shows medians of rounds (µs) and the ratio of the last revision to the
first. ``--profile KIND`` runs one child of ``--rev`` under cProfile (CPU time) instead and prints its top
functions; ``--marks KIND`` prints the mean thread CPU at which a request reaches each step of the answer
side (the upstream write, its bytes back, the answer, the last send, the ledger).

Run: ``.venv/bin/python benchmarks/answer_path.py --rev main --rev HEAD [--rounds 6] [--requests 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
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

import orjson
from hot_path import DOORS, REPO, source_dir, start_mock_with_policy, trajectory
from loadgen import Processes
from request_cpu import call_once, chat_scope

KINDS = ("short", "1KB", "stream")
PARTS = ("first", "last", "total")
#: the CPU parts minus the work done while the backend works (see the module doc)
CRITICAL = ("crit_first", "crit_last")
#: thread CPU at the end of the request's upstream write and at its first upstream bytes (``_mark_window``)
WINDOW = [0.0, 0.0]
#: wall-clock medians (µs): from the app call to the first / last body bytes, the mock's own time included
WALL = ("wall_first", "wall_last")


def body_for(kind: str) -> bytes:
    if kind == "short":
        return orjson.dumps(DOORS["chat"][1])
    body = orjson.loads(trajectory(1))
    if kind == "stream":
        body["stream"] = True
    return orjson.dumps(body)


async def _per_request(app: Any, body: bytes, n: int) -> dict[str, float]:
    """Mean µs of thread CPU per request of ``n`` sequential requests, by part (see the module doc)."""
    scope = chat_scope(body)
    clock, wall = time.thread_time, time.perf_counter

    async def one() -> tuple[float, float, float, float, float]:
        marks: list[float] = []
        walls: list[float] = []

        def on_body(message: dict[str, Any]) -> None:
            if not marks or not message.get("more_body", False):
                marks.append(clock())
                walls.append(wall())

        began, began_wall = clock(), wall()
        await call_once(app, body, scope, on_body)
        ended = clock()
        waiting = WINDOW[1] - WINDOW[0]
        return (
            marks[0] - began,
            marks[-1] - began,
            ended - began,
            walls[0] - began_wall,
            walls[-1] - began_wall,
            marks[0] - began - waiting,
            marks[-1] - began - waiting,
        )

    for _ in range(min(n, 100)):
        await one()
    rows = [await one() for _ in range(n)]
    out = {
        part: sum(r[i] for r in rows) / n * 1e6  # mean: thread_time ticks are coarse on some kernels
        for i, part in enumerate(PARTS)
    }
    for i, part in enumerate(WALL, start=len(PARTS)):
        out[part] = statistics.median(r[i] for r in rows) * 1e6
    for i, part in enumerate(CRITICAL, start=len(PARTS) + len(WALL)):
        out[part] = sum(r[i] for r in rows) / n * 1e6
    return out


def _mark_window() -> None:
    """Wrap the upstream connection's ``send`` and ``data_received`` to fill :data:`WINDOW` per request."""
    from gateway.backends.http1 import Connection

    send, received = Connection.send, Connection.data_received
    clock = time.thread_time

    def marked_send(self: Any, head: bytes, body: bytes | None) -> None:
        send(self, head, body)
        WINDOW[0] = WINDOW[1] = clock()

    def marked_received(self: Any, data: bytes) -> None:
        if WINDOW[1] == WINDOW[0]:
            WINDOW[1] = clock()
        received(self, data)

    Connection.send = marked_send  # type: ignore[method-assign]
    Connection.data_received = marked_received  # type: ignore[method-assign]


def child(args: list[str]) -> None:
    """In the child (the revision's code on the path), with ``POLICY REQUESTS KIND...``: print ``{kind:
    {part: µs}}`` as JSON on stderr."""
    policy, requests, kinds = args[0], int(args[1]), args[2:]
    from gateway.app import create_app
    from gateway.settings import Settings

    _mark_window()

    async def main() -> dict[str, dict[str, float]]:
        app = create_app(Settings(config=policy))
        out = {}
        async with app.router.lifespan_context(app):
            for kind in kinds:
                out[kind] = await _per_request(app, body_for(kind), requests)
        return out

    import uvloop

    result = uvloop.run(main())
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), file=sys.stderr)


def profile_child(args: list[str]) -> None:
    """``POLICY REQUESTS KIND``: the requests under cProfile; the top functions on stderr."""
    import cProfile
    import pstats

    policy, requests, kind = args[0], int(args[1]), args[2]
    from gateway.app import create_app
    from gateway.settings import Settings

    async def main() -> None:
        app = create_app(Settings(config=policy))
        async with app.router.lifespan_context(app):
            await _per_request(app, body_for(kind), 200)
            prof = cProfile.Profile(time.thread_time)  # CPU, not wall (the upstream write waits)
            prof.enable()
            await _per_request(app, body_for(kind), requests)
            prof.disable()
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(45)
        stats.sort_stats("cumulative").print_stats(70)

    import uvloop

    uvloop.run(main())


#: ``--marks``: (module, class, method, mark before, mark after) — thread CPU marks along the answer side
MARKS = (
    ("gateway.pipeline.serve", "PipelineResponse", "__call__", "response call", "response call returned"),
    ("gateway.pipeline.disconnect", "DisconnectWatch", "__aenter__", "watch: enter", "watch: entered"),
    ("gateway.backends.client", "UpstreamClient", "request", "client.request", "upstream headers back"),
    ("gateway.backends.http1", "Connection", "send", "upstream write", "upstream written"),
    ("gateway.pipeline.serve", "PipelineResponse", "_waiting", "head (while waiting)", "head built"),
    ("gateway.backends.http1", "Connection", "data_received", "upstream bytes in", None),
    ("gateway.pipeline.native", "NativeExchange", "prefetch", "stream prefetch", "first events parsed"),
    ("gateway.pipeline.native", "NativeExchange", "answer", "exchange.answer", "answer normalised"),
    ("gateway.pipeline.serve", "PipelineResponse", "_served", "routing headers", "routing headers set"),
    ("gateway.proxy.relay", "ChunkReader", "batch", "relay: first batch", "relay: first batch done"),
    ("gateway.pipeline.ledger", "Ledger", "finish", "ledger", "ledger done"),
)


def marks_child(args: list[str]) -> None:
    """``POLICY REQUESTS KIND``: the mean thread CPU (µs from the app call) at which each mark of
    :data:`MARKS` is first reached, in order (the wrappers add ~0.5 µs each)."""
    import importlib

    policy, requests, kind = args[0], int(args[1]), args[2]
    from gateway.app import create_app
    from gateway.settings import Settings

    clock = time.thread_time
    marks: dict[str, float] = {}

    def wrap(cls: Any, attr: str, before: str, after: str | None) -> None:
        fn = getattr(cls, attr)
        if asyncio.iscoroutinefunction(fn):

            async def awrapped(*a: Any, **k: Any) -> Any:
                marks.setdefault(before, clock())
                out = await fn(*a, **k)
                if after:
                    marks.setdefault(after, clock())
                return out

            setattr(cls, attr, awrapped)
        else:

            def wrapped(*a: Any, **k: Any) -> Any:
                marks.setdefault(before, clock())
                out = fn(*a, **k)
                if after:
                    marks.setdefault(after, clock())
                return out

            setattr(cls, attr, wrapped)

    for module, cls, attr, before, after in MARKS:
        owner = getattr(importlib.import_module(module), cls)
        if hasattr(owner, attr):  # an older revision may lack a step
            wrap(owner, attr, before, after)
    body = body_for(kind)

    async def main() -> list[dict[str, float]]:
        app = create_app(Settings(config=policy))
        rows = []
        async with app.router.lifespan_context(app):
            for i in range(requests + 200):
                marks.clear()
                pending = [{"type": "http.request", "body": body, "more_body": False}]

                async def receive(pending: list[dict[str, Any]] = pending) -> dict[str, Any]:
                    if pending:
                        return pending.pop()
                    await asyncio.Event().wait()
                    raise AssertionError

                async def send(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.body":
                        marks.setdefault("first body sent", clock())
                        if not message.get("more_body"):
                            marks.setdefault("last body sent", clock())

                began = clock()
                await app({**chat_scope(body), "state": {}}, receive, send)
                if i >= 200:
                    rows.append({k: v - began for k, v in marks.items()} | {"app returned": clock() - began})
        return rows

    import uvloop

    rows = uvloop.run(main())
    means = {k: statistics.mean(r[k] for r in rows) * 1e6 for k in rows[0]}
    prev = 0.0
    for name, at in sorted(means.items(), key=lambda kv: kv[1]):
        print(f"{name:>26} {at:8.1f} µs  (+{at - prev:5.1f})", file=sys.stderr)
        prev = at


def run_rev(src: Path, policy: Path, requests: int, kinds: Sequence[str], fn: str = "child") -> str:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}"}
    code = f"import sys, answer_path; answer_path.{fn}(sys.argv[1:])"
    argv = [sys.executable, "-P", "-c", code, str(policy), str(requests), *kinds]
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{src}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return done.stderr


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--requests", type=int, default=2000, help="requests per kind and round")
    p.add_argument("--kind", action="append", choices=KINDS, help="default: all")
    p.add_argument("--profile", choices=KINDS, help="cProfile one child of the (first) --rev instead")
    p.add_argument("--marks", choices=KINDS, help="thread CPU marks along the answer side, (first) --rev")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    kinds = opts.kind or list(KINDS)
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, dict[str, float]]]] = {rev: [] for rev in revs}
    with tempfile.TemporaryDirectory(prefix="thinkgate-answer-") as tmp:
        work = Path(tmp)
        sources = {rev: source_dir(rev, work) for rev in revs}
        procs = Processes(work, REPO)
        try:
            _, policy = start_mock_with_policy(procs, work)
            if opts.profile:
                print(run_rev(sources[revs[0]], policy, opts.requests, [opts.profile], "profile_child"))
                return 0
            if opts.marks:
                print(run_rev(sources[revs[0]], policy, opts.requests, [opts.marks], "marks_child"))
                return 0
            for n in range(opts.rounds):
                for rev in revs if n % 2 == 0 else revs[::-1]:
                    print(f"round {n + 1}: {rev}", file=sys.stderr, flush=True)
                    out = run_rev(sources[rev], policy, opts.requests, kinds)
                    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
                    runs[rev].append(json.loads(line.removeprefix("RESULT ")))
        finally:
            procs.close()
    print(f"answer side, thread CPU µs per request in process (median of {opts.rounds} rounds)")
    print(
        "kind    part "
        + "".join(rev[:12].rjust(14) for rev in revs)
        + ("   last/first" if len(revs) > 1 else "")
    )
    for kind in kinds:
        for part in PARTS:
            med = [statistics.median(r[kind][part] for r in runs[rev]) for rev in revs]
            ratio = f"{med[-1] / med[0]:13.2f}" if len(revs) > 1 else ""
            print(f"{kind:<7} {part:<5}" + "".join(f"{m:14.1f}" for m in med) + ratio)
        after = [statistics.median(r[kind]["total"] - r[kind]["last"] for r in runs[rev]) for rev in revs]
        ratio = f"{after[-1] / after[0]:13.2f}" if len(revs) > 1 and after[0] else ""
        print(f"{kind:<7} after" + "".join(f"{m:14.1f}" for m in after) + ratio)
        for part in WALL + CRITICAL:
            if any(part not in r[kind] for rev in revs for r in runs[rev]):
                continue  # a revision whose script predates the part
            med = [statistics.median(r[kind][part] for r in runs[rev]) for rev in revs]
            ratio = f"{med[-1] / med[0]:13.2f}" if len(revs) > 1 else ""
            name = part.replace("wall_", "w.").replace("crit_", "c.")
            print(f"{kind:<7} {name:<5}" + "".join(f"{m:14.1f}" for m in med) + ratio)
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        opts.json.write_text(json.dumps({"argv": sys.argv, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
