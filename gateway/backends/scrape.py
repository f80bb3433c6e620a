"""Read vLLM's Prometheus ``/metrics`` text into the few numbers endpoint choice and shedding need.

Tolerant by design: unknown lines, comments, parse errors and missing families are ignored (a missing
family reads as "unknown", not as zero). ``vllm:kv_cache_usage_perc`` falls back to the older
``vllm:gpu_cache_usage_perc``, the inter-token latency histogram to the older time-per-output-token one;
counts are summed over label sets (several engines or models), KV usage is their maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WAITING = "vllm:num_requests_waiting"
RUNNING = "vllm:num_requests_running"
KV_NAMES = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
#: Inter-token latency histograms, newest name first (``time_per_output_token`` before vLLM 0.11).
ITL_NAMES = ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")
_ITL_PARTS = tuple(f"{name}_{part}" for name in ITL_NAMES for part in ("sum", "count"))
_WANTED = frozenset((WAITING, RUNNING, *KV_NAMES, *_ITL_PARTS))


@dataclass(frozen=True, slots=True)
class ScrapedLoad:
    """One endpoint's load as vLLM reports it; ``None`` = the family was not exported."""

    waiting: float | None = None
    running: float | None = None
    kv_usage: float | None = None
    itl_sum: float | None = None  # cumulative seconds between output tokens
    itl_count: float | None = None  # cumulative number of those intervals


def _sample(line: str) -> tuple[str, float] | None:
    """``name{labels} value [timestamp]`` → (name, value); ``None`` for anything else."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    brace = line.find("{")
    if brace >= 0:
        close = line.rfind("}")
        if close < brace:
            return None
        name, rest = line[:brace], line[close + 1 :]
    else:
        name, _, rest = line.partition(" ")
    parts = rest.split()
    if not parts:
        return None
    try:
        value = float(parts[0])
    except ValueError:
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return name.strip(), value


def parse_load(text: str) -> ScrapedLoad:
    """The load numbers in a ``/metrics`` body (never raises on bad input)."""
    sums: dict[str, float] = {}
    maxima: dict[str, float] = {}
    for line in text.splitlines():
        sample = _sample(line)
        if sample is None or sample[0] not in _WANTED:
            continue
        name, value = sample
        sums[name] = sums.get(name, 0.0) + value
        maxima[name] = max(maxima.get(name, value), value)
    kv = next((maxima[n] for n in KV_NAMES if n in maxima), None)
    itl = next((n for n in ITL_NAMES if f"{n}_sum" in sums and f"{n}_count" in sums), None)
    return ScrapedLoad(
        waiting=sums.get(WAITING),
        running=sums.get(RUNNING),
        kv_usage=kv,
        itl_sum=None if itl is None else sums[f"{itl}_sum"],
        itl_count=None if itl is None else sums[f"{itl}_count"],
    )
