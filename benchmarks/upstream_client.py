"""Upstream HTTP client benchmark: aiohttp.ClientSession vs httpx.AsyncClient against the simulator.

The gateway's upstream seam (``gateway/backends/client.py``) needs a pooled async HTTP/1.1 client. This
drives the same fixed workload through both, in one run, from this process (on uvloop, as under uvicorn):

* non-stream: ``--requests`` short chat completions, ``--concurrency`` closed-loop workers;
* stream: ``--streams`` long SSE chat completions, ``--stream-concurrency`` workers, read chunk by chunk.

Both clients use one pooled keep-alive connection per worker. The simulators run as separate processes; the
clients alternate for ``--rounds`` rounds so background load hits both. Reported per client: requests/s,
p50/p99 latency and the client process's CPU time per request (the number a proxy pays on every request).

Run: ``.venv/bin/python benchmarks/upstream_client.py [--json out.json]`` (about 30 seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from loadgen import (
    HOST,
    JSON_HEADERS,
    EventCounter,
    LoadResult,
    Processes,
    Reply,
    Send,
    aiohttp_sender,
    aiohttp_session,
    closed_loop,
    free_port,
    merge,
    run_async,
    sim_argv,
)

REPO = Path(__file__).resolve().parent.parent
SHORT_MODEL = "sim-short"
LONG_MODEL = "sim-long"
PROMPT = [{"role": "user", "content": "In one sentence, why does a proxy reuse upstream connections?"}]
CLIENTS = ("aiohttp", "httpx")


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line options."""

    requests: int
    streams: int
    concurrency: int
    stream_concurrency: int
    rounds: int
    warmup: float
    long_words: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--requests", type=int, default=3000, help="non-stream requests per client and round")
    p.add_argument("--streams", type=int, default=200, help="streams per client and round")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--stream-concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2, help="alternating aiohttp/httpx rounds")
    p.add_argument("--warmup", type=float, default=0.5, help="uncounted seconds before each window")
    p.add_argument("--long-words", type=int, default=400, help="answer words of the stream simulator")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    ns = p.parse_args(argv)
    if min(ns.requests, ns.streams, ns.concurrency, ns.stream_concurrency, ns.rounds) < 1:
        p.error("counts, concurrency and rounds must be at least 1")
    if ns.warmup < 0:
        p.error("--warmup must not be negative")
    return Options(
        requests=ns.requests,
        streams=ns.streams,
        concurrency=ns.concurrency,
        stream_concurrency=ns.stream_concurrency,
        rounds=ns.rounds,
        warmup=ns.warmup,
        long_words=ns.long_words,
        json_path=ns.json,
    )


