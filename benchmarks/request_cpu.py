"""Gateway CPU per request in process, per body size, for several revisions in one run (issue 18).

The whole request goes through the ASGI app (``create_app``: middleware, front door, prologue, decision,
render, dispatch over a real socket to ``mock_backend.py``, the answer, the ledger and the access log), called
directly, with no HTTP server and no load generator in the process: its CPU time (``time.process_time``, every
thread of the process, the access-log writer included) over N sequential requests is the gateway's own work
per request. That leaves out the HTTP server (uvicorn's parsing and writes), which ``hot_path.py`` measures
end to end, and it is far less sensitive to a loaded box than req/s or latency, because only this process's
CPU time is counted.

Each revision runs in its own child process from ``git archive`` of that commit (``python -P``, this venv;
``REV+mypyc``: with its hot-path modules compiled by mypyc, ``mypyc_tree.py``);
revisions alternate round by round and the table shows medians.

``--floor`` adds three more children: the floor's ASGI app (``floor_proxy.asgi_app``: parse, splice, the
floor's pooled upstream client, normalise) as ``floor-app``, the same with thinkgate's upstream client as
``floor-app-client``, and that inside thinkgate's app shell (``GatewayApp``, ``RequestIdMiddleware``,
Starlette request and response) as ``floor-app-framework``, called the same way: thinkgate's app minus
``floor-app-framework`` is what its pipeline costs above the least such an app must do (see ``hot_path.py
--floor`` for the layers below the app).

``--to-write`` also measures, in each child after its CPU rounds, the thread CPU from each request's start
(the app's call) to its upstream request's write (``gateway.backends.http1.Connection.send``): the work on
the critical path before the backend can start, at one connection (issue 18). The median over the requests,
in µs; the marks are two ``thread_time_ns`` calls per request.

``--artifact NAME=PATH`` (repeatable) adds a child named NAME: the first revision's code with the policy's
``classifier.artifact`` set to PATH, to compare classifier artifacts with the same code in the same run.
``--distinct`` makes every request's latest user turn differ (the body's with `` (#i)`` appended), so the
classifier's per-reading cache misses and each request classifies its prompt, as with real traffic; the
bodies are built before the clock starts.

Run: ``.venv/bin/python benchmarks/request_cpu.py --rev 2f9bada --rev HEAD [--floor] [--rounds 3]
[--to-write] [--artifact prev=/tmp/prev.json.gz] [--distinct] [--json out.json]``
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
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
from hot_path import DOORS, REPO, SIZES_KB, source_dir, start_mock_with_policy, trajectory
from loadgen import HOST, Processes

#: The bodies measured: the trajectories of ``hot_path.py`` by size in KB, and ``0``: its short task through
#: ``/v1/chat/completions`` (one user turn, no tools: the ``doors`` phase's chat body).
BODIES = (0, *SIZES_KB)
#: ``--floor``'s children: name -> which floor app (``floor_child``)
FLOOR_APPS = {"floor-app": "floor", "floor-app-client": "client", "floor-app-framework": "framework"}

T = TypeVar("T")


def body_for(kb: int) -> bytes:
    """The chat body measured as ``kb`` (``0``: the short task)."""
    return orjson.dumps(DOORS["chat"][1]) if kb == 0 else trajectory(kb)


def distinct_bodies(kb: int, n: int) -> list[bytes]:
    """``n`` bodies like :func:`body_for`'s, each with its last user turn's text followed by `` (#i)``."""
    body = orjson.loads(body_for(kb))
    turn = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    text = turn["content"]
    out = []
    for i in range(n):
        turn["content"] = f"{text} (#{i})"
        out.append(orjson.dumps(body))
    return out


def body_name(kb: int) -> str:
    return "short" if kb == 0 else f"{kb} KB"


def chat_scope(body: bytes) -> dict[str, Any]:
    """The ASGI scope of a ``POST /v1/chat/completions`` carrying ``body`` (without ``state``)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": (HOST, 1),
        "server": (HOST, 2),
    }


def with_app(prefix: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Start ``mock_backend.py``, build this checkout's gateway app on its policy and return ``await
    work(app)`` run inside the app's lifespan on uvloop (the in-process setup of the scripts that measure
    this checkout only: ``request_stages.py``, ``request_calls.py``)."""
    sys.path.insert(0, str(REPO))
    from gateway.app import create_app
    from gateway.settings import Settings

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            _, policy = start_mock_with_policy(procs, Path(tmp))

            async def run() -> T:
                app = create_app(Settings(config=str(policy)))
                async with app.router.lifespan_context(app):
                    return await work(app)

            import uvloop

            return uvloop.run(run())
        finally:
            procs.close()


async def call_once(
    app: Any, body: bytes, scope: dict[str, Any], on_body: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """One chat request with ``body`` through ``app`` without a server (the client stays connected);
    ``on_body`` sees each body message as it is sent."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif on_body is not None:
            on_body(message)

    await app({**scope, "state": {}}, receive, send)
    if status != [200]:
        raise RuntimeError(f"status {status}")


async def _per_request(app: Any, body: bytes, n: int, bodies: Sequence[bytes] = ()) -> float:
    """CPU ms per request of ``n`` sequential chat requests with ``body`` through ``app`` (with ``bodies``:
    each of those once instead, ``n`` of them, after the warm-up with ``body``)."""
    scope = chat_scope(body)
    for _ in range(min(n, 50)):
        await call_once(app, body, scope)
    if bodies:
        scopes = [chat_scope(b) for b in bodies]
        began = time.process_time()
        for b, s in zip(bodies, scopes, strict=True):
            await call_once(app, b, s)
        return (time.process_time() - began) / len(bodies) * 1000
    began = time.process_time()
    for _ in range(n):
        await call_once(app, body, scope)
    return (time.process_time() - began) / n * 1000


async def _to_write(app: Any, body: bytes, n: int) -> float:
    """Median thread CPU µs from the start of each of ``n`` sequential requests with ``body`` to its upstream
    write (the first ``Connection.send`` of the request)."""
    from gateway.backends import http1

    clock = time.thread_time_ns
    spent: list[int] = []
    began = [0]
    send = http1.Connection.send

    def marked(conn: Any, head: bytes, data: bytes | None) -> None:
        if began[0]:
            spent.append(clock() - began[0])
            began[0] = 0
        send(conn, head, data)

    http1.Connection.send = marked  # type: ignore[method-assign]
    try:
        scope = chat_scope(body)
        for _ in range(min(n, 50)):
            await call_once(app, body, scope)
        spent.clear()
        for _ in range(n):
            began[0] = clock()
            await call_once(app, body, scope)
    finally:
        http1.Connection.send = send  # type: ignore[method-assign]
    return statistics.median(spent) / 1000


def child(args: list[str]) -> None:
    """In the child (the revision's code on the path), with ``POLICY KB... REQUESTS``: print ``{kb: cpu ms
    per request}`` as JSON on stderr."""
    policy, sizes, requests = args[0], [int(kb) for kb in args[1:-1]], int(args[-1])  # kb 0: short task
    from gateway.app import create_app
    from gateway.settings import Settings

    floor = os.environ.get("FLOOR_APP")
    if floor is not None:
        return floor_child(floor, os.environ["FLOOR_UPSTREAM"], sizes, requests)

    writes: dict[int, float] = {}

    async def main() -> dict[int, float]:
        app = create_app(Settings(config=policy))
        out = {}
        async with app.router.lifespan_context(app):
            for kb in sizes:
                n = max(20, requests // max(1, kb // 20))
                bodies = distinct_bodies(kb, n) if os.environ.get("DISTINCT") else ()
                out[kb] = await _per_request(app, body_for(kb), n, bodies)
            if os.environ.get("TO_WRITE"):
                for kb in sizes:
                    writes[kb] = await _to_write(app, body_for(kb), max(20, requests // max(1, kb // 20)))
        return out

    try:
        import uvloop

        result = uvloop.run(main())
    except ImportError:
        result = asyncio.run(main())
    sys.stdout.flush()
    if writes:
        print("WRITE " + json.dumps(writes), file=sys.stderr)
    print("RESULT " + json.dumps(result), file=sys.stderr)


def floor_child(which: str, upstream: str, sizes: Sequence[int], requests: int) -> None:
    """``child`` for ``--floor``: one of the floor's ASGI apps (``floor_proxy.py``) measured the same way."""
    import uvloop
    from floor_proxy import asgi_app, framework_app
    from hot_path import MOCK_MODEL

    async def main() -> dict[int, float]:
        if which == "framework":
            app = framework_app(upstream, MOCK_MODEL)
        else:
            app = asgi_app(upstream, MOCK_MODEL, thinkgate_client=which == "client")
        lifespan: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        started = asyncio.Event()

        async def send(_: dict[str, str]) -> None:
            started.set()

        await lifespan.put({"type": "lifespan.startup"})
        task = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, send))
        await started.wait()
        out = {}
        for kb in sizes:
            n = max(20, requests // max(1, kb // 20))
            out[kb] = await _per_request(app, body_for(kb), n)
        await lifespan.put({"type": "lifespan.shutdown"})
        await task
        return out

    result = uvloop.run(main())
    print("RESULT " + json.dumps(result), file=sys.stderr)


def run_rev(
    src: Path,
    policy: Path,
    sizes: Sequence[int],
    requests: int,
    extra: dict[str, str] | None = None,
    writes: list[dict[int, float]] | None = None,
) -> dict[int, float]:
    """One child run of the revision in ``src`` (``extra``: more environment); its stdout (the access log) is
    dropped. With ``writes``, the child also measures µs to the upstream write (``--to-write``), appended
    there."""
    if writes is not None:
        extra = {**(extra or {}), "TO_WRITE": "1"}
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}", **(extra or {})}
    code = "import sys, request_cpu; request_cpu.child(sys.argv[1:])"
    argv = [sys.executable, "-P", "-c", code, str(policy), *map(str, sizes), str(requests)]
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{src}: exit {done.returncode}\n{done.stderr[-2000:]}")
    if writes is not None:
        marks = [line for line in done.stderr.splitlines() if line.startswith("WRITE ")]
        writes.append({int(k): v for k, v in json.loads(marks[-1].removeprefix("WRITE ")).items()})
    return {int(k): v for k, v in json.loads(lines[-1].removeprefix("RESULT ")).items()}


