"""Record a tool-calling chat answer, streamed and not, from a vLLM-compatible server (reassembly tests).

    python -m scripts.record.tool_streams --url URL --model tiny-qwen3 --no-thinking \
        --out tests/unit/data/vllm-0.32-tools
    python -m scripts.record.tool_streams --sim --no-thinking --out tests/unit/data/sim-tools   # in-process
    python -m scripts.record.tool_streams --url URL --model tiny-qwen3 \
        --out tests/unit/data/vllm-0.32-thinking-tools

(run from the repository root, with the project venv's python) writes ``NAME-stream.sse`` (the raw SSE bytes)
and ``NAME.json`` (the non-streamed body of the same request).
The first two use ``--no-thinking``. With thinking, vLLM 0.32 streams the ``\n\n`` after ``</think>`` as
content but leaves it out of the JSON answer (``tests/contract/test_tool_contract.py`` checks that live); the
``thinking-tools`` recording keeps that, so the Responses and Messages stream writers are tested on it (they
drop whitespace-only text before a tool call, as the JSON answer has none).
The prompt holds two triggers (``call:search {...}`` and ``call:get_weather {...}``, from
``scripts/vllm/tiny_tools.py``), so a model that learned them (the simulator; the tiny real-vLLM model) makes
two calls in one turn.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx

from scripts.vllm.tiny_tools import SEARCH, TOOLS, WEATHER

PROMPT = f"{SEARCH} {WEATHER}"


def body(model: str, thinking: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": TOOLS,
        "temperature": 0,
        "max_tokens": 200,
        "chat_template_kwargs": {"enable_thinking": thinking},
        **extra,
    }


def record(url: str, model: str, out: Path, thinking: bool) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        plain = client.post("/v1/chat/completions", json=body(model, thinking))
        plain.raise_for_status()
        with client.stream(
            "POST",
            "/v1/chat/completions",
            json=body(model, thinking, stream=True, stream_options={"include_usage": True}),
        ) as resp:
            resp.raise_for_status()
            raw = resp.read()
    out.with_name(out.name + "-stream.sse").write_bytes(raw)
    out.with_name(out.name + ".json").write_text(json.dumps(plain.json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}-stream.sse ({len(raw)} bytes) and {out}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url")
    parser.add_argument("--model", default="sim-qwen3")
    parser.add_argument("--sim", action="store_true", help="record from an in-process simulator")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument(
        "--no-thinking", action="store_true", help="chat_template_kwargs.enable_thinking false"
    )
    ns = parser.parse_args()
    if ns.sim:
        from simulator.config import SimConfig
        from simulator.server import run_sim

        with run_sim(SimConfig(model=ns.model, reasoning_words=12, max_model_len=2048)) as sim:
            record(sim.url, ns.model, ns.out, not ns.no_thinking)
    else:
        record(ns.url, ns.model, ns.out, not ns.no_thinking)


if __name__ == "__main__":
    main()
