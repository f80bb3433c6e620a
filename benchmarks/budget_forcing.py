"""What budget forcing by the gateway costs compared with vLLM's native ``thinking_token_budget``.

The gateway (``thinkgate serve``, separate process) gets two pools on the same backend: one ``budget: native``,
one ``budget: forcing``. For each budget, the same request is sent sequentially through both (alternating, so
both see the same machine noise); we report end-to-end latency (non-stream) and time to first content token
(stream), p50 and mean, and the forcing/native ratio. Sequential requests isolate the extra round trips
(``/tokenize``, a second ``/v1/completions``) from queueing.

Backend: a real vLLM if ``--backend URL`` is given (e.g. the tiny model of ``scripts/vllm/setup.sh``:
``THINKGATE_VLLM_URL``), else a simulator with a realistic decode speed.

Run: ``.venv/bin/python benchmarks/budget_forcing.py [--backend http://127.0.0.1:8011 --model tiny-qwen3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from loadgen import Processes, free_port, sim_argv

REPO = Path(__file__).resolve().parent.parent
USER = [{"role": "user", "content": "hello there"}]

POLICY = """\
version: 1
backends:
  native: {{family: qwen3, mode: hybrid, model: {model}, endpoints: [{url}], budget: native}}
  forcing: {{family: qwen3, mode: hybrid, model: {model}, endpoints: [{url}], budget: forcing}}
models:
  via-native: {{thinking: [native], instruct: [native]}}
  via-forcing: {{thinking: [forcing], instruct: [forcing]}}
budgets: {{minimal: 4, low: 16, medium: 64, high: 4096}}
"""

LEVELS = (("minimal", 4), ("low", 16), ("medium", 64))


def timed_json(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    resp = client.post(url, json=body)
    elapsed = time.perf_counter() - start
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return elapsed, data


def timed_stream(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[float, float]:
    """(time to the first content delta, total) for a streamed request."""
    start = time.perf_counter()
    first_content = None
    with client.stream("POST", url, json={**body, "stream": True}) as resp:
        resp.raise_for_status()
        buf = b""
        for chunk in resp.iter_bytes():
            buf += chunk
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                if first_content is None and block.startswith(b"data: {"):
                    ev = orjson.loads(block[6:])
                    if any((c.get("delta") or {}).get("content") for c in ev.get("choices") or []):
                        first_content = time.perf_counter() - start
    total = time.perf_counter() - start
    return (first_content if first_content is not None else total), total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", help="base URL of a running vLLM (default: start a simulator)")
    ap.add_argument("--model", default="tiny-qwen3", help="served model name of --backend")
    ap.add_argument("--requests", type=int, default=20, help="requests per (mode, budget, kind)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tg-bench-forcing-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            backend, model = args.backend, args.model
            if backend is None:
                port = free_port()
                model = "sim-forcing"
                argv = sim_argv(sys.executable, port, model, answer_words=12, reasoning_words=120)
                procs.start("sim", [*argv, "--tokens-per-s", "200", "--ttft-ms", "20"])
                backend = f"http://127.0.0.1:{port}"
                procs.wait_ok("sim", backend + "/health")
            policy = Path(tmp) / "policy.yaml"
            policy.write_text(POLICY.format(model=model, url=backend))
            gw_port = free_port()
            thinkgate = str(Path(sys.executable).parent / "thinkgate")
            procs.start(
                "gateway",
                [
                    thinkgate,
                    "serve",
                    "--config",
                    str(policy),
                    "--port",
                    str(gw_port),
                    "--log-level",
                    "warning",
                ],
            )
            gateway = f"http://127.0.0.1:{gw_port}"
            procs.wait_ok("gateway", gateway + "/ready")
            url = gateway + "/v1/chat/completions"
            rows = []
            with httpx.Client(timeout=120) as client:
                for level, budget in LEVELS:
                    lat: dict[str, list[float]] = {"native": [], "forcing": []}
                    ttft: dict[str, list[float]] = {"native": [], "forcing": []}
                    reasoning: dict[str, int] = {}
                    body = {"messages": USER, "reasoning_effort": level, "temperature": 0}
                    for mode in ("native", "forcing"):  # warm-up
                        timed_json(client, url, {**body, "model": f"via-{mode}"})
                    for _ in range(args.requests):
                        for mode in ("native", "forcing"):
                            elapsed, data = timed_json(client, url, {**body, "model": f"via-{mode}"})
                            lat[mode].append(elapsed)
                            reasoning[mode] = data["usage"]["completion_tokens_details"]["reasoning_tokens"]
                            first, _ = timed_stream(client, url, {**body, "model": f"via-{mode}"})
                            ttft[mode].append(first)
                    rows.append((level, budget, lat, ttft, reasoning))
        finally:
            procs.close()

    print(
        f"backend: {args.backend or 'simulator (200 tok/s, ttft 20 ms)'}; {args.requests} requests per cell, sequential"
    )
    print(
        f"{'budget':>10} {'kind':>18} {'native p50':>11} {'forcing p50':>12} {'native mean':>12} {'forcing mean':>13} {'ratio p50':>10} {'added p50':>10}"
    )
    for level, budget, lat, ttft, reasoning in rows:
        for kind, series in (("latency (json)", lat), ("first content (sse)", ttft)):
            n50, f50 = statistics.median(series["native"]) * 1000, statistics.median(series["forcing"]) * 1000
            nm, fm = statistics.fmean(series["native"]) * 1000, statistics.fmean(series["forcing"]) * 1000
            print(
                f"{level + ' ' + str(budget):>10} {kind:>18} {n50:>9.1f}ms {f50:>10.1f}ms {nm:>10.1f}ms {fm:>11.1f}ms {f50 / n50:>10.2f} {f50 - n50:>8.1f}ms"
            )
        print(
            f"{'':>10} {'reasoning tokens':>18} native={reasoning['native']} forcing={reasoning['forcing']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
