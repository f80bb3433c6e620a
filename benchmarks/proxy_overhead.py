"""Proxy-overhead benchmark: what the gateway adds on top of a backend that answers instantly.

Three separate processes: two near-zero-latency simulators (short answers, long answers), the gateway
(``thinkgate serve``, one uvicorn worker) in front of both, and this process as the load generator. All
share the machine's cores, so the numbers are for "everything on one box".

Measured, direct-to-simulator vs through the gateway, for an instruct request (explicit
``reasoning_effort: none``) and a thinking request (``reasoning_effort: high``):

* saturation: closed loop, ``--concurrency`` workers, non-stream requests/s;
* latency at half load: open loop at a fixed rate = ``--load-fraction`` x the gateway's saturation rate,
  the same rate for both paths, alternating direct/gateway windows (``--rounds``);
* streaming: closed loop with long answers, SSE events/s received by the client.

With ``--baseline DIR`` (a checkout of another commit with its own ``.venv``, e.g. from ``git worktree add``
and ``uv sync``) a second gateway from that checkout runs in front of the same simulators and every
measurement is taken for it too, in the same run, windows alternating: the before/after of a change.

Run: ``.venv/bin/python benchmarks/proxy_overhead.py [--baseline DIR] [--json out.json]`` (about 2 minutes by
default, 3 with a baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
SHORT_MODEL = "sim-short"
LONG_MODEL = "sim-long"
PROMPT = [{"role": "user", "content": "In one sentence, why does a proxy reuse upstream connections?"}]
#: The issue's targets for one worker at half load (milliseconds added by the gateway).
TARGET_P50_MS = 1.0
TARGET_P99_MS = 5.0
#: What the gateway renders upstream for ``reasoning_effort: high`` with the policy below.
HIGH_BUDGET = 16384

POLICY = """\
version: 1
backends:
  short:
    family: qwen3
    mode: hybrid
    model: {short_model}
    endpoints: [{short_url}]
  long:
    family: qwen3
    mode: hybrid
    model: {long_model}
    endpoints: [{long_url}]
models:
  fast:
    effort: none
    instruct: [short]
budgets: {{minimal: 512, low: 1024, medium: 4096, high: {high}}}
classifier: {{on_error: high}}
state: {{redis_url: null}}
"""


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line options."""

    duration: float
    latency_duration: float
    stream_duration: float
    warmup: float
    concurrency: int
    stream_concurrency: int
    load_fraction: float
    rounds: int
    short_words: int
    long_words: int
    json_path: Path | None
    skip_thinking: bool
    baseline: Path | None


@dataclass(frozen=True, slots=True)
class Scenario:
    """One request shape, as the client sends it directly and as it sends it to the gateway.

    The direct body is what the gateway renders upstream for the gateway body, so the simulator does the
    same work on both paths.
    """

    name: str
    direct: bytes
    gateway: bytes
    stream: bool


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=6.0, help="seconds per saturation window (default 6)")
    p.add_argument(
        "--latency-duration", type=float, default=5.0, help="seconds per latency window and round (default 5)"
    )
    p.add_argument("--stream-duration", type=float, default=6.0, help="seconds per streaming window")
    p.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before each window")
    p.add_argument("--concurrency", type=int, default=16, help="closed-loop workers at saturation")
    p.add_argument("--stream-concurrency", type=int, default=8, help="closed-loop workers for streams")
    p.add_argument("--load-fraction", type=float, default=0.5, help="latency load / gateway saturation")
    p.add_argument("--rounds", type=int, default=2, help="alternating direct/gateway latency windows")
    p.add_argument("--short-words", type=int, default=8, help="answer words of the short simulator")
    p.add_argument("--long-words", type=int, default=400, help="answer words of the long (stream) simulator")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.add_argument("--skip-thinking", action="store_true", help="only the instruct scenario")
    p.add_argument("--baseline", type=Path, default=None, help="checkout (with .venv) to compare against")
    ns = p.parse_args(argv)
    if ns.duration <= 0 or ns.latency_duration <= 0 or ns.stream_duration <= 0 or ns.warmup < 0:
        p.error("durations must be positive (warm-up may be 0)")
    if ns.concurrency < 1 or ns.stream_concurrency < 1 or ns.rounds < 1:
        p.error("concurrency and rounds must be at least 1")
    if not 0 < ns.load_fraction <= 1:
        p.error("--load-fraction must be in (0, 1]")
    return Options(
        duration=ns.duration,
        latency_duration=ns.latency_duration,
        stream_duration=ns.stream_duration,
        warmup=ns.warmup,
        concurrency=ns.concurrency,
        stream_concurrency=ns.stream_concurrency,
        load_fraction=ns.load_fraction,
        rounds=ns.rounds,
        short_words=ns.short_words,
        long_words=ns.long_words,
        json_path=ns.json,
        skip_thinking=ns.skip_thinking,
        baseline=ns.baseline,
    )


