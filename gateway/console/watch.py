"""``/console/api/watch``: the Watch view's numbers, read from the gateway's own Prometheus registry.

Counters are totals since start; the page polls and turns successive totals into rates. With several worker
processes this is the answering worker's view (``/metrics`` and Grafana have the sum).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.console.access import require_bearer
from gateway.metrics import GatewayMetrics
from gateway.pipeline.prologue import gateway_state

router = APIRouter()


def _samples(metrics: GatewayMetrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in metrics.registry.collect():
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), float(sample.value)))
    return out


def snapshot(metrics: GatewayMetrics) -> dict[str, Any]:
    """Decisions, tokens, budget hits, shedding, requests and per-endpoint health and load."""
    s = _samples(metrics)
    tokens: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, value in s["thinkgate_tokens_total"]:
        tokens[labels["effort"]][labels["kind"]] = value
    outcomes: dict[str, float] = defaultdict(float)
    for labels, value in s["thinkgate_requests_total"]:
        outcomes[labels["outcome"]] += value
    endpoints: dict[tuple[str, str], dict[str, Any]] = {}
    for metric, field in (
        ("thinkgate_endpoint_up", "up"),
        ("thinkgate_inflight_requests", "inflight"),
        ("thinkgate_endpoint_load_score", "load_score"),
        ("thinkgate_endpoint_time_per_output_token_seconds", "tpot_seconds"),
        ("thinkgate_endpoint_ejections_total", "ejections"),
    ):
        for labels, value in s[metric]:
            key = (labels["pool"], labels["endpoint"])
            endpoints.setdefault(key, {"pool": key[0], "endpoint": key[1]})[field] = value
    return {
        "decisions": [
            {"effort": labels["effort"], "source": labels["source"], "count": value}
            for labels, value in s["thinkgate_decisions_total"]
        ],
        "tokens": tokens,
        "budget_hits": {labels["effort"]: value for labels, value in s["thinkgate_budget_hits_total"]},
        "shedding_level": {labels["pool"]: value for labels, value in s["thinkgate_shedding_level"]},
        "shed": [
            {"from": labels["from_effort"], "to": labels["to_effort"], "count": value}
            for labels, value in s["thinkgate_shed_total"]
        ],
        "requests": dict(outcomes),
        "failovers": sum(value for _, value in s["thinkgate_failovers_total"]),
        "upstream_errors": sum(value for _, value in s["thinkgate_upstream_errors_total"]),
        "endpoints": sorted(endpoints.values(), key=lambda e: (e["pool"], e["endpoint"])),
        "policy_version": next((value for _, value in s["thinkgate_policy_version"]), None),
    }


@router.get("/console/api/watch", include_in_schema=False)
async def watch(request: Request) -> Response:
    require_bearer(request)
    data = snapshot(gateway_state(request).metrics)
    return Response(orjson.dumps(data), media_type="application/json", headers={"cache-control": "no-store"})
