"""Socket writes per answer (issue 18): how many ``write``-family syscalls the gateway makes per request, to
the client and to the upstream, counted with ``strace`` on the running ``thinkgate serve``.

For each ``--rev`` (``git archive`` of the commit, run with this venv, as ``hot_path.py`` does): the mock
backend, the gateway under ``thinkgate serve``, then per kind of answer ``--requests`` sequential requests on
one keep-alive connection while ``strace -f -e trace=write,writev,sendmsg,sendto`` is attached to the gateway.
A second pass with ``strace -c`` counts every syscall (column ``all``; ``sys:`` the others
made at least every other request: the event loop's polls, reads). The writes are split by file
descriptor: a descriptor that carried an ``HTTP/1.1`` status line is a client
connection, one that carried a ``POST`` is an upstream connection (anything else: ``other``, e.g. the
event loop's self-pipe). Kinds: ``chat`` (a 1 KB non-stream chat answer through the pipeline), ``stream``
(the mock's 20-chunk stream), ``models`` (``GET /v1/models``, a Starlette response), ``error`` (a 400
envelope for a body that is not JSON).

``--timed-rounds N`` then times the same sequential requests without strace, the revisions alternated
round by round: the median over rounds of each round's p50 latency (client and both servers on this box) and
of the gateway's CPU per request (/proc/PID/task/*/schedstat).

Run: ``.venv/bin/python benchmarks/server_writes.py --rev HEAD~1 --rev HEAD [--requests 300]
[--timed-rounds 6] [--json F]``
(needs ``strace`` and ptrace permission over own processes).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson
from hot_path import source_dir, start_gateway, start_mock_with_policy, trajectory
from loadgen import Processes

REPO = Path(__file__).resolve().parent.parent
CALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(write|writev|sendmsg|sendto)\((\d+),\s*(.*)$")


def kinds() -> dict[str, tuple[str, str, bytes | None]]:
    """kind -> (method, path, body)."""
    chat = trajectory(1)
    stream = orjson.loads(chat)
    stream["stream"] = True
    return {
        "chat": ("POST", "/v1/chat/completions", chat),
        "stream": ("POST", "/v1/chat/completions", orjson.dumps(stream)),
        "models": ("GET", "/v1/models", None),
        "error": ("POST", "/v1/chat/completions", b"{not json"),
    }


def drive(url: str, method: str, path: str, body: bytes | None, n: int) -> list[float]:
    """``n`` sequential requests on one keep-alive connection, each read to its end; their seconds."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"content-type": "application/json"} if body is not None else {}
    out = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            out.append(time.perf_counter() - start)
            if resp.will_close:
                raise RuntimeError(f"{path}: the gateway closed the connection (HTTP {resp.status})")
    finally:
        conn.close()
    return out


WRITES = ["-s", "12", "-e", "trace=write,writev,sendmsg,sendto"]  # every write-family call, with its fd
SUMMARY = ["-c"]  # the count of every syscall


def traced(
    pid: int, how: list[str], out: Path, url: str, method: str, path: str, body: bytes | None, n: int
) -> None:
    """Run ``drive`` while ``strace -f -qq [how] -o out`` is attached to the gateway."""
    drive(url, method, path, body, 10)  # warm the connection pool and the caches before attaching
    argv = ["strace", "-f", "-qq", *how, "-o", str(out)]
    tracer = subprocess.Popen([*argv, "-p", str(pid)], stderr=subprocess.PIPE)
    time.sleep(1.0)  # strace attaches to every thread of the process before it traces
    if tracer.poll() is not None:
        raise RuntimeError(f"strace failed: {tracer.stderr.read().decode() if tracer.stderr else ''}")
    try:
        drive(url, method, path, body, n)
        time.sleep(0.3)  # writes the event loop finishes after the last response
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)


