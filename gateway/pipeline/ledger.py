"""One request's bookkeeping, done once at its end: the request counter and latency, token counters and
budget hits, the quota correction (:meth:`gateway.limits.Grant.account`) and the access-log line. The
pipeline builds it after the answer's last byte (:meth:`gateway.pipeline.serve.PipelineResponse._book`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.limits import Grant
from gateway.logs import RequestTrace
from gateway.metrics import GatewayMetrics
from gateway.pipeline.exchange import Usage

#: outcomes of a finished request (the ``outcome`` label of ``thinkgate_requests_total``)
OK, UPSTREAM_ERROR, CLIENT_ERROR, CLIENT_GONE = "ok", "upstream_error", "client_error", "client_gone"


@dataclass(slots=True)
class Ledger:
    metrics: GatewayMetrics
    endpoint: str
    model: str
    effort: str
    source: str
    start: float
    grant: Grant
    trace: RequestTrace
    step: str | None = None  # the agent step kind (thinkgate_agent_thinking_tokens)
    episode: Callable[[int], None] | None = None  # charges the reasoning tokens to the request's episode
    done: bool = False

    def finish(self, pool: str, outcome: str, usage: Usage | None) -> None:
        """Count the request (once). A client that left is not billed as a success: its tokens are not
        counted and its quota estimate is not corrected."""
        if self.done:
            return
        self.done = True
        m = self.metrics
        if usage is not None and outcome != CLIENT_GONE:
            m.inc(m.tokens, (self.effort, "prompt"), usage.prompt)
            m.inc(m.tokens, (self.effort, "completion"), usage.completion)
            m.inc(m.tokens, (self.effort, "reasoning"), usage.reasoning)
            if usage.budget_hit:
                m.inc(m.budget_hits, (self.effort,))
            self.grant.account(usage.prompt, usage.completion, usage.reasoning)  # limits (issue 6)
            if self.step is not None:
                m.inc(m.agent_thinking_tokens, (self.step,), usage.reasoning)
            if self.episode is not None:
                self.episode(usage.reasoning)  # agent.episodes (issue 14)
            self.trace.record_tokens(usage.prompt, usage.completion, usage.reasoning, usage.budget_hit)
        m.inc(m.requests, (self.endpoint, self.model, self.effort, self.source, pool, outcome))
        m.observe(m.request_seconds, (self.endpoint, self.effort, pool), time.perf_counter() - self.start)
        self.trace.finish(pool, outcome)
