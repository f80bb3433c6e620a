"""``/v1/responses/{id}``: read, delete and list the input items of a stored response.

Only the API key that created a response sees it (another key gets the same 404 as for an unknown id).
``POST /v1/responses`` is the Responses front door of the request pipeline (:mod:`gateway.responses`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.errors import BadRequest
from gateway.pipeline.prologue import gateway_state
from gateway.responses.keeping import Keeping
from gateway.responses.store import StoredResponse, load_record, not_found

router = APIRouter()


def keeping(request: Request) -> Keeping:
    return Keeping(request.app.state.shared.responses, gateway_state(request).metrics)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


async def _record(request: Request, response_id: str) -> StoredResponse:
    principal = gateway_state(request).keys.authenticate(request.headers.get("authorization"))
    owner = principal.key_name
    return await keeping(request).read("responses_get", lambda store: load_record(store, response_id, owner))


@router.get("/v1/responses/{response_id}")
async def get_response(request: Request, response_id: str) -> Response:
    if request.query_params.get("stream") in ("true", "1"):
        raise BadRequest(
            "stream=true replays background responses, which thinkgate does not run; omit stream",
            param="stream",
            code="unsupported_parameter",
        )
    record = await _record(request, response_id)
    return _json(record.response)


@router.delete("/v1/responses/{response_id}")
async def delete_response(request: Request, response_id: str) -> Response:
    await _record(request, response_id)  # 404 unless the caller owns it
    store = keeping(request)
    if not await store.read("responses_delete", lambda s: s.delete(response_id)):
        raise not_found(response_id)
    return _json({"id": response_id, "object": "response.deleted", "deleted": True})


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise BadRequest("limit must be an integer from 1 to 100", param="limit")
    return int(raw)


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(request: Request, response_id: str) -> Response:
    """OpenAI's cursor page: ``order`` (``desc`` by default), ``after`` an item id, ``limit`` 1-100."""
    query = request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("order must be asc or desc", param="order")
    limit = _limit(query.get("limit"))
    record = await _record(request, response_id)
    items = list(record.input_items)
    if order == "desc":
        items.reverse()
    after = query.get("after")
    if after is not None:
        position = next((i for i, item in enumerate(items) if item["id"] == after), None)
        if position is None:
            raise BadRequest(f"after: no input item {after!r} in response {response_id!r}", param="after")
        items = items[position + 1 :]
    page = items[:limit]
    return _json(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )
