"""Every Prometheus object of the gateway, in one place: ``thinkgate_<noun>_<unit>``.

Objects live on a per-app registry (several apps can share a process in tests). Labels stay low-cardinality:
virtual model and pool names come from the policy, effort and source from fixed enums.

A request's own updates (the pipeline's counters, histograms and the in-flight gauge) go through
:meth:`GatewayMetrics.inc` and :meth:`GatewayMetrics.observe`. With one worker process (the default) they add
to plain tallies, handed to prometheus_client in one pass (:meth:`GatewayMetrics.flush`) whenever the
registry is collected — every ``/metrics`` scrape, the console's Watch view, a test's ``get_sample_value`` —
so what is scraped is exactly what it was when each update went to prometheus_client at once.
prometheus_client takes a lock per value update: a short request's ten updates cost 5.7 us that way and
2.9 us as tallies (``benchmarks/metric_updates.py``, 2026-12-07, benchmarks/RESULTS.md, "Hot path, session
7b").

With several workers (``PROMETHEUS_MULTIPROC_DIR``) a scrape reads every worker's mmap file, so an update
must reach the file without waiting for this worker's next scrape: there the updates go to prometheus_client
at once, as before (handing tallies over on the next loop turn instead cost more at one request per turn,
23.3 vs 13.9 us per request: nothing to merge, and the hand-over's own calls). Background state (probes,
policy reloads, Redis health, rate-limit rejections) updates prometheus_client directly.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class GatewayMetrics:
    """The gateway's metric catalogue (see README, "Metrics")."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        #: several worker processes share one /metrics view through prometheus_client's mmap files
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}
        self._counts: dict[Any, float] = {}  # counter or gauge child -> amount not yet handed over
        self._observed: dict[Any, list[float]] = {}  # histogram child -> [count per bucket..., sum]
        r = self.registry
        r.register(_FlushFirst(self))  # before every metric: collecting the registry hands the tallies over
        self.requests = Counter(
            "thinkgate_requests",
            "Requests by endpoint, virtual model, effort, decision source, pool and outcome",
            ["endpoint", "model", "effort", "source", "pool", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "thinkgate_request_duration_seconds",
            "Total request latency as the client sees it",
            ["endpoint", "effort", "pool"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft_seconds = Histogram(
            "thinkgate_time_to_first_token_seconds",
            "Time to the first streamed chunk relayed to the client",
            ["effort", "pool"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "thinkgate_decisions",
            "Effort decisions by effort, source and front door (chat, completions, responses, messages)",
            ["effort", "source", "front_door"],
            registry=r,
        )
        self.decision_seconds = Histogram(
            "thinkgate_decision_duration_seconds",
            "Time to decide effort and budget (signals, classifier, caps)",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025),
            registry=r,
        )
        self.classifier_p_think = Histogram(
            "thinkgate_classifier_p_think",
            "Distribution of the classifier's calibrated probability that a request needs thinking",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
            registry=r,
        )
        self.upstream_errors = Counter(
            "thinkgate_upstream_errors",
            "Upstream failures by pool and kind (connect, timeout, idle, protocol, status_5xx, status_4xx)",
            ["pool", "kind"],
            registry=r,
        )
        self.tokens = Counter(
            "thinkgate_tokens",
            "Tokens by effort and kind (prompt, completion, reasoning)",
            ["effort", "kind"],
            registry=r,
        )
        self.inflight = Gauge(
            "thinkgate_inflight_requests",
            "Requests in flight per endpoint",
            ["pool", "endpoint"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.endpoint_up = Gauge(
            "thinkgate_endpoint_up",
            "1 if the endpoint is healthy, else 0",
            ["pool", "endpoint"],
            registry=r,
            multiprocess_mode="min",
        )
        self.budget_hits = Counter(
            "thinkgate_budget_hits",
            "Requests whose thinking reached the budget (cut by vLLM or by gateway forcing)",
            ["effort"],
            registry=r,
        )
        self.render_warnings = Counter(
            "thinkgate_render_warnings",
            "Render notes on answered requests (what the family render changed or could not honour; the "
            "x-thinkgate-warnings header lists them)",
            ["pool"],
            registry=r,
        )
        self.agent_steps = Counter(
            "thinkgate_agent_steps",
            "Decided requests by agent step kind (plan, act, recover, stuck, answer) and the effort chosen",
            ["kind", "effort"],
            registry=r,
        )
        self.agent_thinking_tokens = Counter(
            "thinkgate_agent_thinking_tokens",
            "Reasoning tokens of answered requests by agent step kind",
            ["kind"],
            registry=r,
        )
        self.episode_spent = Counter(
            "thinkgate_episode_budget_spent",
            "Steps whose episode thinking budget was spent: run without thinking or refused (agent.episodes)",
            ["action"],
            registry=r,
        )
        self.retries = Counter(
            "thinkgate_upstream_retries",
            "Attempts retried on another endpoint before the first byte",
            ["pool"],
            registry=r,
        )
        # routing (issue 5): load-aware choice, health, failover, effort shedding
        self.endpoint_score = Gauge(
            "thinkgate_endpoint_load_score",
            "Load score of an endpoint at the last /metrics scrape (lower is preferred)",
            ["pool", "endpoint"],
            registry=r,
        )
        self.endpoint_tpot = Gauge(
            "thinkgate_endpoint_time_per_output_token_seconds",
            "Decode time per output token per endpoint, from vLLM's inter-token latency (0 = not known)",
            ["pool", "endpoint"],
            registry=r,
        )
        self.ejections = Counter(
            "thinkgate_endpoint_ejections",
            "Passive ejections of an endpoint after consecutive failed attempts",
            ["pool", "endpoint"],
            registry=r,
        )
        self.failovers = Counter(
            "thinkgate_failovers",
            "Requests served by another pool than the first of their plan",
            ["from_pool", "to_pool"],
            registry=r,
        )
        self.shed = Counter(
            "thinkgate_shed",
            "Requests whose effort was lowered because the thinking pool was loaded",
            ["from_effort", "to_effort"],
            registry=r,
        )
        self.shedding_level = Gauge(
            "thinkgate_shedding_level",
            "Effort steps a pool currently sheds (0 = not shedding)",
            ["pool"],
            registry=r,
        )
        # shared state (issue 6): rate limits, thinking quotas, Redis health, policy reloads
        self.ratelimit_rejections = Counter(
            "thinkgate_ratelimit_rejections",
            "Requests rejected with 429 by limit kind (requests, tokens, thinking)",
            ["kind"],
            registry=r,
        )
        self.quota_exhausted = Counter(
            "thinkgate_quota_exhausted",
            "Requests served with thinking off because the key's thinking-token quota was spent",
            registry=r,
        )
        self.redis_up = Gauge(
            "thinkgate_redis_up",
            "1 if the last Redis call succeeded, 0 if it failed or the circuit breaker is open",
            registry=r,
            multiprocess_mode="min",
        )
        self.redis_errors = Counter(
            "thinkgate_redis_errors",
            "Redis calls that failed or were skipped by the open circuit breaker, by operation",
            ["op"],
            registry=r,
        )
        self.policy_version = Gauge(
            "thinkgate_policy_version",
            "Version number of the policy in use",
            registry=r,
            multiprocess_mode="max",
        )
        self.policy_reloads = Counter(
            "thinkgate_policy_reloads",
            "Policy changes by origin (file, admin, rollback, pubsub), outcome (applied, invalid, refused)",
            ["origin", "outcome"],
            registry=r,
        )

    def inc(self, metric: MetricWrapperBase, labels: tuple[str, ...] = (), amount: float = 1.0) -> None:
        """Add ``amount`` to the counter or gauge ``metric`` with ``labels`` (a gauge takes negatives)."""
        child = self._children.get((metric, labels)) or self._child(metric, labels)
        if self.multiprocess:
            child.inc(amount)
            return
        counts = self._counts
        counts[child] = counts.get(child, 0.0) + amount

    def observe(self, metric: Histogram, labels: tuple[str, ...], value: float) -> None:
        """Observe ``value`` in the histogram ``metric`` with ``labels`` (the bucket as ``Histogram.observe``
        picks it: the first upper bound >= ``value``)."""
        child = self._children.get((metric, labels)) or self._child(metric, labels)
        if self.multiprocess:
            child.observe(value)
            return
        tally = self._observed.get(child)
        if tally is None:
            tally = self._observed[child] = [0.0] * (len(child._upper_bounds) + 1)
        if value <= child._upper_bounds[-1]:  # the last bound is +Inf: only NaN falls in no bucket
            tally[bisect_left(child._upper_bounds, value)] += 1.0
        tally[-1] += value

    def _child(self, metric: MetricWrapperBase, labels: tuple[str, ...]) -> Any:
        """``metric.labels(*labels)`` (``metric`` itself without labels), made once: a child is created at its
        first update, as before (its ``_created`` sample), and later looked up in a dict instead of
        prometheus_client's validating, locking ``labels()``."""
        found = self._children[(metric, labels)] = metric.labels(*labels) if labels else metric
        return found

    def flush(self) -> None:
        """Hand every tally to prometheus_client. Counts are whole numbers and arrive exactly; a histogram's
        ``_sum`` is the same sum added in another order (it may differ in the last bits of a float)."""
        counts, self._counts = self._counts, {}
        observed, self._observed = self._observed, {}
        for child, amount in counts.items():
            if amount:
                child.inc(amount)
        for child, tally in observed.items():
            # Histogram has no public call for many observations at once: its per-bucket values and its sum
            # are prometheus_client values with inc() (MutexValue, or MmapedValue with several workers);
            # tests/unit/test_metrics_tally.py compares the exposition with observe() called per value
            for i, n in enumerate(tally[:-1]):
                if n:
                    child._buckets[i].inc(n)
            child._sum.inc(tally[-1])

    def render(self) -> bytes:
        """The exposition text; with several workers (``PROMETHEUS_MULTIPROC_DIR`` set) the sum over all."""
        if self.multiprocess:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)


class _FlushFirst:
    """A collector without metrics, registered first: the registry's ``collect()`` calls it before it reads
    any metric, so every reader of the registry sees the tallies handed over."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # no names: the registry must not call collect() at registration

    def collect(self) -> list[Metric]:
        self.metrics.flush()
        return []
