"""Prometheus metrics with real vLLM names, in a per-app registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
)
_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0)
_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0)
_LABELS = ("model_name", "engine")


class SimMetrics:
    """The vLLM metric families the gateway reads, labelled `model_name=…, engine="0"`."""

    def __init__(self, model_name: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        values = (model_name, "0")
        r = self.registry
        self.running = Gauge(
            "vllm:num_requests_running", "Requests in model execution batches.", _LABELS, registry=r
        )
        self.running_child = self.running.labels(*values)
        self.waiting = Gauge(
            "vllm:num_requests_waiting", "Requests waiting to be processed.", _LABELS, registry=r
        )
        self.waiting_child = self.waiting.labels(*values)
        self.kv_usage = Gauge(
            "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", _LABELS, registry=r
        )
        self.kv_usage_child = self.kv_usage.labels(*values)
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", _LABELS, registry=r
        )
        self.prompt_tokens_child = self.prompt_tokens.labels(*values)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", _LABELS, registry=r
        )
        self.generation_tokens_child = self.generation_tokens.labels(*values)
        self.request_success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            (*_LABELS, "finished_reason"),
            registry=r,
        )
        self._values = values
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            _LABELS,
            buckets=_TTFT_BUCKETS,
            registry=r,
        ).labels(*values)
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            _LABELS,
            buckets=_E2E_BUCKETS,
            registry=r,
        ).labels(*values)
        self.itl = Histogram(
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            _LABELS,
            buckets=_ITL_BUCKETS,
            registry=r,
        ).labels(*values)
        for reason in ("stop", "length", "abort", "error"):
            self.request_success.labels(*values, reason)

    def finished(self, reason: str) -> None:
        """Count one finished request (`stop`, `length`, `abort`, `error`)."""
        self.request_success.labels(*self._values, reason).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
