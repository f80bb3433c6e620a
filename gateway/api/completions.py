"""``POST /v1/completions``: a pass-through to the pool the model names (raw prompts are not re-decided)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from gateway.pipeline.door import COMPLETIONS_PATH, Call, OpenAIDoor
from gateway.pipeline.serve import serve
from gateway.protocol import validate_completion


def parse_completion(body: dict[str, Any]) -> Call:
    req = validate_completion(body)
    want_usage = bool(req.stream_options and req.stream_options.include_usage)
    return Call(
        body=body,
        model=req.model,
        stream=req.stream,
        want_usage=want_usage,
        path=COMPLETIONS_PATH,
        decided=False,
    )


DOOR = OpenAIDoor("completions", parse_completion)


async def completions(request: Request) -> Response:
    return await serve(request, DOOR)
