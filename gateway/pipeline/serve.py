"""``serve``: one request through the pipeline, for any front door.

In the handler: the prologue (:func:`gateway.pipeline.prologue.admit`) and the plan
(:func:`gateway.pipeline.plan.plan_call`); a 4xx there is written by the front door. Then the returned
:class:`PipelineResponse` does the rest inside the ASGI response call, under a :class:`DisconnectWatch`:
dispatch (once the upstream request is written the watch starts listening and the answer's head is built,
while the backend works: :meth:`PipelineResponse._waiting`), the front door's writer (JSON or stream), closing
the exchange, and, once the last byte is sent, the bookkeeping: the plan's metrics and the
:class:`gateway.pipeline.ledger.Ledger` (built only then).

What runs between the upstream answer's arrival and the client's write is what the client waits for at one
connection; what depends only on the request is done before it (in the wait for the backend), what nobody
waits for after it (closing a non-stream exchange, a stream's usage, every metric). In process
(benchmarks/answer_path.py, 2026-12-07, session 11): 24-31 us less CPU on that critical path per request.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.backends.client import UpstreamFailure
from gateway.episodes import EpisodeLedger, agent_inputs, answer_episode
from gateway.errors import GatewayError
from gateway.logs import AccessLog, access_log_for, prompt_text
from gateway.metrics import GatewayMetrics
from gateway.pipeline.disconnect import DisconnectWatch
from gateway.pipeline.dispatch import Dispatched, book_failure, dispatch, failure_error
from gateway.pipeline.door import Call, FrontDoor
from gateway.pipeline.exchange import Exchange, Usage
from gateway.pipeline.ledger import CLIENT_ERROR, CLIENT_GONE, OK, UPSTREAM_ERROR, Ledger
from gateway.pipeline.plan import (
    PASSTHROUGH,
    AgentInputs,
    EpisodeBudgetSpent,
    Plan,
    Step,
    decision_headers,
    observe_decision,
    plan_call,
)
from gateway.pipeline.prologue import Admitted, admit
from router.routing import failover_chain

log = logging.getLogger("thinkgate.pipeline")

SSE_TYPE = "text/event-stream; charset=utf-8"
#: the head of a stream after the request's headers
STREAM_HEAD = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"content-type", SSE_TYPE.encode()),
]


def warnings_header(notes: tuple[str, ...]) -> str:
    """``x-thinkgate-warnings``: the render notes, ``; ``-separated, in Latin-1 (what a header can carry)."""
    text = "; ".join(note.replace(";", ",") for note in notes)
    return text.encode("latin-1", "replace").decode("latin-1")


def raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """``headers`` as an ASGI response start carries them (lowercase names, Latin-1)."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def plan_headers(admitted: Admitted, plan: Plan) -> dict[str, str]:
    """The headers every answer of this request carries: request id, decision, limits, shedding."""
    if plan.decision is None:
        headers = {"x-request-id": admitted.request_id, "x-thinkgate-source": PASSTHROUGH}
    else:
        headers = decision_headers(plan.decision, admitted.request_id)
    headers.update(admitted.grant.headers)  # x-ratelimit-*, x-thinkgate-quota (issue 6)
    if plan.shed is not None:
        headers["x-thinkgate-shed"] = plan.shed
    headers.update(agent_headers(plan, admitted))
    return headers


def agent_headers(plan: Plan, admitted: Admitted) -> dict[str, str]:
    """``x-thinkgate-step`` (kind) and ``-step-index``; ``x-thinkgate-episode`` and, when the episode has a
    budget, ``x-thinkgate-episode-thinking-left`` (what it had left when this step started)."""
    out: dict[str, str] = {}
    step = plan.decision.step if plan.decision is not None else None
    if step is not None and (step.state.tools_offered or step.state.step):
        out["x-thinkgate-step"] = step.kind.value
        out["x-thinkgate-step-index"] = str(step.state.step)
    agent = plan.agent
    episode = None if agent is None else answer_episode(agent, admitted.call, admitted.episode_header)
    if agent is not None and episode is not None:
        out["x-thinkgate-episode"] = episode.id
        if agent.left is not None:
            out["x-thinkgate-episode-thinking-left"] = str(agent.left)
    return out


