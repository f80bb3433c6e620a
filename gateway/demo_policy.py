"""The policy ``thinkgate demo`` writes: three simulated pools and the standard virtual models."""

from __future__ import annotations


def demo_policy_yaml(hybrid: str, thinking: str, instruct: str) -> str:
    return f"""\
# Written by `thinkgate demo`: three simulated vLLM servers and the standard virtual models.
version: 1
backends:
  qwen3-hybrid:
    family: qwen3
    mode: hybrid
    model: sim-qwen3-hybrid
    endpoints: [{hybrid}]
  qwen3-thinking:
    family: qwen3-thinking-2507
    mode: thinking
    model: sim-qwen3-thinking-2507
    endpoints: [{thinking}]
  qwen3-instruct:
    family: qwen3-instruct-2507
    mode: instruct
    model: sim-qwen3-instruct-2507
    endpoints: [{instruct}]
models:
  auto:
    effort: classify
    thinking: [qwen3-thinking, qwen3-hybrid]
    instruct: [qwen3-instruct, qwen3-hybrid]
    description: the classifier picks the effort per prompt
  auto-fast:
    effort: none
    instruct: [qwen3-instruct, qwen3-hybrid]
    description: never thinks
  auto-deep:
    effort: high
    thinking: [qwen3-thinking, qwen3-hybrid]
    description: always thinks hard
aliases:                 # model names agent CLIs hard-code (Claude Code's background model is a haiku)
  claude-*: auto
  claude-haiku-*: auto-fast
  claude-3-5-haiku-*: auto-fast
budgets: {{minimal: 512, low: 1024, medium: 4096, high: 16384}}
classifier: {{on_error: high}}
state: {{redis_url: null}}
"""
