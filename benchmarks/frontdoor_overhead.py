"""Front-door overhead: the same work through ``/v1/chat/completions`` and through another front door.

Each front door parses its own API into the one pipeline's internal chat request and writes the result in its
own shape; this measures what that translation costs. Three processes as in ``proxy_overhead.py``: a
near-zero-latency simulator (short answers; a second one with long answers for streams), the gateway
(``thinkgate serve``, one worker) and this load generator. For each scenario the request bodies ask for the
same upstream work (the gateway renders the same vLLM body), e.g. chat ``reasoning_effort: high`` and
Messages ``output_config: {effort: high}``.

Measured per front door:

* CPU per request of the gateway process (closed loop at saturation, ``--concurrency`` workers), and
  requests/s;
* latency at a fixed open-loop rate (``--load-fraction`` x chat's saturation rate, the same for every door and
  for the simulator alone), alternating windows (``--rounds``), so the gateway's added latency per door is
  ``door p50 - direct p50``;
* streams: SSE events/s the client receives and gateway CPU per stream (long answers).

Run: ``.venv/bin/python benchmarks/frontdoor_overhead.py [--doors chat,messages,responses] [--json out.json]``
(it replaces ``responses_overhead.py``, which measured the Responses door alone the same way).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
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
#: What a front door may add in CPU and latency over chat completions for the same work (issue 13).
TARGET_RATIO = 1.15

POLICY = """\
version: 1
backends:
  short: {{family: qwen3, mode: hybrid, model: {short}, endpoints: [{short_url}], budget: native}}
  long: {{family: qwen3, mode: hybrid, model: {long}, endpoints: [{long_url}], budget: native}}
