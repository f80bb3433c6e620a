"""The dispatcher: run a plan's steps until one endpoint answers, retrying only before the first byte.

For every step it picks endpoints in the pool's order (load, stickiness, health), takes an in-flight lease
(:meth:`gateway.backends.pool.Pool.acquire`) and calls the step's opener — native HTTP or a budget-forcing
run (:data:`OPENERS`). A failed attempt (cannot connect, no headers in time, HTTP >= 500, a stream that ended
before its first event) gives the lease back, counts toward the endpoint's passive health and moves on, up to
``max_attempts``; pools without a healthy endpoint are skipped without an attempt. A 4xx is the client's
problem and is raised as it is. A stream's success is recorded by the pipeline at its end, so streams that
die mid-way add up to an ejection too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from gateway.backends.client import UpstreamFailure
from gateway.backends.pool import Endpoint, Lease, Pool
from gateway.errors import GatewayError, UpstreamError, UpstreamRejected
from gateway.metrics import GatewayMetrics
from gateway.pipeline.door import Call
from gateway.pipeline.exchange import Exchange
from gateway.pipeline.forced import open_forced
from gateway.pipeline.native import open_native
from gateway.pipeline.plan import Step
from gateway.probes import publish_health
from gateway.tokens import ReasoningCounter
from router.records import record

#: ``(step, lease, call, request id, counter, waiting)``; ``waiting`` (if not ``None``) is called once, when
#: the attempt first waits for the backend (the native opener: after its request is written, as a rule)
Opener = Callable[
    [Step, Lease, Call, str, ReasoningCounter | None, Callable[[], None] | None], Awaitable[Exchange]
]

#: how a step is opened, by its budget mode
OPENERS: dict[str, Opener] = {"native": open_native, "forcing": open_forced}


def book_failure(pool: Pool, endpoint: Endpoint, metrics: GatewayMetrics, kind: str) -> None:
    """A failed attempt on ``endpoint``, before or after the first byte: the error metric, passive health,
    and the ejection metric and health gauges when it ejects the endpoint."""
    metrics.inc(metrics.upstream_errors, (pool.name, kind))
    if pool.record_failure(endpoint):
        metrics.inc(metrics.ejections, (pool.name, endpoint.url))
        publish_health(pool, metrics)


def failure_error(pool: Pool, failure: UpstreamFailure) -> UpstreamError:
    """The client-facing error for a failure talking to ``pool`` (504 for timeouts, else 502)."""
    status = 504 if failure.kind in ("timeout", "idle") else 502
    return UpstreamError(f"backend {pool.name!r}: {failure.message}", status=status, code=failure.kind)


@record
class Dispatched:
    """Where the request was answered and after how many attempts: an open ``exchange``, or the backend's
    4xx (``rejected``, not retried; the lease is already given back)."""

    step: Step
    endpoint: str
    attempts: int
    exchange: Exchange | None = None
    rejected: UpstreamRejected | None = None


async def dispatch(
    steps: Sequence[Step],
    call: Call,
    *,
    request_id: str,
    session: str | None,
    max_attempts: int,
    metrics: GatewayMetrics,
    counter_for: Callable[[Pool], ReasoningCounter | None],
    waiting: Callable[[Step, str, int], None] | None = None,
) -> Dispatched:
    """Open the first exchange that succeeds; raise the last error (502/503/504) if none does.

    ``session`` (an ``x-session-id`` or ``user``) lets sticky pools keep a conversation on one endpoint.
    ``waiting(step, endpoint, attempt)`` is called once per attempt, when it first waits for the backend (a
    native attempt once its request is written, as a rule; a forcing run before it starts), so the caller
    can use the wait for the backend."""
    last: GatewayError | None = None
    attempts = 0
    tried: set[str] = set()
    for step in steps:
        pool = step.pool
        opener = OPENERS["forcing" if step.forcing else "native"]
        for endpoint in pool.candidates(tried, session):
            if attempts >= max_attempts:
                break
            attempts += 1
            tried.add(endpoint.url)
            if attempts > 1:
                metrics.inc(metrics.retries, (pool.name,))
            lease = pool.acquire(endpoint, metrics)
            try:
                on_wait = None if waiting is None else partial(waiting, step, endpoint.url, attempts)
                if step.forcing and on_wait is not None:  # its run waits on several requests
                    on_wait()
                    on_wait = None
                exchange = await opener(step, lease, call, request_id, counter_for(pool), on_wait)
            except UpstreamFailure as failure:
                lease.release()
                book_failure(pool, endpoint, metrics, failure.kind)
                last = failure_error(pool, failure)
                continue
            except UpstreamError as exc:
                lease.release()
                book_failure(pool, endpoint, metrics, "status_5xx")
                last = exc
                continue
            except UpstreamRejected as exc:
                lease.release()
                pool.record_success(endpoint)  # the endpoint works; the request was wrong
                return Dispatched(step, endpoint.url, attempts, rejected=exc)
            except BaseException:
                lease.release()
                raise
            if not call.stream:  # a stream succeeds at its end (the pipeline records it)
                pool.record_success(endpoint)
            return Dispatched(step, endpoint.url, attempts, exchange=exchange)
    if last is None:
        names = ", ".join(s.pool.name for s in steps)
        raise UpstreamError(
            f"no healthy endpoint in backend pool(s) {names}", status=503, code="no_healthy_backend"
        )
    last.headers["x-should-retry"] = "false" if attempts > 1 else last.headers.get("x-should-retry", "true")
    raise last
