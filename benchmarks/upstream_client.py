"""Upstream HTTP client benchmark: the libraries (aiohttp vs httpx), then the gateway's own seam by revision.

Part ``libs``: the gateway's upstream seam (``gateway/backends/client.py``) needs a pooled async HTTP/1.1
client. This drives the same fixed workload through both libraries, in one run, from this process (on uvloop,
as under uvicorn):

* non-stream: ``--requests`` short chat completions, ``--concurrency`` closed-loop workers;
* stream: ``--streams`` long SSE chat completions, ``--stream-concurrency`` workers, read chunk by chunk.

Both clients use one pooled keep-alive connection per worker. The simulators run as separate processes; the
clients alternate for ``--rounds`` rounds so background load hits both. Reported per client: requests/s,
p50/p99 latency and the client process's CPU time per request (the number a proxy pays on every request).

Part ``seam``: ``gateway.backends.client.UpstreamClient`` as the gateway uses it (request, then ``read()``
or ``chunks()`` fed through the relay's SSE parser and chunk reader, then ``close()``), the working tree's
version against the same file at ``--rev NAME=REV`` revisions (loaded from git), alternating per round,
against ``benchmarks/mock_backend.py`` (20-chunk streams in one write) and a simulator (``--long-words``
answer words streamed one event per write). Workloads: 1 KB, 85 KB and 800 KB (a tenth as many) request
bodies non-stream, 20-chunk and long streams at ``--seam-concurrency``, and 1 KB requests and 20-chunk streams
at one connection (the mock writes a stream at once: its latency is the first byte's); ``--workloads`` picks
some. The relay (``gateway/proxy/sse.py`` + ``relay.py``) is timed the same way by revision in process.

Run: ``.venv/bin/python benchmarks/upstream_client.py [--part libs|seam|all] [--rev base=a930bb4]
[--json out.json]`` (libs about 30 seconds, seam about a minute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from loadgen import (
    HOST,
    JSON_HEADERS,
    CpuProbe,
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
    part: str
    revs: tuple[tuple[str, str], ...]
    seam_requests: int
    seam_streams: int
    seam_concurrency: int
    latency_requests: int
    relay_iterations: int
    workloads: tuple[str, ...]


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
    p.add_argument("--part", choices=("libs", "seam", "all"), default="all")
    p.add_argument(
        "--rev",
        action="append",
        default=[],
        metavar="NAME=REV",
        help="also measure the seam at this git revision (repeatable); the working tree is 'head'",
    )
    p.add_argument("--seam-requests", type=int, default=3000, help="seam: non-stream requests per round")
    p.add_argument("--seam-streams", type=int, default=1000, help="seam: 20-chunk streams per round")
    p.add_argument("--seam-concurrency", type=int, default=8)
    p.add_argument("--latency-requests", type=int, default=1000, help="seam: requests at one connection")
    p.add_argument("--relay-iterations", type=int, default=3000, help="relay: streams parsed per round")
    p.add_argument(
        "--workloads", default="", help="seam: comma-separated names to run (default all: 1k,85k,800k,...)"
    )
    ns = p.parse_args(argv)
    revs = []
    for spec in ns.rev:
        name, sep, rev = spec.partition("=")
        if not sep or not name or not rev or name == "head":
            p.error(f"--rev wants NAME=REV with NAME not 'head', got {spec!r}")
        revs.append((name, rev))
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
        part=ns.part,
        revs=tuple(revs),
        seam_requests=ns.seam_requests,
        seam_streams=ns.seam_streams,
        seam_concurrency=ns.seam_concurrency,
        latency_requests=ns.latency_requests,
        relay_iterations=ns.relay_iterations,
        workloads=tuple(w for w in ns.workloads.split(",") if w),
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


# ---- the gateway's seam, by revision -----------------------------------------------------------------

#: the modules a seam revision is made of, loaded together so each imports its own siblings
SEAM_MODULES = (
    ("gateway.backends.deadline", "gateway/backends/deadline.py"),  # issue 18; older revisions lack it
    ("gateway.backends.http1", "gateway/backends/http1.py"),  # idem
    ("gateway.backends.client", "gateway/backends/client.py"),
    ("gateway.proxy.sse", "gateway/proxy/sse.py"),
    ("gateway.proxy.relay", "gateway/proxy/relay.py"),
)
#: seam modules that older revisions do not have
OPTIONAL_MODULES = frozenset({"gateway.backends.deadline", "gateway.backends.http1"})
MOCK_MODEL = "mock"
BODY_SIZES = {"1k": 1_000, "85k": 85_000, "800k": 800_000}


def load_revision(name: str, rev: str) -> dict[str, types.ModuleType]:
    """The seam's modules as they are at git revision ``rev`` (each sees the others of the same revision)."""
    loaded: dict[str, types.ModuleType] = {}
    saved = {mod: sys.modules.get(mod) for mod, _ in SEAM_MODULES}
    for mod in OPTIONAL_MODULES:
        sys.modules.pop(mod, None)  # a revision without it must not see the working tree's
    try:
        for mod, path in SEAM_MODULES:
            shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True)
            if shown.returncode != 0:
                if mod in OPTIONAL_MODULES:
                    continue  # not there yet at that revision
                raise RuntimeError(f"git show {rev}:{path}: {shown.stderr.strip()}")
            src = shown.stdout
            module = types.ModuleType(f"{mod}@{name}")
            module.__file__ = f"{rev}:{path}"
            sys.modules[mod] = module  # dataclasses and the next module's imports look it up here
            sys.modules[module.__name__] = module
            exec(compile(src, module.__file__, "exec"), module.__dict__)
            loaded[mod] = module
    finally:
        for mod, previous in saved.items():
            if previous is None:
                sys.modules.pop(mod, None)
            else:
                sys.modules[mod] = previous
    return loaded