models: {{}}
"""

Body = Callable[[str, str, bool], dict[str, Any]]


def chat_body(model: str, effort: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 2048 if stream else 256,
        "reasoning_effort": effort,
    }
    if stream:
        body["stream"] = True
    return body


def messages_body(model: str, effort: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 2048 if stream else 256,
    }
    if effort == "none":
        body["thinking"] = {"type": "disabled"}
    else:
        body["output_config"] = {"effort": effort}
    if stream:
        body["stream"] = True
    return body


def responses_body(model: str, effort: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "input": QUESTION,
        "max_output_tokens": 2048 if stream else 256,
        "reasoning": {"effort": effort},
    }  # ``store`` left at its default (true): every response is kept in the in-memory store
    if stream:
        body["stream"] = True
    return body


#: front door -> (path, body builder). Another door registers its own entry here.
DOORS: dict[str, tuple[str, Body]] = {
    "chat": ("/v1/chat/completions", chat_body),
    "messages": ("/v1/messages", messages_body),
    "responses": ("/v1/responses", responses_body),
}


@dataclass(frozen=True)
class Options:
    doors: tuple[str, ...]
    duration: float
    latency_duration: float
    warmup: float
    concurrency: int
    stream_concurrency: int
    load_fraction: float
    rounds: int
    long_words: int
    json_path: Path | None


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--doors", default="chat,messages", help=f"comma-separated, from {', '.join(DOORS)}")
    p.add_argument("--duration", type=float, default=6.0, help="seconds per saturation window")
    p.add_argument("--latency-duration", type=float, default=6.0, help="seconds per latency window")
    p.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before each window")
    p.add_argument("--concurrency", type=int, default=16, help="closed-loop workers")
    p.add_argument("--stream-concurrency", type=int, default=8, help="closed-loop workers for streams")
    p.add_argument("--load-fraction", type=float, default=0.5, help="latency rate / chat saturation rate")
    p.add_argument("--rounds", type=int, default=2, help="alternating latency windows per door")
    p.add_argument("--long-words", type=int, default=400, help="answer words of the streaming simulator")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    ns = p.parse_args(argv)
    doors = tuple(d.strip() for d in ns.doors.split(",") if d.strip())
    unknown = [d for d in doors if d not in DOORS]
    if unknown or "chat" not in doors:
        p.error(f"--doors must include chat and name known doors ({', '.join(DOORS)}); got {ns.doors}")
    return Options(
        doors=doors,
        duration=ns.duration,
        latency_duration=ns.latency_duration,
        warmup=ns.warmup,
        concurrency=ns.concurrency,
        stream_concurrency=ns.stream_concurrency,
        load_fraction=ns.load_fraction,
        rounds=ns.rounds,
        long_words=ns.long_words,
        json_path=ns.json,
    )


def _direct_body(effort: str, stream: bool) -> bytes:
    """What the gateway sends upstream for ``effort``, sent straight to the simulator (the baseline)."""
    body = chat_body(LONG if stream else SHORT, "none", stream)
    del body["reasoning_effort"]
    body["chat_template_kwargs"] = {"enable_thinking": effort != "none"}
    if effort != "none":
        body["thinking_token_budget"] = 16384
    if stream:
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


async def measure(opts: Options, procs: Processes, urls: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    gateway = urls["gateway"]
    for effort in ("none", "high"):
        scenario = "instruct" if effort == "none" else "thinking"
        sat: dict[str, LoadResult] = {}
        for door in opts.doors:
            path, build = DOORS[door]
            sat[door] = await saturate(
                gateway + path,
                orjson.dumps(build(SHORT, effort, False)),
                f"{scenario}/{door}/sat",
                stream=False,
                concurrency=opts.concurrency,
                duration=opts.duration,
                warmup=opts.warmup,
                cpu=procs.cpu,
            )
        rate = max(1.0, round(opts.load_fraction * sat["chat"].rps))
        parts: dict[str, list[LoadResult]] = {name: [] for name in ("direct", *opts.doors)}
        async with aiohttp_session(256) as session:
            for _ in range(opts.rounds):
                for name in parts:
                    if name == "direct":
                        url, body = urls["short"] + "/v1/chat/completions", _direct_body(effort, False)
                    else:
                        path, build = DOORS[name]
                        url, body = gateway + path, orjson.dumps(build(SHORT, effort, False))
                    parts[name].append(
                        await open_loop(
                            aiohttp_sender(session, url, body, stream=False),
                            f"{scenario}/{name}/latency",
                            rate=rate,
                            duration=opts.latency_duration,
                            warmup=opts.warmup,
                            cpu=procs.cpu,
                        )
                    )
        latency = {name: merge(f"{scenario}/{name}/latency", p) for name, p in parts.items()}
        report[scenario] = {"saturation": sat, "latency": {"rate": rate, **latency}}
    streams: dict[str, LoadResult] = {}
    for door in opts.doors:
        path, build = DOORS[door]
        streams[door] = await saturate(
            gateway + path,
            orjson.dumps(build(LONG, "none", True)),
            f"stream/{door}",
            stream=True,
            concurrency=opts.stream_concurrency,
            duration=opts.duration,
            warmup=opts.warmup,
            cpu=procs.cpu,
        )
    report["stream"] = streams
    return report


def render(report: dict[str, Any], opts: Options) -> str:
    lines = []
    others = [d for d in opts.doors if d != "chat"]
    for scenario in ("instruct", "thinking"):
        sat, lat = report[scenario]["saturation"], report[scenario]["latency"]
        direct = lat["direct"]
        lines.append(f"== {scenario} (non-stream; latency at {lat['rate']:.0f} req/s open loop)")
        head = ("door", "req/s", "cpu ms/req", "p50 ms", "p99 ms", "added p50", "errors")
        widths = (10, 8, 11, 8, 8, 10, 7)
        lines.append(" ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True)))
        base = ("direct", "", "", fmt(direct.p_ms(50)), fmt(direct.p_ms(99)), "", str(direct.errors))
        lines.append(" ".join(f"{h:>{w}}" for h, w in zip(base, widths, strict=True)))
        for door in opts.doors:
            s, r = sat[door], lat[door]
            added = r.p_ms(50) - direct.p_ms(50)
            cpu_ms = fmt(s.cpu_ms_per_request("gateway"), 3)
            lines.append(
                f"{door:>10} {s.rps:>8.0f} {cpu_ms:>11} {fmt(r.p_ms(50)):>8} "
                f"{fmt(r.p_ms(99)):>8} {fmt(added, 3):>10} {s.errors + r.errors:>7}"
            )
        for door in others:
            cpu = sat[door].cpu_ms_per_request("gateway") / sat["chat"].cpu_ms_per_request("gateway")
            added_chat = lat["chat"].p_ms(50) - direct.p_ms(50)
            added_door = lat[door].p_ms(50) - direct.p_ms(50)
            p50 = lat[door].p_ms(50) / lat["chat"].p_ms(50)
            lines.append(
                f"   {door}/chat: cpu per request x{fmt(cpu, 3)}, p50 x{fmt(p50, 3)}, "
                f"added p50 {fmt(added_door, 3)} vs {fmt(added_chat, 3)} ms (target <= x{TARGET_RATIO})"
            )
    lines.append("== stream (long answers, closed loop)")
    lines.append(f"{'door':>10} {'streams/s':>10} {'events/s':>10} {'cpu ms/stream':>14} {'errors':>7}")
    for door in opts.doors:
        s = report["stream"][door]
        cpu_stream = fmt(s.cpu_ms_per_request("gateway"), 3)
        lines.append(f"{door:>10} {s.rps:>10.1f} {s.events_per_s:>10.0f} {cpu_stream:>14} {s.errors:>7}")
    return "\n".join(lines)


def start(opts: Options, procs: Processes, work: Path) -> dict[str, str]:
    urls = {
        "short": start_sim(procs, "sim-short", SHORT, answer_words=8, reasoning_words=16),
        "long": start_sim(procs, "sim-long", LONG, answer_words=opts.long_words, reasoning_words=0),
    }
    policy = work / "policy.yaml"
    policy.write_text(POLICY.format(short=SHORT, long=LONG, short_url=urls["short"], long_url=urls["long"]))
    urls["gateway"] = start_gateway(procs, "gateway", policy)
    return urls


def in_process() -> str:
    """The front doors' own work per request, without sockets (``timeit``, best of 7): parsing the client's
    body into the internal request, and writing a non-streamed answer and a 400-word stream."""
    import timeit

    from gateway.anthropic.signature import ThinkingSigner
    from gateway.api.chat import parse_chat
    from gateway.api.messages import MessagesDoor

    door = MessagesDoor(ThinkingSigner(b"benchmark-secret-0123456789"), "drop", False, "rid")
    reasoning, answer = " ".join(["think"] * 16), " ".join(["word"] * 8)
    result = {
        "choices": [{"message": {"content": answer, "reasoning": reasoning}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 30,
            "completion_tokens_details": {"reasoning_tokens": 18},
        },
    }
    chunks = [{"choices": [{"index": 0, "delta": {"content": " word"}, "finish_reason": None}]}] * 400
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": result["usage"]})
    rows = []
    for effort in ("none", "high"):
        chat, msgs = chat_body(SHORT, effort, False), messages_body(SHORT, effort, False)
        call = door.parse(msgs)

        def stream(call: Any = call) -> None:
            writer = door.stream(call)
            writer.chunks(chunks)
            writer.end()

        cases = {
            "chat parse": lambda chat=chat: parse_chat(orjson.loads(orjson.dumps(chat))),
            "messages parse": lambda msgs=msgs: door.parse(orjson.loads(orjson.dumps(msgs))),
            "chat answer": lambda: orjson.dumps(result),
            "messages answer": lambda call=call: door.answer(result, call),
        }
        for name, fn in cases.items():
            best = min(timeit.repeat(fn, number=2000, repeat=7)) / 2000
            rows.append(f"{effort:>5} {name:>16} {best * 1e6:8.1f} us")
        best = min(timeit.repeat(stream, number=20, repeat=7)) / 20
        rows.append(f"{effort:>5} {'messages stream':>16} {best * 1e6:8.1f} us (401 chunks -> events)")
    return "== in process (best of 7)\n" + "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    print(in_process(), flush=True)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="thinkgate-frontdoor-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            urls = start(opts, procs, Path(tmp))
            report = run_async(measure(opts, procs, urls))
        finally:
            procs.close()
    print(render(report, opts))
    print(f"\nelapsed: {time.monotonic() - began:.0f} s")
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(to_json(report), indent=2) + "\n")
    problems = report_errors(report)
    for problem in problems:
        print("ERROR", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
