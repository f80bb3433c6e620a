"""The OpenAI Responses API: ``POST /v1/responses`` (a front door of the pipeline) and the stored responses
(``GET`` / ``DELETE /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items``).

Only the API key that created a response sees it (another key gets the same 404 as for an unknown id).
The translation lives in :mod:`gateway.responses`; everything between parse and writers is the pipeline's.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.auth import Principal
from gateway.errors import BadRequest, GatewayError, error_response
from gateway.pipeline.door import Call, StreamWriter
from gateway.pipeline.prologue import gateway_state
from gateway.pipeline.serve import serve
from gateway.responses.items import TurnIds
from gateway.responses.keeping import Keeping
from gateway.responses.request import ResponsesRequest, parse_request
from gateway.responses.store import StoredResponse, load_record, not_found
from gateway.responses.turn import Turn, episode_from

router = APIRouter()


def keeping(request: Request) -> Keeping:
    return Keeping(request.app.state.shared.responses, gateway_state(request).metrics)


class ResponsesDoor:
    """The front door: a Responses request in, a Response (JSON) or its typed events (SSE) out."""

    name = "responses"

    def parse(self, body: dict[str, Any]) -> Call:
        ids = TurnIds()
        req = parse_request(body, ids)

        async def resolve(request: Request, principal: Principal) -> Call:
            return self._resolve(req, await Turn.open(req, ids, principal.key_name, keeping(request)))

        # without resolve (a dry run), the Call is the request alone, without its chain
        return Call(
            body=req.chat_body([]),
            model=req.model,
            stream=req.stream,
            want_usage=True,
            resolve=resolve,
            episode=episode_from(req),
        )

    @staticmethod
    def _resolve(req: ResponsesRequest, turn: Turn) -> Call:
        return Call(
            body=turn.chat_body(),
            model=req.model,
            stream=req.stream,
            want_usage=True,
            context=turn,
            settle=turn.settle,
            episode=turn.episode,  # metadata, else the chain's first task (issue 14)
        )

    def answer(self, result: dict[str, Any], call: Call) -> bytes:
        turn: Turn = call.context
        return turn.answer(result)

    def stream(self, call: Call) -> StreamWriter:
        turn: Turn = call.context
        return turn.stream()

    def error(self, exc: GatewayError) -> Response:
        return error_response(
            exc.message, exc.status, param=exc.param, code=exc.code, type=exc.type, headers=exc.headers
        )


DOOR = ResponsesDoor()


async def create_response(request: Request) -> Response:
    return await serve(request, DOOR)


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