def head_revision() -> dict[str, types.ModuleType]:
    import importlib

    return {mod: importlib.import_module(mod) for mod, path in SEAM_MODULES if (REPO / path).exists()}


def trajectory_body(size: int, *, stream: bool) -> bytes:
    """A chat request of about ``size`` bytes: an agent trajectory of tool calls and results."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing test in the repo."}]
    i = 0
    while len(orjson.dumps(messages)) < size - 200:
        call = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "run", "arguments": '{"cmd":"ls"}'},
        }
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"call_{i}", "content": "src/module.py: ok\n" * 40})
        i += 1
    body: dict[str, Any] = {"model": MOCK_MODEL, "messages": messages, "max_tokens": 64}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def seam_sender(rev: dict[str, types.ModuleType], client: Any, url: str, body: bytes, stream: bool) -> Send:
    """One exchange through the revision's client and, for streams, its SSE parser and chunk reader."""
    from gateway.proxy.normalize import UsageTally

    client_mod, sse_mod, relay_mod = (
        rev[m] for m in ("gateway.backends.client", "gateway.proxy.sse", "gateway.proxy.relay")
    )
    failure = client_mod.UpstreamFailure
    headers = {"content-type": "application/json", "x-request-id": "bench"}

    async def send() -> Reply:
        try:
            resp = await client.request("POST", url, body=body, headers=headers)
        except failure as exc:
            raise ConnectionError(exc.message) from None
        try:
            if not stream:
                data = await resp.read()
                return Reply(resp.status, 0, len(data))
            parser = sse_mod.SSEParser()
            reader = relay_mod.ChunkReader(
                pool="bench", exclude=False, want_usage=True, tally=UsageTally(), counter=None
            )
            chunks = 0
            async for batch in relay_mod.read_chunks(reader, resp, parser, [], False):
                chunks += len(batch)
            return Reply(resp.status, chunks, 0)
        except failure as exc:
            raise ConnectionError(exc.message) from None
        finally:
            resp.close()

    return send


async def drive_seam(
    name: str, rev: dict[str, types.ModuleType], work: Workload, opts: Options, cpu: CpuProbe
) -> LoadResult:
    from router.policy import Timeouts

    client = rev["gateway.backends.client"].UpstreamClient(Timeouts(), work.concurrency)
    await client.start()
    try:
        return await closed_loop(
            seam_sender(rev, client, work.url, work.body, work.stream),
            f"{work.name}/{name}",
            concurrency=work.concurrency,
            total=work.total,
            warmup=opts.warmup,
            cpu=cpu,
        )
    finally:
        await client.close()