def build_scenarios() -> dict[str, Scenario]:
    """Instruct and thinking (non-stream, short answers) and a long instruct stream."""
    base: dict[str, Any] = {"messages": PROMPT, "max_tokens": 256}
    off = {"chat_template_kwargs": {"enable_thinking": False}}
    on = {"chat_template_kwargs": {"enable_thinking": True}, "thinking_token_budget": HIGH_BUDGET}
    stream = {"stream": True}
    # The gateway always asks upstream for usage (it counts tokens); the direct client asks too, so the
    # simulator's work is equal. The gateway then drops that usage event for a client that did not ask.
    usage = {"stream_options": {"include_usage": True}}

    def body(model: str, *parts: dict[str, Any]) -> bytes:
        out: dict[str, Any] = {"model": model, **base}
        for part in parts:
            out.update(part)
        return orjson.dumps(out)

    none, high = {"reasoning_effort": "none"}, {"reasoning_effort": "high"}
    long_base = {"max_tokens": 2048}
    return {
        "instruct": Scenario("instruct", body(SHORT_MODEL, off), body(SHORT_MODEL, none), stream=False),
        "thinking": Scenario("thinking", body(SHORT_MODEL, on), body(SHORT_MODEL, high), stream=False),
        "stream": Scenario(
            "stream",
            body(LONG_MODEL, long_base, off, stream, usage),
            body(LONG_MODEL, long_base, none, stream),
            stream=True,
        ),
    }


# ---- the measurements ------------------------------------------------------------------------------


async def saturation(
    opts: Options, procs: Processes, url: str, body: bytes, label: str, *, stream: bool
) -> LoadResult:
    return await saturate(
        url,
        body,
        label,
        stream=stream,
        concurrency=opts.stream_concurrency if stream else opts.concurrency,
        duration=opts.stream_duration if stream else opts.duration,
        warmup=opts.warmup,
        cpu=procs.cpu,
    )


def gateways(urls: dict[str, str]) -> list[str]:
    """The gateway paths measured: ``gateway``, and ``baseline`` when one runs."""
    return [p for p in ("gateway", "baseline") if p in urls]


async def latency_windows(
    opts: Options, procs: Processes, urls: dict[str, str], scenario: Scenario, rate: float
) -> dict[str, LoadResult]:
    """Open loop at ``rate`` against every path, alternating windows so background noise hits all."""
    paths = ["direct", *gateways(urls)]
    parts: dict[str, list[LoadResult]] = {p: [] for p in paths}
    async with aiohttp_session(256) as session:
        for _ in range(opts.rounds):
            for path in paths:
                body = scenario.direct if path == "direct" else scenario.gateway
                parts[path].append(
                    await open_loop(
                        aiohttp_sender(session, urls[path], body, stream=False),
                        f"{scenario.name}/{path}/latency",
                        rate=rate,
                        duration=opts.latency_duration,
                        warmup=opts.warmup,
                        cpu=procs.cpu,
                    )
                )
    return {p: merge(f"{scenario.name}/{p}/latency", parts[p]) for p in paths}


