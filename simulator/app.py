"""FastAPI app of the vLLM simulator: OpenAI routes as of `SimConfig.vllm_version`, plus `/sim/*` hooks."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from simulator.config import FaultSettings, SimConfig
from simulator.faults import Fault
from simulator.protocol import DetokenizeRequest, SimError, TokenizeRequest, parse_body
from simulator.serving import Job, SimServing
from simulator.tokenizer import SimTokenizer


def _error_response(exc: SimError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def create_sim_app(config: SimConfig, tokenizer: SimTokenizer | None = None) -> FastAPI:
    """Build one simulator app with its own tokenizer, engine, metrics registry and counters.

    `tokenizer` may be passed to share one loaded tokenizer between several apps in a process.
    """
    serving = SimServing(config, tokenizer or SimTokenizer.load())
    app = FastAPI(
        title="thinkgate vLLM simulator", version=config.vllm_version, docs_url=None, redoc_url=None
    )
    app.state.sim = serving

    @app.exception_handler(SimError)
    async def _sim_error(_: Request, exc: SimError) -> JSONResponse:
        return _error_response(exc)

    async def generation(request: Request, prepare: Callable[[bytes, float], Job]) -> Response:
        arrived = time.monotonic()
        stats = serving.stats
        stats.received += 1
        stats.in_flight += 1
        raw = await request.body()
        serving.recent_bodies.append(raw)  # decoded only when /sim/requests asks
        try:
            job = prepare(raw, arrived)
        except SimError as exc:
            stats.errors += 1
            stats.in_flight -= 1
            return _error_response(exc)
        if job.fault is Fault.ERROR:
            stats.errors += 1
            stats.in_flight -= 1
            serving.metrics.finished("error")
            return JSONResponse(serving.error_fault_body(), status_code=500)
        return serving.respond(job)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await generation(request, lambda raw, t: serving.prepare_chat(serving.parse_chat(raw), t))

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await generation(
            request, lambda raw, t: serving.prepare_completion(serving.parse_completion(raw), t)
        )

    @app.post("/tokenize")
    async def tokenize(request: Request) -> JSONResponse:
        return JSONResponse(serving.tokenize(parse_body(TokenizeRequest, await request.body())))

    @app.post("/detokenize")
    async def detokenize(request: Request) -> JSONResponse:
        req = parse_body(DetokenizeRequest, await request.body())
        serving.check_model(req.model)
        ids = serving.validated_ids(req.tokens)
        return JSONResponse({"prompt": serving.tokenizer.decode(ids, skip_special_tokens=False)})

    @app.get("/v1/models")
    async def models() -> JSONResponse:
        return JSONResponse(serving.models())

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/version")
    async def version() -> JSONResponse:
        return JSONResponse({"version": config.vllm_version})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(serving.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/sim/stats")
    async def sim_stats() -> JSONResponse:
        return JSONResponse(serving.stats.as_dict())

    @app.get("/sim/requests")
    async def sim_requests() -> JSONResponse:
        """The JSON bodies of the latest generation requests, oldest first (``null``: not JSON)."""
        out = []
        for raw in serving.recent_bodies:
            try:
                out.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                out.append(None)
        return JSONResponse(out)

    @app.get("/sim/cancellations")
    async def sim_cancellations() -> JSONResponse:
        """Wall-clock times (``time.time()``) at which the latest client disconnects were seen."""
        return JSONResponse(list(serving.cancelled_at))

    @app.get("/sim/faults")
    async def get_faults() -> JSONResponse:
        return JSONResponse(serving.faults.settings.model_dump())

    @app.post("/sim/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            update = orjson.loads(await request.body())
            if not isinstance(update, dict):
                raise SimError(400, "Request body must be a JSON object")
            merged = {**serving.faults.settings.model_dump(), **update}
            serving.faults.settings = FaultSettings.model_validate(merged)
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise SimError(400, f"invalid fault settings: {exc}") from exc
        return JSONResponse(serving.faults.settings.model_dump())

    return app