def seam_workloads(opts: Options, urls: dict[str, str]) -> tuple[Workload, ...]:
    c = opts.seam_concurrency
    mock = urls["mock"]
    return (
        Workload("1k", mock, trajectory_body(BODY_SIZES["1k"], stream=False), False, opts.seam_requests, c),
        Workload("85k", mock, trajectory_body(BODY_SIZES["85k"], stream=False), False, opts.seam_requests, c),
        Workload(
            "800k",
            mock,
            trajectory_body(BODY_SIZES["800k"], stream=False),
            False,
            opts.seam_requests // 10,
            c,
        ),
        Workload(
            "20-chunk", mock, trajectory_body(BODY_SIZES["1k"], stream=True), True, opts.seam_streams, c
        ),
        Workload("long", urls["long"], chat_body(LONG_MODEL, stream=True), True, opts.streams, c),
        Workload(
            "1k c=1", mock, trajectory_body(BODY_SIZES["1k"], stream=False), False, opts.latency_requests, 1
        ),
        Workload(
            "20-chunk c=1",
            mock,
            trajectory_body(BODY_SIZES["1k"], stream=True),
            True,
            opts.latency_requests,
            1,
        ),
    )


async def run_seam(
    opts: Options, procs: Processes, urls: dict[str, str], revs: dict[str, dict[str, types.ModuleType]]
) -> dict[str, dict[str, LoadResult]]:
    """Every seam workload through every revision, the order of revisions reversed every other round."""
    names = tuple(revs)
    report: dict[str, dict[str, LoadResult]] = {}
    for work in seam_workloads(opts, urls):
        if opts.workloads and work.name not in opts.workloads:
            continue
        parts: dict[str, list[LoadResult]] = {n: [] for n in names}
        for rnd in range(opts.rounds):
            for name in names if rnd % 2 == 0 else tuple(reversed(names)):
                parts[name].append(await drive_seam(name, revs[name], work, opts, procs.cpu))
        report[work.name] = {n: merge(f"{work.name}/{n}", parts[n]) for n in names}
    return report


def stream_reads(chunks: int, *, split: bool) -> list[bytes]:
    """The mock backend's stream of ``chunks`` chunks: in one read, or one read per event."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from mock_backend import _bodies

    _, stream = _bodies(MOCK_MODEL, chunks)
    if not split:
        return [stream]
    return [event + b"\n\n" for event in stream.split(b"\n\n") if event]


def relay_cpu_us(rev: dict[str, types.ModuleType], reads: list[bytes], iterations: int) -> float:
    """Process CPU microseconds to parse and normalise one stream with the revision's relay."""
    import asyncio

    from gateway.proxy.normalize import UsageTally

    sse_mod, relay_mod = rev["gateway.proxy.sse"], rev["gateway.proxy.relay"]

    async def one() -> None:
        parser = sse_mod.SSEParser()
        reader = relay_mod.ChunkReader(
            pool="bench", exclude=False, want_usage=True, tally=UsageTally(), counter=None
        )
        for raw in reads:
            await reader.batch(parser.feed(raw))
        if not reader.done:
            raise RuntimeError("relay did not reach [DONE]")

    async def loop() -> float:
        start = time.process_time()
        for _ in range(iterations):
            await one()
        return (time.process_time() - start) * 1e6 / iterations

    return asyncio.run(loop())


def run_relay(opts: Options, revs: dict[str, dict[str, types.ModuleType]]) -> dict[str, dict[str, float]]:
    cases = {
        "20 chunks, 1 read": stream_reads(20, split=False),
        "20 chunks, 22 reads": stream_reads(20, split=True),
    }
    names = tuple(revs)
    out: dict[str, dict[str, list[float]]] = {c: {n: [] for n in names} for c in cases}
    for rnd in range(max(2, opts.rounds)):
        for case, reads in cases.items():
            for name in names if rnd % 2 == 0 else tuple(reversed(names)):
                out[case][name].append(relay_cpu_us(revs[name], reads, opts.relay_iterations))
    return {c: {n: min(v) for n, v in by.items()} for c, by in out.items()}