def record_plan(metrics: GatewayMetrics, plan: Plan, front_door: str) -> None:
    """The metrics of a plan: the decision's (:func:`observe_decision`: its duration and the classifier's
    ``p_think``; left to here by ``plan_call(observe=False)``), ``thinkgate_decisions``,
    ``thinkgate_agent_steps``, when its episode was spent ``thinkgate_episode_budget_spent{action=
    "no_thinking"}`` and, when effort was shed, ``thinkgate_shed``."""
    if plan.decision is None:
        return
    observe_decision(metrics, plan.decision, plan.decided_in)
    metrics.inc(metrics.decisions, (plan.effort, plan.source, front_door))
    if plan.decision.episode_effect == "no_thinking":
        metrics.inc(metrics.episode_spent, ("no_thinking",))
    step = plan.decision.step
    if step is not None:
        metrics.inc(metrics.agent_steps, (step.kind.value, plan.effort))
    if plan.shed is not None:
        before, after = plan.shed.split("->")
        metrics.inc(metrics.shed, (before, after))


async def serve(request: Request, door: FrontDoor) -> Response:
    """Answer ``request`` through the pipeline with ``door``'s parser and writers."""
    episodes: EpisodeLedger = request.app.state.shared.episodes
    try:
        admitted = await admit(request, door)
        a = admitted
        agent = await agent_inputs(
            episodes,
            a.principal.policy.agent or a.state.policy.agent,
            a.call,
            a.episode_header,
            fail_closed=a.state.policy.state.on_redis_error == "closed",
            budget_only=True,  # without a budget the episode only names the answer: found with its headers
        )
        plan = plan_call(a.state, a.call, a.target, a.effort_header, a.caps, agent, observe=False)
    except EpisodeBudgetSpent as exc:
        a.state.metrics.inc(a.state.metrics.episode_spent, ("refused",))
        return door.error(exc)
    except GatewayError as exc:
        return door.error(exc)
    return PipelineResponse(admitted, plan, door, agent, episodes, access_log_for(request))


def _episode_charge(episodes: EpisodeLedger, agent: AgentInputs) -> Callable[[int], None]:
    """Charge a step's reasoning tokens to its episode (in the background)."""
    assert agent.episode is not None
    episode, ttl = agent.episode.id, agent.policy.episodes.ttl_seconds
    return lambda reasoning: episodes.spend_later(episode, reasoning, ttl)


