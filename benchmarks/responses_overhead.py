"""What the Responses front door costs over chat completions for the same work.

Processes: a near-zero-latency simulator with short answers (16 reasoning words + 8 answer words), one
with long answers (400 words, for streams), the gateway (``thinkgate serve``, one worker) in front of both,
and this process as the load generator. The same prompt, effort and token limit go to
``/v1/chat/completions`` and to ``/v1/responses`` (``store`` left at its default, true: every response is
kept in the in-memory store), so the backend does the same work on both paths.

Measured, per scenario (instruct: ``effort none``; thinking: ``effort high``):

* saturation (closed loop, ``--concurrency`` workers): requests/s and gateway CPU ms per request;
* latency at a fixed open-loop rate (``--load-fraction`` x the chat saturation rate), windows alternating
  direct (simulator) / chat / responses (``--rounds``): p50/p90/p99 and the latency each path adds over the
  direct call;
* streaming (closed loop, long answers): SSE events/s and gateway CPU ms per stream, chat vs responses (a
  Responses stream sends one typed event per delta plus the item lifecycle events).

Target (issue 13): added latency and CPU per request of /v1/responses within 15 % of chat completions.

Run: ``.venv/bin/python benchmarks/responses_overhead.py [--json out.json]`` (about 2 minutes by default).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from loadgen import (
    LoadResult,
    Processes,
    aiohttp_sender,
    aiohttp_session,
    fmt,
    merge,
    open_loop,
    report_errors,
    run_async,
    saturate,
    start_gateway,
    start_sim,
    to_json,
)

REPO = Path(__file__).resolve().parent.parent
SHORT, LONG = "sim-short", "sim-long"
QUESTION = "In one sentence, why does a proxy reuse upstream connections?"
TARGET_RATIO = 1.15
POLICY = """\
version: 1
backends:
  short: {{family: qwen3, mode: hybrid, model: {short}, endpoints: [{short_url}]}}
  long: {{family: qwen3, mode: hybrid, model: {long}, endpoints: [{long_url}]}}
