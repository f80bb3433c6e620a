"""Liveness (``/health``), readiness (``/ready``) and Prometheus (``/metrics``)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from gateway.pipeline.prologue import gateway_state

router = APIRouter()


@router.get("/health")
async def health() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/ready")
async def ready(request: Request) -> Response:
    state = gateway_state(request)
    pools = {name: pool.any_healthy() for name, pool in state.pools.items()}
    ok = any(pools.values())
    body = {"status": "ready" if ok else "unavailable", "policy_loaded": True, "pools": pools}
    return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state = gateway_state(request)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
