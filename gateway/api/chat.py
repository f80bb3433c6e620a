"""``POST /v1/chat/completions``: the OpenAI chat front door (the internal request is its own body)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from gateway.pipeline.door import CHAT_PATH, Call, OpenAIDoor
from gateway.pipeline.serve import serve
from gateway.protocol import chat_fields


def parse_chat(body: dict[str, Any]) -> Call:
    """A chat-completions body as the internal request (validated; unknown fields pass through)."""
    model, stream, want_usage = chat_fields(body)
    return Call(body=body, model=model, stream=stream, want_usage=want_usage, path=CHAT_PATH)


DOOR = OpenAIDoor("chat", parse_chat)


async def chat_completions(request: Request) -> Response:
    return await serve(request, DOOR)