budgets: {{minimal: 512, low: 1024, medium: 4096, high: 16384}}
state: {{redis_url: null}}
"""
PATHS = ("direct", "chat", "responses")


@dataclass(frozen=True, slots=True)
class Options:
    duration: float
    latency_duration: float
    warmup: float
    concurrency: int
    stream_concurrency: int
    load_fraction: float
    rounds: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per saturation / stream window")
    p.add_argument("--latency-duration", type=float, default=4.0, help="seconds per latency window and round")
    p.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before each window")
    p.add_argument("--concurrency", type=int, default=16, help="closed-loop workers at saturation")
    p.add_argument("--stream-concurrency", type=int, default=8, help="closed-loop workers for streams")
    p.add_argument("--load-fraction", type=float, default=0.5, help="latency load / chat saturation")
    p.add_argument("--rounds", type=int, default=3, help="alternating latency windows per path")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    ns = p.parse_args(argv)
    if min(ns.duration, ns.latency_duration) <= 0 or ns.warmup < 0 or ns.rounds < 1:
        p.error("durations must be positive, rounds at least 1")
    return Options(
        ns.duration,
        ns.latency_duration,
        ns.warmup,
        ns.concurrency,
        ns.stream_concurrency,
        ns.load_fraction,
        ns.rounds,
        ns.json,
    )


def bodies(model: str, effort: str, *, stream: bool, limit: int) -> dict[str, bytes]:
    """The same request three ways: rendered for the simulator (direct), chat, responses."""
    thinking = effort != "none"
    direct: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_completion_tokens": limit,
        "chat_template_kwargs": {"enable_thinking": thinking},
    }
    if thinking:
        direct["thinking_token_budget"] = 16384
    chat: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_completion_tokens": limit,
        "reasoning_effort": effort,
    }
    responses: dict[str, Any] = {
        "model": model,
        "input": QUESTION,
        "max_output_tokens": limit,
        "reasoning": {"effort": effort},
    }
    if stream:
        for body in (direct, chat, responses):
            body["stream"] = True
        direct["stream_options"] = {"include_usage": True}  # what the gateway asks upstream on both paths
    return {"direct": orjson.dumps(direct), "chat": orjson.dumps(chat), "responses": orjson.dumps(responses)}


async def saturation(
    opts: Options, procs: Processes, url: str, body: bytes, label: str, stream: bool
) -> LoadResult:
    return await saturate(
        url,
        body,
        label,
        stream=stream,
        concurrency=opts.stream_concurrency if stream else opts.concurrency,
        duration=opts.duration,
        warmup=opts.warmup,
        cpu=procs.cpu,
    )


async def latency(
    opts: Options, procs: Processes, urls: dict[str, str], body: dict[str, bytes], name: str, rate: float
) -> dict[str, LoadResult]:
    parts: dict[str, list[LoadResult]] = {path: [] for path in PATHS}
    async with aiohttp_session(256) as session:
        for _ in range(opts.rounds):
            for path in PATHS:
                parts[path].append(
                    await open_loop(
                        aiohttp_sender(session, urls[path], body[path], stream=False),
                        f"{name}/{path}/latency",
                        rate=rate,
                        duration=opts.latency_duration,
                        warmup=opts.warmup,
                        cpu=procs.cpu,
                    )
                )
    return {path: merge(f"{name}/{path}/latency", parts[path]) for path in PATHS}


async def run_all(opts: Options, procs: Processes, urls: dict[str, dict[str, str]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, effort in (("instruct", "none"), ("thinking", "high")):
        body = bodies(SHORT, effort, stream=False, limit=256)
        sat = {
            path: await saturation(opts, procs, urls["short"][path], body[path], f"{name}/{path}/sat", False)
            for path in ("chat", "responses")
        }
        rate = max(1.0, round(opts.load_fraction * sat["chat"].rps))
        report[name] = {
            "saturation": sat,
            "rate": rate,
            "latency": await latency(opts, procs, urls["short"], body, name, rate),
        }
    body = bodies(LONG, "none", stream=True, limit=2048)
    report["stream"] = {
        path: await saturation(opts, procs, urls["long"][path], body[path], f"stream/{path}", True)
        for path in ("chat", "responses")
    }
    return report


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def render(report: dict[str, Any], opts: Options) -> str:
    lines = [f"{'scenario':10}  {'measure':42}  {'chat':>10}  {'responses':>10}  {'resp/chat':>9}", "-" * 90]

    def row(scenario: str, what: str, chat: float, resp: float, digits: int = 2) -> None:
        lines.append(
            f"{scenario:10}  {what:42}  {fmt(chat, digits):>10}  {fmt(resp, digits):>10}  "
            f"{fmt(_ratio(resp, chat)):>9}"
        )

    for name in ("instruct", "thinking"):
        section = report[name]
        sat: dict[str, LoadResult] = section["saturation"]
        lat: dict[str, LoadResult] = section["latency"]
        row(
            name, f"saturation req/s (closed, c={opts.concurrency})", sat["chat"].rps, sat["responses"].rps, 1
        )
        row(
            name,
            "  gateway CPU ms/req at saturation",
            sat["chat"].cpu_ms_per_request("gateway"),
            sat["responses"].cpu_ms_per_request("gateway"),
            3,
        )
        row(
            name,
            f"  gateway CPU ms/req @ {section['rate']:.0f} req/s",
            lat["chat"].cpu_ms_per_request("gateway"),
            lat["responses"].cpu_ms_per_request("gateway"),
            3,
        )
        for q in (50, 90, 99):
            row(
                name,
                f"latency p{q} ms @ {section['rate']:.0f} req/s",
                lat["chat"].p_ms(q),
                lat["responses"].p_ms(q),
                3,
            )
            direct = lat["direct"].p_ms(q)
            row(
                name,
                f"  added over direct p{q} ms (direct {direct:.3f})",
                lat["chat"].p_ms(q) - direct,
                lat["responses"].p_ms(q) - direct,
                3,
            )
    st: dict[str, LoadResult] = report["stream"]
    row(
        "stream",
        f"SSE events/s (closed, c={opts.stream_concurrency})",
        st["chat"].events_per_s,
        st["responses"].events_per_s,
        0,
    )
    row("stream", "  streams/s", st["chat"].rps, st["responses"].rps, 1)
    row(
        "stream",
        "  events per stream",
        st["chat"].events / max(1, st["chat"].ok),
        st["responses"].events / max(1, st["responses"].ok),
        1,
    )
    row(
        "stream",
        "  gateway CPU ms/stream",
        st["chat"].cpu_ms_per_request("gateway"),
        st["responses"].cpu_ms_per_request("gateway"),
        3,
    )
    lines.append("")
    for name in ("instruct", "thinking"):
        lat = report[name]["latency"]
        cpu = _ratio(
            lat["responses"].cpu_ms_per_request("gateway"), lat["chat"].cpu_ms_per_request("gateway")
        )
        added = _ratio(
            lat["responses"].p_ms(50) - lat["direct"].p_ms(50), lat["chat"].p_ms(50) - lat["direct"].p_ms(50)
        )
        verdict = "MET" if cpu <= TARGET_RATIO and added <= TARGET_RATIO else "MISSED"
        lines.append(
            f"{name}: responses/chat gateway CPU per request {cpu:.2f}, added p50 latency {added:.2f} "
            f"(target <= {TARGET_RATIO:.2f}: {verdict})"
        )
    errors = report_errors(report)
    lines.append("errors: none" if not errors else "errors: " + "; ".join(errors))
    return "\n".join(lines)


def start(procs: Processes, work: Path) -> dict[str, dict[str, str]]:
    short_url = start_sim(procs, "sim-short", SHORT, answer_words=8, reasoning_words=16)
    long_url = start_sim(procs, "sim-long", LONG, answer_words=400, reasoning_words=0)
    policy = work / "policy.yaml"
    policy.write_text(POLICY.format(short=SHORT, long=LONG, short_url=short_url, long_url=long_url))
    gateway = start_gateway(procs, "gateway", policy)
    paths = {"chat": gateway + "/v1/chat/completions", "responses": gateway + "/v1/responses"}
    return {
        "short": {"direct": short_url + "/v1/chat/completions", **paths},
        "long": {"direct": long_url + "/v1/chat/completions", **paths},
    }


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    load_before = os.getloadavg()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="thinkgate-bench-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            urls = start(procs, Path(tmp))
            report = run_async(run_all(opts, procs, urls))
        finally:
            procs.close()
    print(render(report, opts))
    elapsed = time.monotonic() - began
    print(f"\nmachine: {os.cpu_count()} cores, load avg before {load_before}; elapsed {elapsed:.0f} s")
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps({"results": to_json(report)}, indent=2) + "\n")
    return 1 if report_errors(report) else 0


if __name__ == "__main__":
    raise SystemExit(main())
