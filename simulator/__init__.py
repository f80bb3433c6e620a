"""vLLM simulator: a fast, deterministic vLLM OpenAI API server (`--reasoning-parser qwen3`), 0.32 by default.

Modules: `config` (SimConfig), `tokenizer` (real Qwen3 tokenizer + chat template), `prompting` (per-mode
prompt rendering), `generation` (the deterministic "model": budget, max_tokens, stop), `engine`
(queueing/latency/KV model), `faults`, `metrics` (vllm:* Prometheus names), `responses` (JSON/SSE shapes),
`transport` (disconnect-aware ASGI response), `versions` (per-release `VersionProfile` from
`SimConfig.vllm_version`), `compat` (release-dependent request handling), `parser` (qwen3 parser generations),
`serving` (request handling), `app` (`create_sim_app`),
`server` (`run_sim` / `run_sim_async` for tests). CLI: `thinkgate sim` (gateway/commands/sim.py).
"""
