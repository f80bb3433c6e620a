"""Where a gateway worker's resident memory goes under load (issue 18: "RSS <= 150 MB per worker").

Starts ``mock_backend.py`` and one ``thinkgate serve`` worker per ``--variant`` (a git revision and extra
environment variables, e.g. glibc malloc tunables), then runs ``hot_path.py``'s phases against each worker
in turn (its own ``measure``: 64-connection 1 KB non-stream and 20-chunk streams, 1-connection latency and
first byte, 8-connection trajectories of 1, 20, 85 and 800 KB, the four front doors) and then
``--memory-requests`` 1 KB requests in fifths. After start-up and after every phase it reads the worker's
memory from /proc:

* ``rss``: VmRSS; ``anon``/``file``: its anonymous and file-backed parts (RssAnon, RssFile);
* ``heap``: resident bytes of the ``[heap]`` mapping (glibc's main arena, grown with brk);
* ``mmap``: resident bytes of the other anonymous mappings (glibc's large blocks and thread arenas, Python's
  pymalloc arenas, thread stacks), and how many there are.

``--probe`` adds what only the process itself can tell (a ``sitecustomize`` on the worker's ``PYTHONPATH``
answers ``SIGUSR1`` by writing a JSON line; nothing in the gateway changes): live objects tracked by the
garbage collector, pymalloc's allocated blocks and arenas, glibc's ``mallinfo2`` (bytes in use, free bytes
kept in the arenas, bytes in mmapped blocks), and with ``--tracemalloc N`` the top N allocation sites by size.
At the end, ``--probe`` also calls ``malloc_trim(0)`` in the worker and reports the RSS after it: what glibc
was keeping as free memory rather than what the program still holds.

Run: ``.venv/bin/python benchmarks/memory_growth.py [--variant main=HEAD] [--variant
trim=HEAD:MALLOC_TRIM_THRESHOLD_=131072] [--memory-requests 100000] [--probe] [--tracemalloc 15]
[--json out.json]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hot_path import DOORS, SIZES_KB, Target, measure, source_dir, start_mock_with_policy, trajectory
from loadgen import HOST, Processes, aiohttp_sender, aiohttp_session, closed_loop, free_port, run_async

#: the worker-side probe: a ``sitecustomize`` module, active only when ``THINKGATE_MEMPROBE`` names a file
PROBE = r"""
import os

if os.environ.get("THINKGATE_MEMPROBE"):
    import ctypes
    import gc
    import json
    import signal
    import sys
    import tempfile
    import tracemalloc

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost")]

    _libc = ctypes.CDLL(None)
    _libc.mallinfo2.restype = _Mallinfo2

    def _rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    _PYMALLOC_KEYS = (
        "# arenas allocated current", "# bytes in allocated blocks", "# bytes in available blocks")

    def _pymalloc():
        # sys._debugmallocstats writes to the C stderr: catch it in a file for the duration
        with tempfile.TemporaryFile() as tmp:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(tmp.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
        out = {}
        for line in text.splitlines():
            key, _, value = line.partition("=")
            key = key.strip()
            if key in _PYMALLOC_KEYS:
                out[key.removeprefix("# ").replace(" ", "_")] = int(value.strip().replace(",", ""))
        return out

    def _answer(signum, frame):
        info = _libc.mallinfo2()
        out = {
            "gc_objects": len(gc.get_objects()),
            "gc_counts": gc.get_count(),
            "allocated_blocks": sys.getallocatedblocks(),
            "malloc_in_use_mb": info.uordblks / 2**20,
            "malloc_free_mb": info.fordblks / 2**20,
            "malloc_arena_mb": info.arena / 2**20,
            "malloc_mmapped_mb": info.hblkhd / 2**20,
            "malloc_mmapped_blocks": info.hblks,
            **_pymalloc(),
        }
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            out["traced_mb"], out["traced_peak_mb"] = current / 2**20, peak / 2**20
            top = int(os.environ.get("THINKGATE_MEMPROBE_TOP", "0"))
            stats = tracemalloc.take_snapshot().statistics("lineno")[:top]
            out["top"] = [[str(s.traceback[0]), s.size, s.count] for s in stats]
            tracemalloc.reset_peak()
        if os.path.exists(os.environ["THINKGATE_MEMPROBE"] + ".trim"):
            out["rss_before_trim_mb"] = _rss_mb()
            _libc.malloc_trim(0)
            out["rss_after_trim_mb"] = _rss_mb()
        with open(os.environ["THINKGATE_MEMPROBE"], "a") as f:
            f.write(json.dumps(out) + "\n")

    signal.signal(signal.SIGUSR1, _answer)
"""


@dataclass
class Variant:
    """One gateway worker: a label, a git revision (``WORKTREE`` = this checkout) and extra environment."""

    label: str
    rev: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``LABEL=REV[:KEY=VALUE,KEY=VALUE]``"""
        label, _, rest = text.partition("=")
        rev, _, env = rest.partition(":")
        pairs = [p.partition("=") for p in env.split(",") if p]
        return cls(label, rev or "WORKTREE", {k: v for k, _, v in pairs})


def memory_of(pid: int) -> dict[str, float]:
    """The process's resident memory in MB: total, anonymous, file-backed, the brk heap, other anonymous
    mappings (and their count)."""
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            status[key] = int(value.split()[0]) / 1024
    heap = mmap = 0
    maps = 0
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=5)
        if (
            "-" in first[0] and ":" not in first[0]
        ):  # a mapping's header line: range perms offset dev inode [name]
            name = first[5] if len(first) > 5 else ""
            anonymous = first[4] == "0"
        elif first[0] == "Rss:":
            kb = int(first[1])
            if name == "[heap]":
                heap += kb
            elif anonymous and not name and kb:
                mmap += kb
                maps += 1
    return {
        "rss": status["VmRSS"],
        "anon": status["RssAnon"],
        "file": status["RssFile"],
        "heap": heap / 1024,
        "mmap": mmap / 1024,
        "mmaps": maps,
    }