def render_seam(report: dict[str, dict[str, LoadResult]], relay: dict[str, dict[str, float]]) -> str:
    head = f"{'workload':<14}{'seam':<10}{'ok':>7}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}"
    head += f"{'vs first':>10}"
    lines = [head, "-" * len(head)]
    for workload, by_rev in report.items():
        first = None
        for name, r in by_rev.items():
            cpu = r.cpu_ms_per_request("loadgen") * 1000
            first = cpu if first is None else first
            lines.append(
                f"{workload:<14}{name:<10}{r.ok:>7}{_fmt(r.rps, 1):>10}{_fmt(r.p_ms(50), 3):>9}"
                f"{_fmt(r.p_ms(99), 3):>9}{_fmt(cpu, 1):>12}{_fmt(cpu / first, 2):>10}"
            )
    lines.append("")
    lines.append(f"{'relay (in process)':<24}{'seam':<10}{'CPU us/stream':>14}{'vs first':>10}")
    for case, by_rev in relay.items():
        first = next(iter(by_rev.values()))
        for name, us in by_rev.items():
            lines.append(f"{case:<24}{name:<10}{us:>14.1f}{us / first:>10.2f}")
    errors = [
        f"{r.label}: {r.errors} ({r.first_error})" for b in report.values() for r in b.values() if r.errors
    ]
    lines.append("errors: none" if not errors else "errors: " + "; ".join(errors))
    return "\n".join(lines)


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
    payload: dict[str, Any] = {"options": {k: str(v) for k, v in asdict(opts).items()}}
    errors = False
    with tempfile.TemporaryDirectory(prefix="thinkgate-bench-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            ports = {"short": free_port(), "long": free_port(), "mock": free_port()}
            if opts.part in ("libs", "all"):
                procs.start(
                    "sim-short", sim_argv(py, ports["short"], SHORT_MODEL, answer_words=8, reasoning_words=0)
                )
            procs.start(
                "sim-long",
                sim_argv(py, ports["long"], LONG_MODEL, answer_words=opts.long_words, reasoning_words=0),
            )
            if opts.part in ("seam", "all"):
                mock = [py, str(REPO / "benchmarks" / "mock_backend.py"), "--host", HOST]
                procs.start(
                    "mock", [*mock, "--port", str(ports["mock"]), "--model", MOCK_MODEL, "--chunks", "20"]
                )
            base = {k: f"http://{HOST}:{p}" for k, p in ports.items()}
            for name, key in (("sim-short", "short"), ("sim-long", "long"), ("mock", "mock")):
                if name in procs.children:
                    procs.wait_ok(name, f"{base[key]}/health")
            urls = {k: v + "/v1/chat/completions" for k, v in base.items()}
            if opts.part in ("libs", "all"):
                report = run_async(run_all(opts, procs, urls))
                print(render_table(report, opts))
                payload["libs"] = {w: {c: r.summary() for c, r in b.items()} for w, b in report.items()}
                errors |= any(r.errors for b in report.values() for r in b.values())
            if opts.part in ("seam", "all"):
                revs = {name: load_revision(name, rev) for name, rev in opts.revs}
                revs["head"] = head_revision()
                seam = run_async(run_seam(opts, procs, urls, revs))
                relay = run_relay(opts, revs)
                print(render_seam(seam, relay))
                print("revisions: " + ", ".join(f"{n}={r}" for n, r in opts.revs) + ", head=working tree")
                payload["seam"] = {w: {c: r.summary() for c, r in b.items()} for w, b in seam.items()}
                payload["relay_cpu_us"] = relay
                errors |= any(r.errors for b in seam.values() for r in b.values())
        finally:
            procs.close()
    print(f"\nmachine: {os.cpu_count()} cores, load avg {os.getloadavg()}")
    print(f"versions: aiohttp {_version('aiohttp')}, httpx {httpx.__version__}")
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {opts.json_path}")
    return 1 if errors else 0


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module)


if __name__ == "__main__":
    raise SystemExit(main())