class PipelineResponse(Response):
    """Dispatch and write inside the ASGI response call, where the client's disconnect can be heard; then
    the request's bookkeeping (:meth:`_book`), once, after its last byte."""

    def __init__(
        self,
        admitted: Admitted,
        plan: Plan,
        door: FrontDoor,
        agent: AgentInputs,
        episodes: EpisodeLedger,
        access: AccessLog,
    ) -> None:
        # Response.__init__ is not called: this response builds its messages itself
        self.admitted = admitted
        self.plan = plan
        self.door = door
        self.agent = agent
        self.episodes = episodes
        self.access = access
        self.booked = False
        self.first_at: float | None = None  # perf_counter() when a stream's first bytes were ready
        self.background = None
        self.pool = plan.steps[0].pool.name if plan.steps else ""
        self.served: Dispatched | None = None
        self.watch: DisconnectWatch | None = None
        # The answer's head for the attempt it was built for (``_waiting``): built while the backend works.
        self.head: list[tuple[bytes, bytes]] = []
        self.head_for: tuple[Step, str, int] | None = None
        self.outcome = CLIENT_GONE
        self.usage: Usage | None = None
        self.exchange: Exchange | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = self.watch = DisconnectWatch(receive, deferred=True)  # listens from _waiting on
        try:
            async with watch:
                try:
                    await self._run(watch, scope, receive, send)
                finally:
                    if self.exchange is not None:
                        self.exchange.close()  # the backend sees a cancellation at once
        except OSError:  # the server reports a write to a closed connection
            self.outcome = CLIENT_GONE
        if watch.gone:
            self.outcome = CLIENT_GONE
        if self.outcome == CLIENT_GONE and self.exchange is not None:
            self.usage = None
        self._book()

    def _book(self) -> None:
        """Everything counted once per request, after its last byte (on every outcome: ok, client and
        upstream errors, a client that left): the plan's metrics (:func:`record_plan`), a stream's time to
        first token if not yet observed, and the :class:`Ledger` (request and token metrics, quota
        correction, episode charge, access line). Nobody waits for it, so none of it is built before the
        answer goes out (in process, 2026-12-07: see benchmarks/RESULTS.md, "answer side")."""
        if self.booked:
            return
        self.booked = True
        a, plan, door = self.admitted, self.plan, self.door
        metrics = a.state.metrics
        record_plan(metrics, plan, door.name)
        self._ttft()
        access = self.access
        trace = access.trace(
            request_id=a.request_id,
            endpoint=door.name,
            model=a.call.model,
            decision=plan.decision,
            start=a.start,
            prompt=prompt_text(a.call.body) if access.settings.text else None,
        )
        notes = self._served_notes()
        if notes:
            trace.record.extra["warnings"] = list(notes)
        if self.served is not None:
            chain = failover_chain(plan.pools, self.pool)
            if chain is not None:
                metrics.inc(metrics.failovers, (chain[0], self.pool))
            if self.served.step.notes:
                metrics.inc(metrics.render_warnings, (self.pool,), len(self.served.step.notes))
        agent = self.agent
        Ledger(
            metrics=metrics,
            endpoint=door.name,
            model=a.target.name,  # an alias is counted as what it names (policy names only: bounded labels)
            effort=plan.effort,
            source=plan.source,
            start=a.start,
            grant=a.grant,
            trace=trace,
            step=plan.decision.step.kind.value if plan.decision is not None and plan.decision.step else None,
            episode=_episode_charge(self.episodes, agent) if agent.left is not None else None,
        ).finish(self.pool, self.outcome, self.usage)

    def _ttft(self) -> None:
        """Observe the stream's time to first token once (the time was taken before its first send)."""
        if self.first_at is not None:
            m = self.admitted.state.metrics
            m.observe(m.ttft_seconds, (self.plan.effort, self.pool), self.first_at - self.admitted.start)
            self.first_at = None

    def _served_notes(self) -> tuple[str, ...]:
        for step in self.plan.steps:
            if step.pool.name == self.pool:
                return step.notes
        return ()

    def answer_headers(self, served: tuple[Step, str, int] | None) -> dict[str, str]:
        """The headers every answer of this request carries (:func:`plan_headers`, the front door) and, once
        an attempt was sent (``served``: its step, endpoint and attempt number), the routing headers."""
        headers = plan_headers(self.admitted, self.plan)
        headers["x-thinkgate-front-door"] = self.door.name
        if served is None:
            return headers
        step, endpoint, attempts = served
        pool = step.pool.name
        headers["x-thinkgate-backend"] = pool
        headers["x-thinkgate-attempts"] = str(attempts)
        headers["x-thinkgate-endpoint"] = endpoint
        chain = failover_chain(self.plan.pools, pool)
        if chain is not None:
            headers["x-thinkgate-failover"] = "->".join(chain)
        rendered = step.rendered
        if rendered is not None and (step.forcing or rendered.applied_effort != self.plan.effort):
            headers["x-thinkgate-applied-effort"] = rendered.applied_effort
        if step.forcing:
            headers["x-thinkgate-budget-mode"] = "forcing"
        if step.notes:
            headers["x-thinkgate-warnings"] = warnings_header(step.notes)
        return headers

    def _waiting(self, step: Step, endpoint: str, attempts: int) -> None:
        """This attempt waits for the backend (its request is written, as a rule): start listening for the
        client's disconnect and build the answer's head now, while the backend works, instead of before the
        upstream write and after its answer (at one connection the wait for the backend is idle time of this
        worker; the head is ~16 headers, their dict and their Latin-1 bytes)."""
        if self.watch is not None:
            self.watch.listen()
        self.head_for = (step, endpoint, attempts)
        self.head = raw_headers(self.answer_headers(self.head_for))
        if self.admitted.call.stream:
            self.head += STREAM_HEAD

    async def _error(
        self,
        exc: GatewayError,
        served: tuple[Step, str, int] | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        headers = self.answer_headers(served)
        exc.headers.update({k: v for k, v in headers.items() if k not in exc.headers})
        await self.door.error(exc)(scope, receive, send)

    def _served(self, d: Dispatched) -> tuple[Step, str, int]:
        """The step that answered; the answer's head built for it, unless :meth:`_waiting` did already."""
        self.served = d
        self.pool = d.step.pool.name
        served = (d.step, d.endpoint, d.attempts)
        head_for = self.head_for
        if head_for is None or head_for[0] is not d.step or head_for[1:] != served[1:]:
            self._waiting(*served)  # not reported by the attempt that answered (not expected)
        return served

    async def _run(self, watch: DisconnectWatch, scope: Scope, receive: Receive, send: Send) -> None:
        a, call = self.admitted, self.admitted.call
        state = a.state
        try:
            d = await dispatch(
                self.plan.steps,
                call,
                request_id=a.request_id,
                session=a.session,
                max_attempts=state.settings.max_attempts,
                metrics=state.metrics,
                counter_for=lambda pool: state.reasoning_counter(pool) if call.decided else None,
                waiting=self._waiting,
            )
        except GatewayError as exc:
            self.outcome = UPSTREAM_ERROR if exc.status >= 500 else CLIENT_ERROR
            watch.closing = True
            await self._error(exc, None, scope, receive, send)
            return
        served = self._served(d)
        if d.rejected is not None:
            self.outcome = CLIENT_ERROR
            watch.closing = True
            await self._error(d.rejected, served, scope, receive, send)
            return
        assert d.exchange is not None
        self.exchange = d.exchange
        if call.stream:
            await self._stream(d.exchange, d, watch, send)
        else:
            await self._answer(d.exchange, served, watch, scope, receive, send)

    async def _answer(
        self,
        ex: Exchange,
        served: tuple[Step, str, int],
        watch: DisconnectWatch,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """The whole answer in one body message. The exchange stays open until after it (``__call__``
        closes it): giving back its connection, lease and in-flight gauge is nothing the client waits for."""
        metrics = self.admitted.state.metrics
        try:
            data = await ex.answer()
        except UpstreamFailure as failure:
            step = served[0]
            book_failure(step.pool, ex.lease.endpoint, metrics, failure.kind)
            self.outcome = UPSTREAM_ERROR
            watch.closing = True
            await self._error(failure_error(step.pool, failure), served, scope, receive, send)
            return
        except GatewayError as exc:
            self.outcome = UPSTREAM_ERROR
            watch.closing = True
            await self._error(exc, served, scope, receive, send)
            return
        call = self.admitted.call
        body = self.door.answer(data, call)
        if call.settle is not None:
            ex.close()  # the backend's part is done: its lease does not wait for the settling
            await call.settle()
        watch.closing = True
        # the messages Starlette's Response(body, media_type="application/json") sends, without building one
        raw = self.head.copy()
        if ex.reports_budget_hit():
            usage = self.usage = ex.usage()
            if usage is not None:
                raw.append((b"x-thinkgate-budget-hit", b"true" if usage.budget_hit else b"false"))
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        raw.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": body})
        self.outcome = OK
        if self.usage is None:
            self.usage = ex.usage()

    async def _stream(self, ex: Exchange, d: Dispatched, watch: DisconnectWatch, send: Send) -> None:
        call: Call = self.admitted.call
        pool = d.step.pool
        await send({"type": "http.response.start", "status": 200, "headers": self.head})
        writer = self.door.stream(call)
        first = True
        # The bytes of the upstream's last read go out with the stream's end in one message when nothing
        # runs between them (no settle): one socket write and one chunk frame less per stream (uvicorn
        # writes every body message at once).
        held = b""
        try:
            async with contextlib.aclosing(ex.chunks()) as chunks:
                async for batch in chunks:
                    data = writer.chunks(batch)
                    if data:
                        if first:
                            first = False
                            self.first_at = time.perf_counter()
                        if call.settle is None and ex.finished():
                            held = data
                        else:
                            await send({"type": "http.response.body", "body": data, "more_body": True})
                            self._ttft()  # observed after the send: the client does not wait for it
            pool.record_success(ex.lease.endpoint)
            outcome, tail = OK, writer.end()
            if call.settle is not None:
                await call.settle()
        except UpstreamFailure as failure:
            book_failure(pool, ex.lease.endpoint, self.admitted.state.metrics, failure.kind)
            outcome, tail = UPSTREAM_ERROR, writer.failed(failure.message, failure.kind) + writer.end()
        watch.closing = True
        await send({"type": "http.response.body", "body": held + tail, "more_body": False})
        self.outcome = outcome
        self.usage = ex.usage()
        ex.close()