def probe(pid: int, out: Path, url: str, *, trim: bool = False, timeout: float = 120.0) -> dict[str, Any]:
    """Ask the worker's probe for one JSON line (``SIGUSR1``; a request makes sure its main thread runs)."""
    import urllib.request

    before = out.read_text().count("\n") if out.exists() else 0
    flag = Path(str(out) + ".trim")
    if trim:
        flag.touch()
    try:
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = out.read_text().splitlines() if out.exists() else []
            if len(lines) > before:
                answer: dict[str, Any] = json.loads(lines[-1])
                return answer
            with contextlib.suppress(OSError):  # busy answering the probe (a tracemalloc snapshot takes s)
                urllib.request.urlopen(url + "/health", timeout=2).read()
            time.sleep(0.05)
    finally:
        flag.unlink(missing_ok=True)
    raise RuntimeError(f"no answer from the memory probe of pid {pid}")


def start_worker(
    procs: Processes, variant: Variant, src: Path, policy: Path, probe_dir: Path | None, tracemalloc_top: int
) -> str:
    """``thinkgate serve`` (one worker, as ``hot_path.start_gateway``) with the variant's environment."""
    port = free_port()
    path = str(src) if probe_dir is None else f"{src}{os.pathsep}{probe_dir}"
    env = {**os.environ, "PYTHONPATH": path, "THINKGATE_CONFIG": str(policy), **variant.env}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if probe_dir is not None:
        env["THINKGATE_MEMPROBE"] = str(probe_dir / f"{variant.label}.jsonl")
        if tracemalloc_top:
            env["PYTHONTRACEMALLOC"] = "1"
            env["THINKGATE_MEMPROBE_TOP"] = str(tracemalloc_top)
    argv = [sys.executable, "-P", "-m", "gateway.cli", "serve", "--config", str(policy), "--host", HOST]
    argv += ["--port", str(port), "--workers", "1", "--log-level", "warning"]
    procs.start(variant.label, argv, env=env)
    url = f"http://{HOST}:{port}"
    procs.wait_ok(variant.label, url + "/ready", timeout=90)
    return url


def phases(opts: argparse.Namespace) -> list[str]:
    names = [
        "sat",
        "stream",
        "lat1",
        "ttfb",
        *(f"sweep{kb}" for kb in SIZES_KB),
        *(f"door_{d}" for d in DOORS),
    ]
    if opts.phases:
        names = [n for n in names if n in opts.phases.split(",")]
    return names