def chat_body(model: str, *, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": PROMPT,
        "max_tokens": 2048,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


# ---- clients ---------------------------------------------------------------------------------------


def httpx_client(concurrency: int) -> httpx.AsyncClient:
    """A pooled keep-alive HTTP/1.1 client sized for ``concurrency`` simultaneous requests."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0))


def httpx_sender(client: httpx.AsyncClient, url: str, body: bytes, *, stream: bool) -> Send:
    """POST ``body`` to ``url`` with httpx; transport failures surface as ``ConnectionError``."""

    async def send() -> Reply:
        try:
            if not stream:
                resp = await client.post(url, content=body, headers=JSON_HEADERS)
                return Reply(resp.status_code, 0, len(resp.content))
            counter = EventCounter()
            async with client.stream("POST", url, content=body, headers=JSON_HEADERS) as sresp:
                async for chunk in sresp.aiter_bytes():
                    counter.feed(chunk)
                return Reply(sresp.status_code, counter.events, counter.nbytes)
        except httpx.TransportError as exc:
            raise ConnectionError(f"httpx: {exc!r}") from None

    return send


@dataclass(frozen=True, slots=True)
class Workload:
    """One fixed workload: where to send what, how many, how many at once."""

    name: str
    url: str
    body: bytes
    stream: bool
    total: int
    concurrency: int


async def drive(client: str, work: Workload, opts: Options, procs: Processes) -> LoadResult:
    """Run ``work`` once through a fresh pooled ``client`` (``aiohttp`` or ``httpx``)."""
    label = f"{work.name}/{client}"

    async def loop(send: Send) -> LoadResult:
        return await closed_loop(
            send, label, concurrency=work.concurrency, total=work.total, warmup=opts.warmup, cpu=procs.cpu
        )

    if client == "aiohttp":
        async with aiohttp_session(work.concurrency) as session:
            return await loop(aiohttp_sender(session, work.url, work.body, stream=work.stream))
    if client == "httpx":
        async with httpx_client(work.concurrency) as hclient:
            return await loop(httpx_sender(hclient, work.url, work.body, stream=work.stream))
    raise ValueError(f"unknown client {client!r}")


async def run_all(opts: Options, procs: Processes, urls: dict[str, str]) -> dict[str, dict[str, LoadResult]]:
    """Alternate the clients over the rounds, for the non-stream then the stream workload."""
    workloads = (
        Workload(
            "non-stream",
            urls["short"],
            chat_body(SHORT_MODEL, stream=False),
            False,
            opts.requests,
            opts.concurrency,
        ),
        Workload(
            "stream",
            urls["long"],
            chat_body(LONG_MODEL, stream=True),
            True,
            opts.streams,
            opts.stream_concurrency,
        ),
    )
    report: dict[str, dict[str, LoadResult]] = {}
    for work in workloads:
        parts: dict[str, list[LoadResult]] = {c: [] for c in CLIENTS}
        for rnd in range(opts.rounds):
            order = CLIENTS if rnd % 2 == 0 else tuple(reversed(CLIENTS))
            for client in order:
                parts[client].append(await drive(client, work, opts, procs))
        report[work.name] = {c: merge(f"{work.name}/{c}", parts[c]) for c in CLIENTS}
    return report


# ---- output ----------------------------------------------------------------------------------------


def _fmt(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def render_table(report: dict[str, dict[str, LoadResult]], opts: Options) -> str:
    """One block per workload: a row per client and the httpx/aiohttp ratio."""
    head = f"{'workload':<11}{'client':<9}{'ok':>7}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    head += f"{'client CPU ms/req':>19}{'sim CPU ms/req':>16}{'events/s':>11}"
    lines = [head, "-" * len(head)]
    for workload, by_client in report.items():
        sim = "sim-long" if workload == "stream" else "sim-short"
        for client, r in by_client.items():
            lines.append(
                f"{workload:<11}{client:<9}{r.ok:>7}{_fmt(r.rps, 1):>10}{_fmt(r.p_ms(50), 2):>9}"
                f"{_fmt(r.p_ms(99), 2):>9}{_fmt(r.cpu_ms_per_request('loadgen'), 3):>19}"
                f"{_fmt(r.cpu_ms_per_request(sim), 3):>16}{_fmt(r.events_per_s, 0):>11}"
            )
        a, h = by_client["aiohttp"], by_client["httpx"]
        lines.append(
            f"{'':<11}{'ratio':<9}{'':>7}{_fmt(h.rps / a.rps, 2):>10}{_fmt(h.p_ms(50) / a.p_ms(50), 2):>9}"
            f"{_fmt(h.p_ms(99) / a.p_ms(99), 2):>9}"
            f"{_fmt(h.cpu_ms_per_request('loadgen') / a.cpu_ms_per_request('loadgen'), 2):>19}"
            "   (httpx / aiohttp)"
        )
    errors = [
        f"{r.label}: {r.errors} ({r.first_error})" for b in report.values() for r in b.values() if r.errors
    ]
    lines.append("errors: none" if not errors else "errors: " + "; ".join(errors))
    lines.append(
        f"workload per client: {opts.rounds} x {opts.requests} non-stream (c={opts.concurrency}), "
        f"{opts.rounds} x {opts.streams} streams (c={opts.stream_concurrency})"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="thinkgate-bench-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            ports = {"short": free_port(), "long": free_port()}
            procs.start(
                "sim-short", sim_argv(py, ports["short"], SHORT_MODEL, answer_words=8, reasoning_words=0)
            )
            procs.start(
                "sim-long",
                sim_argv(py, ports["long"], LONG_MODEL, answer_words=opts.long_words, reasoning_words=0),
            )
            base = {k: f"http://{HOST}:{p}" for k, p in ports.items()}
            for name, key in (("sim-short", "short"), ("sim-long", "long")):
                procs.wait_ok(name, f"{base[key]}/health")
            urls = {k: v + "/v1/chat/completions" for k, v in base.items()}
            report = run_async(run_all(opts, procs, urls))
        finally:
            procs.close()
    print(render_table(report, opts))
    print(f"\nmachine: {os.cpu_count()} cores, load avg {os.getloadavg()}")
    print(f"versions: aiohttp {_version('aiohttp')}, httpx {httpx.__version__}")
    if opts.json_path is not None:
        payload = {
            "options": {k: str(v) for k, v in asdict(opts).items()},
            "results": {w: {c: r.summary() for c, r in b.items()} for w, b in report.items()},
        }
        opts.json_path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {opts.json_path}")
    errors = any(r.errors for b in report.values() for r in b.values())
    return 1 if errors else 0


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module)


if __name__ == "__main__":
    raise SystemExit(main())
