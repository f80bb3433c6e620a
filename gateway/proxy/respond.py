"""Turning an opened upstream exchange into a client response: error passthrough and JSON bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.responses import Response

from gateway.errors import UpstreamError
from gateway.metrics import GatewayMetrics
from gateway.proxy.dispatch import Opened
from gateway.proxy.normalize import upstream_error


async def error_passthrough(
    opened: Opened, metrics: GatewayMetrics, headers: dict[str, str], count: Callable[[str, str], None]
) -> Response:
    """The backend's 4xx, with its envelope normalised (string ``code``, OpenAI ``type``)."""
    raw = await opened.response.read()
    opened.release(metrics)
    envelope, status = upstream_error(opened.response.status, raw, opened.pool.name)
    count(opened.pool.name, "client_error")
    return Response(
        orjson.dumps(envelope), status_code=status, media_type="application/json", headers=headers
    )


async def read_json_object(
    opened: Opened, metrics: GatewayMetrics, headers: dict[str, str], count: Callable[[str, str], None]
) -> dict[str, Any]:
    """The whole upstream body as a JSON object (the endpoint is released either way); else a 502."""
    pool = opened.pool.name
    try:
        raw = await opened.response.read()
    finally:
        opened.release(metrics)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        count(pool, "upstream_error")
        raise UpstreamError(f"backend {pool!r} returned a body that is not a JSON object", headers=headers)
    return data
