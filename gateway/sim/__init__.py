"""vLLM simulator: a fast, deterministic server speaking vLLM 0.32's OpenAI API (`--reasoning-parser qwen3`).

Modules: `config` (SimConfig), `tokenizer` (real Qwen3 tokenizer + chat template), `prompting` (per-mode
prompt rendering), `generation` (the deterministic "model": budget, max_tokens, stop), `engine`
(queueing/latency/KV model), `faults`, `metrics` (vllm:* Prometheus names), `responses` (JSON/SSE shapes),
`transport` (disconnect-aware ASGI response), `serving` (request handling), `app` (`create_sim_app`),
`server` (`run_sim` / `run_sim_async` for tests). CLI: `thinkgate sim` (gateway/commands/sim.py).
"""