async def memory_fifth(url: str, connections: int, total: int) -> int:
    """``total`` 1 KB non-stream chat requests at ``connections``; the number of errors."""
    async with aiohttp_session(connections) as session:
        send = aiohttp_sender(session, url + "/v1/chat/completions", trajectory(1), stream=False)
        r = await closed_loop(send, "memory", concurrency=connections, total=total, warmup=0)
    return r.errors


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--variant",
        action="append",
        type=Variant.parse,
        help="LABEL=REV[:KEY=VALUE,...]: a worker at git REV with extra environment (repeatable; "
        "default: worktree=WORKTREE)",
    )
    p.add_argument("--duration", type=float, default=4.0, help="seconds per closed-loop window (as hot_path)")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--ttfb-requests", type=int, default=300)
    p.add_argument("--phases", default="", help="comma-separated subset of the phases (default: all)")
    p.add_argument("--rounds", type=int, default=1, help="run the phases this many times")
    p.add_argument("--memory-requests", type=int, default=100_000, help="1 KB requests at the end, in fifths")
    p.add_argument("--probe", action="store_true", help="worker-side numbers (gc, pymalloc, mallinfo2, trim)")
    p.add_argument("--tracemalloc", type=int, default=0, metavar="N", help="with --probe: top N sites")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    opts.memory_requests_per_fifth = opts.memory_requests // 5
    variants: list[Variant] = opts.variant or [Variant("worktree", "WORKTREE")]
    samples: dict[str, list[tuple[str, dict[str, Any]]]] = {v.label: [] for v in variants}
    errors: dict[str, int] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="thinkgate-mem-") as tmp:
        work = Path(tmp)
        probe_dir: Path | None = None
        if opts.probe:
            probe_dir = work / "probe"
            probe_dir.mkdir()
            (probe_dir / "sitecustomize.py").write_text(PROBE)
        procs = Processes(work, Path(__file__).resolve().parent.parent)
        try:
            _, policy = start_mock_with_policy(procs, work)
            urls: dict[str, str] = {}
            for v in variants:
                urls[v.label] = start_worker(
                    procs, v, source_dir(v.rev, work), policy, probe_dir, opts.tracemalloc
                )

            def sample(label: str, phase: str, *, trim: bool = False) -> None:
                pid = procs.children[label].proc.pid
                row: dict[str, Any] = dict(memory_of(pid))
                if probe_dir is not None:
                    row.update(probe(pid, probe_dir / f"{label}.jsonl", urls[label], trim=trim))
                samples[label].append((phase, row))

            for v in variants:
                sample(v.label, "start")
            for n in range(opts.rounds):
                for i, phase in enumerate(phases(opts)):
                    order = variants if (i + n) % 2 == 0 else variants[::-1]
                    for v in order:
                        print(f"round {n + 1}: {phase} on {v.label}", file=sys.stderr, flush=True)
                        target = Target(v.label, urls[v.label], v.label)
                        res = run_async(measure(opts, procs, target, phase))
                        errors[v.label] = errors.get(v.label, 0) + sum(
                            x for k, x in res.items() if k.endswith("errors") and x
                        )
                        sample(v.label, phase if opts.rounds == 1 else f"{phase}.{n + 1}")
            for fifth in range(5 if opts.memory_requests else 0):
                for v in variants:
                    print(f"memory {fifth + 1}/5 on {v.label}", file=sys.stderr, flush=True)
                    errors[v.label] = errors.get(v.label, 0) + run_async(
                        memory_fifth(urls[v.label], opts.connections, opts.memory_requests_per_fifth)
                    )
                    sample(v.label, f"+{(fifth + 1) * opts.memory_requests_per_fifth:,}")
            if probe_dir is not None:
                for v in variants:
                    sample(v.label, "malloc_trim", trim=True)
        finally:
            procs.close()
    for v in variants:
        print(report(v, samples[v.label]))
        print()
    print(
        f"elapsed {time.monotonic() - started:.0f} s; load average {os.getloadavg()}; "
        f"errors {errors or 'none'}"
    )
    if opts.json:
        out = {
            "argv": sys.argv,
            "variants": [vars(v) for v in variants],
            "samples": samples,
            "errors": errors,
        }
        opts.json.write_text(json.dumps(out, indent=1) + "\n")
    return 1 if any(errors.values()) else 0


COLUMNS = [
    ("rss", "RSS"),
    ("anon", "anon"),
    ("file", "file"),
    ("heap", "heap"),
    ("mmap", "mmap"),
    ("mmaps", "maps"),
    ("gc_objects", "gc objs"),
    ("allocated_blocks", "blocks"),
    ("arenas_allocated_current", "pyarenas"),
    ("malloc_in_use_mb", "m.used"),
    ("malloc_free_mb", "m.free"),
    ("malloc_mmapped_mb", "m.mmap"),
    ("traced_mb", "traced"),
    ("traced_peak_mb", "tr.peak"),
]


def report(variant: Variant, rows: list[tuple[str, dict[str, Any]]]) -> str:
    """One table per worker: a row per sample, MB unless said (maps, objects, blocks, arenas: counts)."""
    cols = [(k, t) for k, t in COLUMNS if any(k in r for _, r in rows)]
    env = ",".join(f"{k}={v}" for k, v in variant.env.items())
    lines = [
        f"{variant.label} ({variant.rev}{', ' + env if env else ''}): MB after each phase",
        "phase".ljust(16) + "".join(t.rjust(10) for _, t in cols),
    ]
    for phase, r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k)
            cells.append("-" if v is None else f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")
        lines.append(phase.ljust(16) + "".join(c.rjust(10) for c in cells))
        if "rss_after_trim_mb" in r:
            lines.append(
                f"  malloc_trim(0): RSS {r['rss_before_trim_mb']:.1f} -> {r['rss_after_trim_mb']:.1f} MB"
            )
        for site, size, count in r.get("top", []):
            lines.append(f"    {size / 2**20:8.2f} MB {count:9,}  {site}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