async def run_all(opts: Options, procs: Processes, urls: dict[str, str]) -> dict[str, Any]:
    """Every measurement; returns the JSON-ready report."""
    scenarios = build_scenarios()
    report: dict[str, Any] = {}
    names = ["instruct"] if opts.skip_thinking else ["instruct", "thinking"]
    for name in names:
        sc = scenarios[name]
        sat = {
            "direct": await saturation(
                opts, procs, urls["direct"], sc.direct, f"{name}/direct/sat", stream=False
            )
        }
        for gw in gateways(urls):
            sat[gw] = await saturation(opts, procs, urls[gw], sc.gateway, f"{name}/{gw}/sat", stream=False)
        rate = max(1.0, round(opts.load_fraction * min(sat[gw].rps for gw in gateways(urls))))
        report[name] = {
            "saturation": sat,
            "latency": {"rate": rate, **await latency_windows(opts, procs, urls, sc, rate)},
        }
    sc = scenarios["stream"]
    streams = {
        "direct": await saturation(opts, procs, urls["direct_long"], sc.direct, "stream/direct", stream=True)
    }
    for gw in gateways(urls):
        streams[gw] = await saturation(opts, procs, urls[gw], sc.gateway, f"stream/{gw}", stream=True)
    report["stream"] = {"saturation": streams}
    return report


# ---- output ----------------------------------------------------------------------------------------