def alternate(
    sources: dict[str, Path],
    work: Path,
    rounds: int,
    requests: int,
    writes: dict[str, list[dict[int, float]]] | None = None,
    artifacts: dict[str, Path] | None = None,
    distinct: bool = False,
) -> dict[str, list[dict[int, float]]]:
    """``rounds`` child runs of each source tree against one mock backend, in alternating order (the first
    source first in odd rounds, last in even ones): per name, ``{kb: cpu ms per request}`` of each round.
    ``writes``: per revision name (not the floor apps), ``{kb: µs to the upstream write}`` of each round.
    ``artifacts``: per name of a source, the classifier artifact its policy names (``--artifact``)."""
    runs: dict[str, list[dict[int, float]]] = {name: [] for name in sources}
    names = list(sources)
    procs = Processes(work, REPO)
    try:
        mock, policy = start_mock_with_policy(procs, work)
        policies = {}
        for name, artifact in (artifacts or {}).items():
            policies[name] = work / f"policy-{name}.yaml"
            policies[name].write_text(policy.read_text() + f"classifier: {{artifact: {artifact}}}\n")
        for n in range(rounds):
            for name in names if n % 2 == 0 else names[::-1]:
                print(f"round {n + 1}: {name}", file=sys.stderr, flush=True)
                extra = {"DISTINCT": "1"} if distinct else {}
                if name in FLOOR_APPS:
                    extra = {"FLOOR_APP": FLOOR_APPS[name], "FLOOR_UPSTREAM": mock}
                into = None if writes is None or name in FLOOR_APPS else writes.setdefault(name, [])
                used = policies.get(name, policy)
                runs[name].append(run_rev(sources[name], used, BODIES, requests, extra, into))
    finally:
        procs.close()
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--requests", type=int, default=1000, help="requests per size (fewer for large bodies)")
    p.add_argument("--floor", action="store_true", help="also the floor's ASGI apps (floor_proxy.py)")
    p.add_argument("--to-write", action="store_true", help="also µs of thread CPU to the upstream write")
    p.add_argument(
        "--artifact",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also the first revision with this classifier artifact, as NAME (repeatable)",
    )
    p.add_argument("--distinct", action="store_true", help="a different latest user turn in every request")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    writes: dict[str, list[dict[int, float]]] | None = {} if opts.to_write else None
    artifacts = {name: Path(path).resolve() for name, _, path in (a.partition("=") for a in opts.artifact)}
    revs = (opts.rev or ["WORKTREE"]) + list(artifacts)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thinkgate-cpu-") as tmp:
        work = Path(tmp)
        sources = {rev: source_dir(rev, work) for rev in revs if rev not in artifacts}
        sources.update({name: sources[revs[0]] for name in artifacts})
        floors = {name: REPO for name in FLOOR_APPS} if opts.floor else {}
        runs = alternate(
            {**sources, **floors}, work, opts.rounds, opts.requests, writes, artifacts, opts.distinct
        )
    medians = {rev: {kb: statistics.median(r[kb] for r in rs) for kb in BODIES} for rev, rs in runs.items()}
    print(f"gateway CPU ms per chat request in process (median of {opts.rounds} rounds; no HTTP server)")
    ratio_head = "   last/first" if len(revs) > 1 else ""
    width = max(14, *(len(name) + 2 for name in runs))
    print("body".rjust(8) + "".join(name.rjust(width) for name in runs) + ratio_head)
    for kb in BODIES:
        cells = "".join(f"{medians[name][kb]:{width}.3f}" for name in runs)
        ratio = f"{medians[revs[-1]][kb] / medians[revs[0]][kb]:13.2f}" if len(revs) > 1 else ""
        print(f"{body_name(kb):>8}" + cells + ratio)
    if writes:
        title = (
            f"\nthread CPU us from the request's start to its upstream write (median of {opts.rounds} rounds)"
        )
        print_by_body(title, writes, revs, width, 1)
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        opts.json.write_text(
            json.dumps({"argv": sys.argv, "runs": runs, "medians": medians, "to_write": writes}, indent=2)
            + "\n"
        )
    return 0


def print_by_body(
    title: str, runs: dict[str, list[dict[int, float]]], revs: list[str], width: int, digits: int
) -> None:
    """A table of one number per body size and revision: the median over rounds, and for two or more
    revisions the per-round ratio last/first (median, min-max, rounds below 1)."""
    print(title)
    head = "body".rjust(8) + "".join(rev.rjust(width) for rev in revs)
    print(head + ("   last/first: median (min-max) per round, rounds below 1" if len(revs) > 1 else ""))
    for kb in BODIES:
        cells = "".join(f"{statistics.median(r[kb] for r in runs[rev]):{width}.{digits}f}" for rev in revs)
        ratio = ""
        if len(revs) > 1:
            per = sorted(b[kb] / a[kb] for a, b in zip(runs[revs[0]], runs[revs[-1]], strict=True))
            below = sum(x < 1 for x in per)
            ratio = f"   {statistics.median(per):.3f} ({per[0]:.3f}-{per[-1]:.3f}) {below}/{len(per)}"
        print(f"{body_name(kb):>8}" + cells + ratio)


if __name__ == "__main__":
    raise SystemExit(main())
