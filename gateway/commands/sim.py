"""`thinkgate sim`: serve a simulated vLLM (default 0.32.0, qwen3 reasoning parser) on one port."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from simulator.config import SimConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the `sim` options on `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8011, help="port (default 8011)")
    parser.add_argument("--model", default="sim-qwen3", help="served model name")
    parser.add_argument("--mode", choices=("hybrid", "thinking", "instruct"), default="hybrid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--vllm-version",
        default="0.32.0",
        help="vLLM release whose API behaviour to simulate (default 0.32.0)",
    )
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--reasoning-words", type=int, default=48)
    parser.add_argument("--answer-words", type=int, default=24)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--prefill-ms-per-1k-tokens", type=float, default=0.0)
    parser.add_argument(
        "--tokens-per-s", type=float, default=0.0, help="per-request decode speed; 0 = unlimited"
    )
    parser.add_argument("--max-num-seqs", type=int, default=256)
    parser.add_argument("--kv-capacity-tokens", type=int, default=262_144)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--hang-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--slow-first-byte-ms", type=float, default=0.0)
    parser.add_argument("--log-level", default="info")


def config_from_args(ns: argparse.Namespace) -> SimConfig:
    """Build the `SimConfig` from parsed options (raises pydantic's ValidationError on bad values)."""
    return SimConfig(
        model=ns.model,
        mode=ns.mode,
        seed=ns.seed,
        vllm_version=ns.vllm_version,
        max_model_len=ns.max_model_len,
        reasoning_words=ns.reasoning_words,
        answer_words=ns.answer_words,
        ttft_ms=ns.ttft_ms,
        prefill_ms_per_1k_tokens=ns.prefill_ms_per_1k_tokens,
        tokens_per_s=ns.tokens_per_s,
        max_num_seqs=ns.max_num_seqs,
        kv_capacity_tokens=ns.kv_capacity_tokens,
        error_rate=ns.error_rate,
        hang_rate=ns.hang_rate,
        drop_rate=ns.drop_rate,
        slow_first_byte_ms=ns.slow_first_byte_ms,
    )


def run(ns: argparse.Namespace) -> int:
    """Serve until interrupted; returns the process exit code (2 on invalid options)."""
    try:
        config = config_from_args(ns)
    except ValidationError as exc:
        print(f"thinkgate sim: invalid options: {exc}", file=sys.stderr)
        return 2
    from simulator.server import make_server, quiet_uvicorn_drops

    quiet_uvicorn_drops()
    server = make_server(config, log_level=ns.log_level)
    server.config.host = ns.host
    server.config.port = ns.port
    server.run()
    return 0
