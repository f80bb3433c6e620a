"""``GET /openapi.json``: the document of every public operation (:mod:`gateway.openapi.operations`)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.openapi.document import build_document
from gateway.openapi.operations import OPERATIONS

router = APIRouter()


@router.get("/openapi.json")
async def openapi(request: Request) -> Response:
    body: bytes | None = getattr(request.app.state, "openapi_body", None)
    if body is None:  # built on first use, once per app
        document = build_document(OPERATIONS, title=request.app.title, version=request.app.version)
        body = orjson.dumps(document)
        request.app.state.openapi_body = body
    return Response(body, media_type="application/json")
