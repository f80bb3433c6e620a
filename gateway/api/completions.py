"""``POST /v1/completions``: a pass-through to the pool the model names (raw prompts are not re-decided)."""

from __future__ import annotations

import time

import orjson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from gateway.api.common import after_response, gateway_state, read_body, request_id
from gateway.errors import UpstreamError
from gateway.limits import admit_request
from gateway.protocol import parse_json_object, validate_completion
from gateway.proxy.dispatch import open_upstream
from gateway.proxy.normalize import UsageTally, normalize_completion
from gateway.proxy.relay import relay_stream
from gateway.proxy.respond import error_passthrough, read_json_object


async def completions(request: Request) -> Response:
    state = gateway_state(request)
    start = time.perf_counter()
    rid = request_id(request)
    principal = state.keys.authenticate(request.headers.get("authorization"))
    body = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    req = validate_completion(body)
    target = state.target(req.model, principal.policy.models)
    principal.check_model(req.model, target.virtual)
    grant = await admit_request(request, principal.key_name, principal.tenant, body)  # limits (issue 6)
    names = target.instruct or target.thinking
    plan = [state.pools[n] for n in names]
    headers = {"x-request-id": rid, "x-thinkgate-source": "passthrough", **grant.headers}

    def render(pool: object) -> bytes:
        out = dict(body)
        out["model"] = getattr(pool, "spec").model  # noqa: B009 - Pool, typed loosely for the callback
        if req.stream:
            opts = dict(out.get("stream_options") or {})
            opts["include_usage"] = True
            out["stream_options"] = opts
        return orjson.dumps(out)

    def count(pool: str, outcome: str) -> None:
        state.metrics.requests.labels(
            "completions", req.model, "passthrough", "passthrough", pool, outcome
        ).inc()
        state.metrics.request_seconds.labels("completions", "passthrough", pool).observe(
            time.perf_counter() - start
        )

    try:
        opened = await open_upstream(
            plan,
            "/v1/completions",
            render,
            {"content-type": "application/json", "x-request-id": rid},
            stream=req.stream,
            max_attempts=state.settings.max_attempts,
            metrics=state.metrics,
        )
    except UpstreamError as exc:
        exc.headers.update(headers)
        count(plan[0].name, "upstream_error")
        raise
    pool = opened.pool.name
    headers["x-thinkgate-backend"] = pool
    if opened.response.status >= 400:
        return await error_passthrough(opened, state.metrics, headers, count)
    tally = UsageTally()
    if not req.stream:
        data = await read_json_object(opened, state.metrics, headers, count)
        normalize_completion(data, exclude=False, tally=tally)

        def finish() -> None:
            grant.account(tally.prompt, tally.completion, tally.reasoning)  # limits (issue 6)
            count(pool, "ok")

        return Response(
            orjson.dumps(data),
            media_type="application/json",
            headers=headers,
            background=after_response(finish),
        )
    want_usage = bool(req.stream_options and req.stream_options.include_usage)
    stream = relay_stream(
        opened,
        metrics=state.metrics,
        exclude_reasoning=False,
        want_usage=want_usage,
        tally=tally,
        on_first_chunk=lambda: None,
        on_done=lambda outcome: count(pool, outcome),
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
