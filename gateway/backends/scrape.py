"""Read vLLM's Prometheus ``/metrics`` text into the few numbers endpoint choice and shedding need.

The text is parsed by ``prometheus_client.parser``. Tolerant by design: when the whole text does not parse,
each line is parsed on its own and the lines that do not are ignored; comments, NaN/infinite values and
missing families are ignored too (a missing family reads as "unknown", not as zero).
``vllm:kv_cache_usage_perc`` falls back to the older ``vllm:gpu_cache_usage_perc``, the inter-token latency
histogram to the older time-per-output-token one; counts are summed over label sets (several engines or
models), KV usage is their maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

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


def _samples(text: str) -> list[tuple[str, float]]:
    """(name, value) of every sample in ``text``; raises ``ValueError`` where it is not the text format."""
    return [(s.name, float(s.value)) for f in text_string_to_metric_families(text) for s in f.samples]


def _tolerant_samples(text: str) -> list[tuple[str, float]]:
    try:
        return _samples(text)
    except ValueError:
        out: list[tuple[str, float]] = []
        for line in text.splitlines():
            try:
                out.extend(_samples(line))
            except ValueError:
                continue
        return out


def parse_load(text: str) -> ScrapedLoad:
    """The load numbers in a ``/metrics`` body (never raises on bad input)."""
    sums: dict[str, float] = {}
    maxima: dict[str, float] = {}
    for name, value in _tolerant_samples(text):
        if name not in _WANTED or math.isnan(value) or math.isinf(value):
            continue
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