def count(trace: Path) -> Counter[str]:
    """Write-family syscalls by role of the descriptor (``client``/``upstream``/``other``) and by name."""
    calls: list[tuple[str, str, str]] = []
    roles: dict[str, str] = {}
    for line in trace.read_text(errors="replace").splitlines():
        m = CALL.match(line)
        if m is None:
            continue
        name, fd, rest = m.groups()
        calls.append((name, fd, rest))
        if '"HTTP/1.1 ' in rest[:40]:
            roles[fd] = "client"
        elif '"POST ' in rest[:40]:
            roles.setdefault(fd, "upstream")
    out: Counter[str] = Counter()
    for name, fd, _ in calls:
        role = roles.get(fd, "other")
        out[role] += 1
        out[f"{role}:{name}"] += 1
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far, from the scheduler's nanosecond counters (/proc's
    utime/stime tick at 10 ms, too coarse for a few hundred sub-millisecond requests)."""
    tasks = Path(f"/proc/{pid}/task")
    return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir()) / 1e9


def summary(path: Path) -> Counter[str]:
    """Calls per syscall from ``strace -c`` output (% time, seconds, usecs/call, calls, [errors,] name)."""
    out: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        cols = line.split()
        if len(cols) in (5, 6) and cols[-1].isidentifier() and cols[-1] != "total" and cols[3].isdigit():
            out[cols[-1]] += int(cols[3])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--requests", type=int, default=300, help="sequential requests per kind and revision")
    p.add_argument(
        "--timed-rounds",
        type=int,
        default=0,
        help="then, without strace, rounds of the same sequential requests (revisions alternated): median of "
        "the rounds' p50 latency and the gateway's CPU per request",
    )
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    results: dict[str, dict[str, dict[str, float]]] = {}
    timed: dict[str, dict[str, list[tuple[float, float]]]] = {rev: {k: [] for k in kinds()} for rev in revs}
    with tempfile.TemporaryDirectory(prefix="thinkgate-writes-") as tmp:
        work = Path(tmp)
        procs = Processes(work, REPO)
        try:
            _, policy = start_mock_with_policy(procs, work)
            urls = {}
            for rev in revs:
                name = f"gw:{rev}"
                url = urls[rev] = start_gateway(procs, name, source_dir(rev, work), "uvicorn", policy)
                pid = procs.children[name].proc.pid
                results[rev] = {}
                for kind, (method, path, body) in kinds().items():
                    trace = work / f"trace-{len(results)}-{kind}.txt"
                    traced(pid, WRITES, trace, url, method, path, body, opts.requests)
                    counts = count(trace)
                    traced(pid, SUMMARY, trace, url, method, path, body, opts.requests)
                    every = summary(trace)
                    counts["all syscalls"] = sum(every.values())
                    for name, calls in every.items():
                        if calls >= opts.requests // 2 and name not in ("write", "writev"):  # in the columns
                            counts[f"sys:{name}"] = calls
                    results[rev][kind] = {k: round(v / opts.requests, 3) for k, v in sorted(counts.items())}
            for n in range(opts.timed_rounds):
                for kind, (method, path, body) in kinds().items():
                    for rev in revs if n % 2 == 0 else revs[::-1]:
                        pid = procs.children[f"gw:{rev}"].proc.pid
                        drive(urls[rev], method, path, body, 20)
                        cpu = cpu_seconds(pid)
                        times = drive(urls[rev], method, path, body, opts.requests)
                        cpu_us = (cpu_seconds(pid) - cpu) / opts.requests * 1e6
                        timed[rev][kind].append((statistics.median(times) * 1000, cpu_us))
        finally:
            procs.close()
    print(f"write-family syscalls of the gateway per request ({opts.requests} sequential requests per kind)")
    print(f"{'kind':8} {'revision':14} {'to client':>10} {'upstream':>10} {'other':>8} {'all':>6}   by call")
    for rev, per_kind in results.items():
        for kind, c in per_kind.items():
            detail = ", ".join(f"{k}={v}" for k, v in c.items() if ":" in k)
            row = f"{kind:8} {rev[:14]:14} {c.get('client', 0):>10} {c.get('upstream', 0):>10}"
            print(f"{row} {c.get('other', 0):>8} {c.get('all syscalls', 0):>6}   {detail}")
    if opts.timed_rounds:
        print(
            f"\nno strace, {opts.timed_rounds} rounds of {opts.requests} sequential requests a kind (medians)"
        )
        print(
            f"{'kind':8} {'revision':14} {'p50 ms':>8} {'CPU us/req':>11} {'p50/first':>10} {'CPU/first':>10}"
        )
        for kind in kinds():
            first: tuple[float, float] | None = None
            for rev in revs:
                rounds = timed[rev][kind]
                p50 = statistics.median(r[0] for r in rounds)
                cpu = statistics.median(r[1] for r in rounds)
                first = first or (p50, cpu)
                row = f"{kind:8} {rev[:14]:14} {p50:>8.3f} {cpu:>11.1f}"
                print(f"{row} {p50 / first[0]:>10.2f} {cpu / first[1]:>10.2f}")
    if opts.json:
        report = {"requests": opts.requests, "results": results, "timed": timed}
        opts.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