def _row(cells: Sequence[str]) -> str:
    widths = (10, 40, 12, 12, 12, 10)
    return "  ".join(
        c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _compare(scenario: str, what: str, direct: float, gateway: float, digits: int = 1) -> str:
    diff = gateway - direct
    ratio = gateway / direct if abs(direct) >= 0.01 else float("nan")
    sign = "+" if diff >= 0 else ""
    return _row(
        [
            scenario,
            what,
            fmt(direct, digits),
            fmt(gateway, digits),
            sign + fmt(diff, digits),
            fmt(ratio, 2),
        ]
    )


def render_table(report: dict[str, Any], opts: Options) -> str:
    """The human-readable summary (a fixed-width table plus the target verdicts)."""
    lines = [_row(["scenario", "measure", "direct", "gateway", "gw-direct", "gw/direct"]), "-" * 108]
    for name in ("instruct", "thinking"):
        if name not in report:
            continue
        sat_d: LoadResult = report[name]["saturation"]["direct"]
        sat_g: LoadResult = report[name]["saturation"]["gateway"]
        lat = report[name]["latency"]
        lat_d: LoadResult = lat["direct"]
        lat_g: LoadResult = lat["gateway"]
        lines.append(_compare(name, f"saturation req/s (closed, c={opts.concurrency})", sat_d.rps, sat_g.rps))
        lines.append(_compare(name, "  sat. p50 ms", sat_d.p_ms(50), sat_g.p_ms(50), 2))
        for proc in ("sim-short", "gateway", "loadgen"):
            lines.append(
                _compare(
                    name,
                    f"  CPU ms/req in {proc}",
                    sat_d.cpu_ms_per_request(proc),
                    sat_g.cpu_ms_per_request(proc),
                    3,
                )
            )
        where = f"@ {lat['rate']:.0f} req/s open"
        for q in (50, 90, 99):
            lines.append(_compare(name, f"latency p{q} ms {where}", lat_d.p_ms(q), lat_g.p_ms(q), 3))
        lines.append(_compare(name, "  achieved req/s", lat_d.rps, lat_g.rps))
    if "stream" in report:
        st_d: LoadResult = report["stream"]["saturation"]["direct"]
        st_g: LoadResult = report["stream"]["saturation"]["gateway"]
        c = opts.stream_concurrency
        lines.append(
            _compare("stream", f"SSE events/s (closed, c={c})", st_d.events_per_s, st_g.events_per_s)
        )
        lines.append(_compare("stream", "  streams/s", st_d.rps, st_g.rps))
        lines.append(
            _compare(
                "stream", "  events per stream", st_d.events / max(1, st_d.ok), st_g.events / max(1, st_g.ok)
            )
        )
        for proc in ("sim-long", "gateway"):
            lines.append(
                _compare(
                    "stream",
                    f"  CPU ms/stream in {proc}",
                    st_d.cpu_ms_per_request(proc),
                    st_g.cpu_ms_per_request(proc),
                    3,
                )
            )
    lines.append("")
    for name in ("instruct", "thinking"):
        if name not in report:
            continue
        lat = report[name]["latency"]
        added50 = lat["gateway"].p_ms(50) - lat["direct"].p_ms(50)
        added99 = lat["gateway"].p_ms(99) - lat["direct"].p_ms(99)
        ok50 = "MET" if added50 <= TARGET_P50_MS else "MISSED"
        ok99 = "MET" if added99 <= TARGET_P99_MS else "MISSED"
        lines.append(
            f"{name}: added p50 {added50:.3f} ms (target <= {TARGET_P50_MS:g}: {ok50}), "
            f"added p99 {added99:.3f} ms (target <= {TARGET_P99_MS:g}: {ok99})"
        )
    if "baseline" in report.get("stream", {}).get("saturation", {}):
        lines += [
            "",
            "before/after: baseline (--baseline) vs this checkout, same run",
            *baseline_table(report, opts),
        ]
    errors = report_errors(report)
    lines.append("errors: none" if not errors else "errors: " + "; ".join(errors))
    return "\n".join(lines)


def baseline_table(report: dict[str, Any], opts: Options) -> list[str]:
    """The same measures for the baseline gateway and this one (``after`` = this checkout)."""
    lines = [_row(["scenario", "measure", "baseline", "after", "after-base", "after/base"]), "-" * 108]
    for name in ("instruct", "thinking"):
        if name not in report:
            continue
        sat, lat = report[name]["saturation"], report[name]["latency"]
        lines.append(
            _compare(
                name,
                f"saturation req/s (closed, c={opts.concurrency})",
                sat["baseline"].rps,
                sat["gateway"].rps,
            )
        )
        lines.append(
            _compare(
                name,
                "  CPU ms/req in the gateway",
                sat["baseline"].cpu_ms_per_request("baseline"),
                sat["gateway"].cpu_ms_per_request("gateway"),
                3,
            )
        )
        for q in (50, 90, 99):
            direct = lat["direct"].p_ms(q)
            lines.append(
                _compare(
                    name,
                    f"added latency p{q} ms @ {lat['rate']:.0f} req/s",
                    lat["baseline"].p_ms(q) - direct,
                    lat["gateway"].p_ms(q) - direct,
                    3,
                )
            )
    st = report["stream"]["saturation"]
    lines.append(_compare("stream", "SSE events/s", st["baseline"].events_per_s, st["gateway"].events_per_s))
    lines.append(
        _compare(
            "stream",
            "  CPU ms/stream in the gateway",
            st["baseline"].cpu_ms_per_request("baseline"),
            st["gateway"].cpu_ms_per_request("gateway"),
            3,
        )
    )
    return lines


# ---- processes -------------------------------------------------------------------------------------


def start_servers(opts: Options, procs: Processes, work: Path) -> dict[str, str]:
    """Start both simulators, then the gateway in front of them; return the URLs once all are ready."""
    short_url = start_sim(procs, "sim-short", SHORT_MODEL, answer_words=opts.short_words, reasoning_words=16)
    long_url = start_sim(procs, "sim-long", LONG_MODEL, answer_words=opts.long_words, reasoning_words=0)
    policy = work / "policy.yaml"
    policy.write_text(
        POLICY.format(
            short_model=SHORT_MODEL,
            long_model=LONG_MODEL,
            short_url=short_url,
            long_url=long_url,
            high=HIGH_BUDGET,
        )
    )
    urls = {"direct": short_url, "gateway": start_gateway(procs, "gateway", policy), "direct_long": long_url}
    if opts.baseline is not None:
        base = opts.baseline.resolve()
        python = str(base / ".venv/bin/python")
        urls["baseline"] = start_gateway(procs, "baseline", policy, python=python, cwd=base)
    return urls


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "cpu": model, "loadavg_before": os.getloadavg()}


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    info = machine()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="thinkgate-bench-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            urls = start_servers(opts, procs, Path(tmp))
            chat = {k: v + "/v1/chat/completions" for k, v in urls.items()}
            report = run_async(run_all(opts, procs, chat))
        finally:
            procs.close()
    info["elapsed_s"] = round(time.monotonic() - started, 1)
    print(render_table(report, opts))
    print(f"\nmachine: {info['nproc']} cores, {info['cpu']}, load avg before {info['loadavg_before']}")
    print(f"elapsed: {info['elapsed_s']} s")
    if opts.json_path is not None:
        payload = {"machine": info, "options": {k: str(v) for k, v in asdict(opts).items()}}
        payload["results"] = to_json(report)
        opts.json_path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {opts.json_path}")
    return 1 if report_errors(report) else 0


if __name__ == "__main__":
    raise SystemExit(main())
