"""``thinkgate demo``: three simulated vLLM backends and the gateway in one process, nothing else needed."""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path

from gateway.app import create_app
from gateway.config import load_policy
from gateway.demo_policy import demo_policy_yaml
from gateway.server import run as run_server
from gateway.settings import Settings
from simulator.config import SimConfig
from simulator.server import run_sim


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="gateway port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tokens-per-s", type=float, default=200.0, help="simulated decode speed (tokens/s)")
    parser.add_argument("--ttft-ms", type=float, default=40.0, help="simulated time to first token")


def _instructions(base: str) -> str:
    return f"""
thinkgate demo is running on {base} (simulated vLLM backends: hybrid, thinking, instruct)

Try it:
  curl -s {base}/v1/models | python3 -m json.tool
  curl -si {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "Rewrite politely: send the report"}}]}}'
  curl -si {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "Prove that sqrt(2) is irrational."}}]}}'
  curl -s {base}/v1/route -H 'content-type: application/json' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "Solve x^2 - 5x + 6 = 0"}}]}}'
  curl -sN {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto-deep", "stream": true, "messages": [{{"role": "user", "content": "hi"}}]}}'
  curl -s {base}/metrics | grep ^thinkgate_

With the OpenAI SDK:
  python3 -c "from openai import OpenAI; c = OpenAI(base_url='{base}/v1', api_key='none'); \\
r = c.chat.completions.create(model='auto', messages=[{{'role': 'user', 'content': 'What is 17 * 23?'}}], \\
reasoning_effort='low'); print(r.choices[0].message.content)"

Decision headers: x-thinkgate-effort, x-thinkgate-budget, x-thinkgate-source, x-thinkgate-backend.
Ctrl-C stops.
"""


def run(ns: argparse.Namespace) -> int:
    common = {"ttft_ms": ns.ttft_ms, "tokens_per_s": ns.tokens_per_s}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="thinkgate-demo-") as tmp:
        hybrid = stack.enter_context(run_sim(SimConfig(model="sim-qwen3-hybrid", mode="hybrid", **common)))
        thinking = stack.enter_context(
            run_sim(SimConfig(model="sim-qwen3-thinking-2507", mode="thinking", seed=1, **common))
        )
        instruct = stack.enter_context(
            run_sim(SimConfig(model="sim-qwen3-instruct-2507", mode="instruct", seed=2, **common))
        )
        path = Path(tmp) / "demo-policy.yaml"
        path.write_text(demo_policy_yaml(hybrid.url, thinking.url, instruct.url), encoding="utf-8")
        policy = load_policy(path)
        app = create_app(Settings(config=str(path), host=ns.host, port=ns.port), policy)
        print(f"policy written to {path}")
        print(_instructions(f"http://{ns.host}:{ns.port}"), flush=True)
        run_server(app, host=ns.host, port=ns.port, log_level="warning", access_log=False)
    return 0
