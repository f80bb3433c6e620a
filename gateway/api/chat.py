"""``POST /v1/chat/completions``: decide the effort, render for the pool, relay the answer."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from gateway.api.common import after_response, decision_headers, gateway_state, read_body, request_id
from gateway.api.forced import forced_chat
from gateway.errors import BadRequest, UpstreamError
from gateway.limits import admit_request, merge_caps
from gateway.logs import access_trace
from gateway.protocol import parse_json_object, validate_chat
from gateway.proxy.accounting import fill_completion
from gateway.proxy.dispatch import open_upstream
from gateway.proxy.normalize import UsageTally, normalize_completion
from gateway.proxy.relay import relay_stream
from gateway.proxy.respond import error_passthrough, read_json_object
from gateway.render import render_chat
from gateway.state import GatewayState, session_of
from router.decide import Caps, decide
from router.decision import Decision
from router.signals import SignalConflict, SignalError, reasoning_excluded


def make_decision(
    state: GatewayState, body: dict[str, Any], model: str, header: str | None, caps: Caps | None = None
) -> Decision:
    target = state.target(model)
    messages = body["messages"]
    tools = bool(body.get("tools"))
    began = time.perf_counter()
    try:
        decision = decide(
            body,
            model=model,
            header_effort=header,
            fixed_effort=target.fixed_effort,
            allow_client_effort=target.allow_client_effort,
            budgets=state.policy.budgets,
            classify=lambda: state.classify(messages, tools),
            on_classifier_error=state.policy.classifier.on_error,
            caps=caps,
        )
    except SignalConflict as exc:
        raise BadRequest(str(exc), param=exc.param, code="conflicting_thinking_signals") from None
    except SignalError as exc:
        raise BadRequest(str(exc), param=exc.param, code="invalid_thinking_signal") from None
    state.metrics.decision_seconds.observe(time.perf_counter() - began)
    if "p_think" in decision.scores:
        state.metrics.classifier_p_think.observe(decision.scores["p_think"])
    return decision


async def chat_completions(request: Request) -> Response:
    state = gateway_state(request)
    start = time.perf_counter()
    rid = request_id(request)
    principal = state.keys.authenticate(request.headers.get("authorization"))
    body = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    req = validate_chat(body)
    target = state.target(req.model, principal.policy.models)
    principal.check_model(req.model, target.virtual)
    grant = await admit_request(request, principal.key_name, principal.tenant, body)  # limits (issue 6)
    caps = merge_caps(principal.caps, grant.caps)
    decision = make_decision(state, body, req.model, request.headers.get("x-thinkgate-effort"), caps)
    # routing (issue 5): effort shedding under load, then the failover chain of (pool, decision) steps
    decision, shed = state.apply_shedding(target, decision)
    steps = state.route(target, decision)
    plan = [step.pool for step in steps]
    effort = decision.effort.value
    state.metrics.decisions.labels(effort, decision.source.value).inc()
    headers = decision_headers(decision, rid)
    headers.update(grant.headers)  # x-ratelimit-*, x-thinkgate-quota (issue 6)
    if shed is not None:
        headers["x-thinkgate-shed"] = shed

    renders = {s.pool.name: render_chat(s.pool, body, s.decision, stream=req.stream) for s in steps}
    exclude = reasoning_excluded(body)
    want_usage = bool(req.stream_options and req.stream_options.include_usage)
    trace = access_trace(request, decision, body, start)  # access log: one JSON line per request

    @trace.counts
    def count(pool: str, outcome: str) -> None:
        state.metrics.requests.labels("chat", req.model, effort, decision.source.value, pool, outcome).inc()
        state.metrics.request_seconds.labels("chat", effort, pool).observe(time.perf_counter() - start)

    @trace.tokens
    def record(prompt: int, completion: int, reasoning: int, hit: bool) -> None:
        state.metrics.tokens.labels(effort, "prompt").inc(prompt)
        state.metrics.tokens.labels(effort, "completion").inc(completion)
        state.metrics.tokens.labels(effort, "reasoning").inc(reasoning)
        if hit:
            state.metrics.budget_hits.labels(effort).inc()
        grant.account(prompt, completion, reasoning)  # limits (issue 6): actual usage, thinking quota

    first = renders[plan[0].name]
    if first.thinking and first.forcing_budget is not None:
        forced = [(p, renders[p.name]) for p in plan if renders[p.name].forcing_budget is not None]
        headers["x-thinkgate-applied-effort"] = first.applied_effort
        return await forced_chat(
            state, forced, body, headers, rid=rid, stream=req.stream, want_usage=want_usage, exclude=exclude,
            count=count, record=record, session=session_of(request.headers.get("x-session-id"), body),
        )  # fmt: skip
    native = [p for p in plan if renders[p.name].forcing_budget is None or not renders[p.name].thinking]
    upstream_headers = {"content-type": "application/json", "x-request-id": rid}

    try:
        opened = await open_upstream(
            native,
            "/v1/chat/completions",
            lambda pool: renders[pool.name].body,
            upstream_headers,
            stream=req.stream,
            max_attempts=state.settings.max_attempts,
            metrics=state.metrics,
            session=session_of(request.headers.get("x-session-id"), body),
        )
    except UpstreamError as exc:
        exc.headers.update(headers)
        count(plan[0].name, "upstream_error")
        raise
    pool = opened.pool.name
    headers["x-thinkgate-backend"] = pool
    headers["x-thinkgate-attempts"] = str(opened.attempts)
    headers.update(state.routing_headers(plan, opened.pool, opened.endpoint.url))  # routing (issue 5)
    rendered = renders[pool]
    if rendered.applied_effort != effort:
        headers["x-thinkgate-applied-effort"] = rendered.applied_effort

    if opened.response.status >= 400:
        return await error_passthrough(opened, state.metrics, headers, count)

    tally = UsageTally()
    if not req.stream:
        data = await read_json_object(opened, state.metrics, headers, count)
        await fill_completion(data, state.reasoning_counter(opened.pool))
        normalize_completion(data, exclude=exclude, tally=tally)
        hit = tally.seen and rendered.budget_hit(tally.reasoning)
        if rendered.native_budget is not None and tally.seen:
            headers["x-thinkgate-budget-hit"] = "true" if hit else "false"

        def finish() -> None:
            record(tally.prompt, tally.completion, tally.reasoning, hit)
            count(pool, "ok")

        return Response(
            orjson.dumps(data),
            media_type="application/json",
            headers=headers,
            background=after_response(finish),
        )

    def first_chunk() -> None:
        state.metrics.ttft_seconds.labels(effort, pool).observe(time.perf_counter() - start)

    def done(outcome: str) -> None:
        if tally.seen:
            record(tally.prompt, tally.completion, tally.reasoning, rendered.budget_hit(tally.reasoning))
        count(pool, outcome)

    stream = relay_stream(
        opened,
        metrics=state.metrics,
        exclude_reasoning=exclude,
        want_usage=want_usage,
        tally=tally,
        on_first_chunk=first_chunk,
        on_done=done,
        counter=state.reasoning_counter(opened.pool),
    )
    headers["cache-control"] = "no-cache"
    headers["x-accel-buffering"] = "no"
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
